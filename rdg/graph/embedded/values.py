"""Gremlin's value semantics in one place: equality (as a hashable key), comparability (for
``P.lt`` and friends) and orderability (for ``order()``), after TinkerPop 3.6+.

>>> key_of(1) == key_of(1.0), key_of(True) == key_of(1)
(True, False)
>>> compare(1, 2.5), compare("a", 1)
(-1, None)
>>> sorted([3, "b", None, 1.5, True], key=order_key)
[None, True, 1.5, 3, 'b']
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from enum import Enum
from functools import cmp_to_key
from typing import Any

from gremlin_python.structure.graph import Edge, Path, Property, Vertex, VertexProperty

__all__ = ["NOTHING", "compare", "equals", "is_number", "key_of", "order_cmp", "order_key", "type_name"]


class _Nothing:
    """What a ``by()`` or a child traversal gives when it produces no value."""

    def __repr__(self) -> str:
        return "NOTHING"


NOTHING: Any = _Nothing()


def is_number(value: Any) -> bool:
    """A Gremlin number (``bool`` is not one)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def key_of(value: Any) -> Any:
    """A hashable key that two values share exactly when Gremlin calls them equal (numbers by
    value across types, collections by content, elements by id).

    >>> key_of([1, {"a": 2.0}]) == key_of([1.0, {"a": 2}])
    True
    """
    if value is None:
        return ("null",)
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int):
        return ("n", value)
    if isinstance(value, float):
        if math.isnan(value):
            return ("nan",)
        return ("n", int(value)) if value.is_integer() else ("n", value)
    if isinstance(value, str):
        return ("s", value)
    if isinstance(value, Vertex):
        return ("v", value.id)
    if isinstance(value, Edge):
        return ("e", value.id)
    if isinstance(value, VertexProperty):
        return ("vp", value.id)
    if isinstance(value, Property):
        return ("p", value.key, key_of(value.value), key_of(value.element))
    if isinstance(value, Path):
        return ("path", tuple(key_of(o) for o in value.objects), tuple(tuple(sorted(ls)) for ls in value.labels))
    if isinstance(value, (list, tuple)):
        return ("l", tuple(key_of(v) for v in value))
    if isinstance(value, (set, frozenset)):
        return ("set", frozenset(key_of(v) for v in value))
    if isinstance(value, dict):
        return ("m", frozenset((key_of(k), key_of(v)) for k, v in value.items()))
    if isinstance(value, Enum):
        return ("enum", type(value).__name__, value.name)
    try:
        hash(value)
    except TypeError:
        return ("o", type(value).__name__, repr(value))
    return ("o", type(value).__name__, value)


def equals(a: Any, b: Any) -> bool:
    """Gremlin equality (``P.eq``): NaN equals nothing, not even NaN."""
    if (isinstance(a, float) and math.isnan(a)) or (isinstance(b, float) and math.isnan(b)):
        return False
    return key_of(a) == key_of(b)


def _family(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if is_number(value):
        return "number"
    if isinstance(value, dt.datetime):
        return "date"
    if isinstance(value, str):
        return "string"
    if isinstance(value, uuid.UUID):
        return "uuid"
    if isinstance(value, Vertex):
        return "vertex"
    if isinstance(value, Edge):
        return "edge"
    if isinstance(value, VertexProperty):
        return "vertexproperty"
    if isinstance(value, Property):
        return "property"
    if isinstance(value, Path):
        return "path"
    if isinstance(value, (set, frozenset)):
        return "set"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, dict):
        return "map"
    return "unknown"


type_name = _family
"""The Gremlin type family of a value (``number``, ``string``, ``vertex``, ...)."""

_ORDER = ["null", "boolean", "number", "date", "string", "uuid", "vertex", "edge", "vertexproperty", "property",
          "path", "set", "list", "map", "unknown"]
_RANK = {name: i for i, name in enumerate(_ORDER)}


def _cmp(a: Any, b: Any) -> int:
    return (a > b) - (a < b)


def compare(a: Any, b: Any) -> int | None:
    """Comparability (``P.lt``/``gt``/...): -1, 0 or 1, or ``None`` when Gremlin says the two
    cannot be compared (different types, null, NaN); a predicate over ``None`` is false."""
    fa, fb = _family(a), _family(b)
    if fa != fb or fa in ("null", "unknown"):
        return None
    if fa == "number":
        if (isinstance(a, float) and math.isnan(a)) or (isinstance(b, float) and math.isnan(b)):
            return None
        return _cmp(a, b)
    if fa in ("boolean", "string", "date", "uuid"):
        return _cmp(a, b) if fa != "uuid" else _cmp(str(a), str(b))
    if fa in ("vertex", "edge", "vertexproperty"):
        return None
    if fa in ("list", "path"):
        xs = list(a.objects) if fa == "path" else list(a)
        ys = list(b.objects) if fa == "path" else list(b)
        for x, y in zip(xs, ys):
            c = compare(x, y)
            if c is None or c != 0:
                return c
        return _cmp(len(xs), len(ys))
    return None


def order_cmp(a: Any, b: Any) -> int:
    """Orderability (``order()``): a total order over every value, types first (null < boolean <
    number < date < string < uuid < vertex < edge < vertex property < property < path < set <
    list < map), NaN after every other number."""
    fa, fb = _family(a), _family(b)
    if fa != fb:
        return _cmp(_RANK[fa], _RANK[fb])
    if fa == "null":
        return 0
    if fa == "number":
        an, bn = isinstance(a, float) and math.isnan(a), isinstance(b, float) and math.isnan(b)
        if an or bn:
            return _cmp(an, bn)
        return _cmp(a, b)
    if fa in ("boolean", "string", "date"):
        return _cmp(a, b)
    if fa == "uuid":
        return _cmp(str(a), str(b))
    if fa in ("vertex", "edge", "vertexproperty"):
        return order_cmp(a.id, b.id)
    if fa == "property":
        return order_cmp(a.key, b.key) or order_cmp(a.value, b.value)
    if fa in ("list", "path"):
        xs = list(a.objects) if fa == "path" else list(a)
        ys = list(b.objects) if fa == "path" else list(b)
        for x, y in zip(xs, ys):
            c = order_cmp(x, y)
            if c:
                return c
        return _cmp(len(xs), len(ys))
    if fa == "set":
        return order_cmp(sorted(a, key=order_key), sorted(b, key=order_key))
    if fa == "map":
        xs = sorted(a.items(), key=lambda kv: order_key(kv[0]))
        ys = sorted(b.items(), key=lambda kv: order_key(kv[0]))
        for (k1, v1), (k2, v2) in zip(xs, ys):
            c = order_cmp(k1, k2) or order_cmp(v1, v2)
            if c:
                return c
        return _cmp(len(xs), len(ys))
    return _cmp(str(a), str(b))


order_key = cmp_to_key(order_cmp)
"""A ``sorted()`` key for :func:`order_cmp`."""
