"""Gremlin's value semantics in one place, after TinkerPop 3.6+ (``GremlinValueComparator``):

- **equality** (``P.eq``/``neq``/``within``): :func:`equals`, never an error; NaN equals nothing,
  null equals null, numbers compare by value across types, other types never equal each other;
- **comparability** (``P.lt`` and friends): :func:`compare`, ``None`` for Gremlin's ERROR (NaN,
  two different types, null against a non-null);
- **orderability** (``order()``): :func:`order_cmp`, a total order over every value;
- hashing: :func:`key_of` (a key for Gremlin equality) and :func:`hash_key` (a key for the
  equality Java's hash sets use: ``dedup()``, ``simplePath()``, where ``1`` and ``1.0`` differ).

>>> equals(1, 1.0), equals(True, 1), equals(None, None), equals(float("nan"), float("nan"))
(True, False, True, False)
>>> compare(1, 2.5), compare("a", 1), compare(None, None), compare([1, 2], [1, 3])
(-1, None, 0, -1)
>>> sorted([3, "b", None, 1.5, True], key=order_key)
[None, True, 1.5, 3, 'b']
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import uuid
from enum import Enum
from functools import cmp_to_key
from typing import Any, Callable

from gremlin_python.structure.graph import Edge, Path, Property, Vertex, VertexProperty

__all__ = ["NOTHING", "compare", "equals", "hash_key", "is_nan", "is_number", "key_of", "order_cmp", "order_key",
           "type_name"]


class _Nothing:
    """What a ``by()`` or a child traversal gives when it produces no value."""

    def __repr__(self) -> str:
        return "NOTHING"


NOTHING: Any = _Nothing()


class _Incomparable(Exception):
    """Comparability's ERROR, raised inside this module only (:func:`compare` returns ``None``)."""


def is_number(value: Any) -> bool:
    """A Gremlin number (``bool`` is not one)."""
    return isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool)


def is_nan(value: Any) -> bool:
    """A NaN number (float or decimal)."""
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, decimal.Decimal) and value.is_nan()


def _is_entry(value: Any) -> bool:
    # MapEntry lives in traversal.py (which imports this module): known by its class name
    return isinstance(value, dict) and type(value).__name__ == "MapEntry"


def _family(value: Any) -> str:
    """Gremlin's type space of ``value``, in the order TinkerPop looks types up."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if is_number(value):
        return "number"
    if isinstance(value, (dt.datetime, dt.date)):
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
    if _is_entry(value):
        return "mapentry"
    if isinstance(value, dict):
        return "map"
    return "unknown"


type_name = _family
"""The Gremlin type family of a value (``number``, ``string``, ``vertex``, ...)."""

_ORDER = ["null", "boolean", "number", "date", "string", "uuid", "vertex", "edge", "vertexproperty", "property",
          "path", "set", "list", "map", "mapentry", "unknown"]
_RANK = {name: i for i, name in enumerate(_ORDER)}

Cmp = Callable[[Any, Any], int]


def _cmp(a: Any, b: Any) -> int:
    return (a > b) - (a < b)


def _signed64(n: int) -> int:
    return n - (1 << 64) if n >= (1 << 63) else n


def _uuid_cmp(a: uuid.UUID, b: uuid.UUID) -> int:
    """Java's ``UUID.compareTo``: the two halves as signed longs."""
    return (_cmp(_signed64(a.int >> 64), _signed64(b.int >> 64))
            or _cmp(_signed64(a.int & ((1 << 64) - 1)), _signed64(b.int & ((1 << 64) - 1))))


def _number_cmp(a: Any, b: Any) -> int:
    """Numbers by value; NaN after every other number (only orderability gets here with NaN)."""
    an, bn = is_nan(a), is_nan(b)
    if an or bn:
        return _cmp(an, bn)
    return _cmp(a, b)


def _items(value: Any) -> list[Any]:
    return list(value.objects) if isinstance(value, Path) else list(value)


def _sequence_cmp(xs: list[Any], ys: list[Any], rec: Cmp) -> int:
    for x, y in zip(xs, ys):
        c = rec(x, y)
        if c:
            return c
    return _cmp(len(xs), len(ys))


def _entry_cmp(a: tuple[Any, Any], b: tuple[Any, Any], rec: Cmp) -> int:
    return rec(a[0], b[0]) or rec(a[1], b[1])


def _entries(value: dict) -> list[tuple[Any, Any]]:
    """A map's entries sorted by orderability (key, then value)."""
    return sorted(value.items(), key=cmp_to_key(lambda x, y: _entry_cmp(x, y, order_cmp)))


def _unknown_cmp(a: Any, b: Any, *, strict: bool) -> int:
    try:
        if isinstance(a, type(b)) or isinstance(b, type(a)):
            return _cmp(a, b)
    except TypeError:
        pass
    if a == b:
        return 0
    if strict:
        raise _Incomparable()
    return _cmp(type(a).__name__, type(b).__name__) or _cmp(str(a), str(b))


def _same_family_cmp(family: str, a: Any, b: Any, rec: Cmp, *, strict: bool) -> int:
    """Compare two values of one family; ``rec`` compares what they hold (comparability or
    orderability); ``strict`` raises :class:`_Incomparable` for unknown types that do not compare."""
    if family == "null":
        return 0
    if family == "number":
        return _number_cmp(a, b)
    if family in ("boolean", "string", "date"):
        return _cmp(a, b)
    if family == "uuid":
        return _uuid_cmp(a, b)
    if family in ("vertex", "edge", "vertexproperty"):
        return rec(a.id, b.id)
    if family == "property":
        return rec(a.key, b.key) or rec(a.value, b.value)
    if family in ("list", "path"):
        return _sequence_cmp(_items(a), _items(b), rec)
    if family == "set":
        return _sequence_cmp(sorted(a, key=order_key), sorted(b, key=order_key), rec)
    if family == "mapentry":
        return _entry_cmp((a.key, a.value), (b.key, b.value), rec)
    if family == "map":
        xs, ys = _entries(a), _entries(b)
        for x, y in zip(xs, ys):
            c = _entry_cmp(x, y, rec)
            if c:
                return c
        return _cmp(len(xs), len(ys))
    return _unknown_cmp(a, b, strict=strict)


def _comparability(a: Any, b: Any) -> int:
    """Comparability, raising :class:`_Incomparable` for Gremlin's ERROR."""
    if is_nan(a) or is_nan(b):
        raise _Incomparable()
    fa, fb = _family(a), _family(b)
    if fa != fb:
        raise _Incomparable()
    return _same_family_cmp(fa, a, b, _comparability, strict=True)


def compare(a: Any, b: Any) -> int | None:
    """Comparability (``P.lt``/``gt``/...): -1, 0 or 1, or ``None`` when Gremlin says the two
    cannot be compared (NaN, different types, null against a non-null); a predicate over
    ``None`` is an ERROR.

    >>> compare(None, None), compare(None, 1), compare(float("nan"), 1.0), compare({1, 2}, {2, 1.0})
    (0, None, None, 0)
    """
    try:
        return _comparability(a, b)
    except _Incomparable:
        return None


def _size(value: Any) -> int | None:
    if isinstance(value, Path):
        return len(value.objects)
    if isinstance(value, (list, tuple, set, frozenset)):
        return len(value)
    return None


def equals(a: Any, b: Any) -> bool:
    """Gremlin equality (``P.eq``): never an error. NaN equals nothing, not even NaN; null
    equals null only; numbers equal by value; values of two types are never equal; collections
    equal item by item (a NaN or a type mismatch inside makes them unequal).

    >>> equals([1, {"a": 2.0}], [1.0, {"a": 2}]), equals([1], ["1"]), equals(Vertex(1), Vertex(1))
    (True, False, True)
    """
    sa, sb = _size(a), _size(b)
    if sa is not None and sb is not None and sa != sb:
        return False
    try:
        return _comparability(a, b) == 0
    except _Incomparable:
        return False


def order_cmp(a: Any, b: Any) -> int:
    """Orderability (``order()``): a total order over every value, types first (null < boolean <
    number < date < string < uuid < vertex < edge < vertex property < property < path < set <
    list < map < map entry < anything else), NaN after every other number."""
    fa, fb = _family(a), _family(b)
    if fa != fb:
        return _cmp(_RANK[fa], _RANK[fb])
    return _same_family_cmp(fa, a, b, order_cmp, strict=False)


order_key = cmp_to_key(order_cmp)
"""A ``sorted()`` key for :func:`order_cmp`."""


def key_of(value: Any) -> Any:
    """A hashable key that two values share when Gremlin calls them equal (:func:`equals`):
    numbers by value across types, collections by content, elements by id, properties by key
    and value, paths by their objects. (NaN has a key of its own, though it equals nothing.)

    >>> key_of([1, {"a": 2.0}]) == key_of([1.0, {"a": 2}]), key_of(1) == key_of(True)
    (True, False)
    """
    if value is None:
        return ("null",)
    if isinstance(value, bool):
        return ("b", value)
    if is_number(value):
        if is_nan(value):
            return ("nan",)
        try:
            whole = int(value)
        except (OverflowError, ValueError):
            return ("n", float(value))
        return ("n", whole) if value == whole else ("n", float(value))
    if isinstance(value, str):
        return ("s", value)
    if isinstance(value, Vertex):
        return ("v", key_of(value.id))
    if isinstance(value, Edge):
        return ("e", key_of(value.id))
    if isinstance(value, VertexProperty):
        return ("vp", key_of(value.id))
    if isinstance(value, Property):
        return ("p", value.key, key_of(value.value))
    if isinstance(value, Path):
        return ("l", tuple(key_of(o) for o in value.objects))
    if isinstance(value, (list, tuple)):
        return ("l", tuple(key_of(v) for v in value))
    if isinstance(value, (set, frozenset)):
        return ("set", frozenset(key_of(v) for v in value))
    if _is_entry(value):
        return ("entry", key_of(value.key), key_of(value.value))
    if isinstance(value, dict):
        return ("m", frozenset((key_of(k), key_of(v)) for k, v in value.items()))
    return _other_key(value)


def hash_key(value: Any) -> Any:
    """A hashable key for the equality Java's hash sets and maps use (``dedup()``,
    ``simplePath()``): as :func:`key_of`, but an integer and a float are different values
    (``1`` vs ``1.0``), NaN equals NaN, and a path's labels count.

    >>> hash_key(1) == hash_key(1.0), hash_key(float("nan")) == hash_key(float("nan"))
    (False, True)
    """
    if value is None:
        return ("null",)
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int):
        return ("i", value)
    if isinstance(value, float):
        return ("f", "nan") if math.isnan(value) else ("f", value)
    if isinstance(value, decimal.Decimal):
        return ("dec", "nan") if value.is_nan() else ("dec", value)
    if isinstance(value, str):
        return ("s", value)
    if isinstance(value, Vertex):
        return ("v", hash_key(value.id))
    if isinstance(value, Edge):
        return ("e", hash_key(value.id))
    if isinstance(value, VertexProperty):
        return ("vp", hash_key(value.id))
    if isinstance(value, Property):
        return ("p", value.key, hash_key(value.value))
    if isinstance(value, Path):
        return ("path", tuple(hash_key(o) for o in value.objects), tuple(frozenset(ls) for ls in value.labels))
    if isinstance(value, (list, tuple)):
        return ("l", tuple(hash_key(v) for v in value))
    if isinstance(value, (set, frozenset)):
        return ("set", frozenset(hash_key(v) for v in value))
    if _is_entry(value):
        return ("entry", hash_key(value.key), hash_key(value.value))
    if isinstance(value, dict):
        return ("m", frozenset((hash_key(k), hash_key(v)) for k, v in value.items()))
    return _other_key(value)


def _other_key(value: Any) -> Any:
    if isinstance(value, Enum):
        return ("enum", type(value).__name__, value.name)
    try:
        hash(value)
    except TypeError:
        return ("o", type(value).__name__, repr(value))
    return ("o", type(value).__name__, value)
