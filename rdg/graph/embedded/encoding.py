"""How the embedded graph stores a property value: a ``kind`` tag and a SQLite column value,
so ``1``, ``1.0``, ``True`` and ``"1"`` stay four different values (``i`` integer, ``f``
double, ``s`` string, ``b`` boolean, ``t`` date, ``j`` tagged JSON for lists, sets, maps, big
integers, UUIDs, decimals and bytes).

>>> encode(True), encode(2), encode(2.0), encode("x"), encode([1])
(('b', 1), ('i', 2), ('f', 2.0), ('s', 'x'), ('j', '{"l": [1]}'))
>>> decode(*encode({"a": [1, 2.5]}))
{'a': [1, 2.5]}
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import math
import uuid
from typing import Any

from rdg.graph.embedded.errors import TraversalError, unsupported

__all__ = ["INT64", "decode", "encode", "kinds_equal_to"]

INT64 = 2 ** 63
"""Integers in ``[-INT64, INT64)`` are SQLite integers; bigger ones are tagged JSON."""


# -- values --------------------------------------------------------------------------------------
def _tag(value: Any) -> Any:
    """A JSON form of a value that keeps its type."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value if -INT64 <= value < INT64 else {"I": str(value)}
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return {"F": repr(value)}
        return {"f": value}
    if isinstance(value, (list, tuple)):
        return {"l": [_tag(v) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {"S": [_tag(v) for v in value]}
    if isinstance(value, dict):
        return {"m": [[_tag(k), _tag(v)] for k, v in value.items()]}
    if isinstance(value, dt.datetime):
        return {"t": _iso(value)}
    if isinstance(value, uuid.UUID):
        return {"u": str(value)}
    if isinstance(value, decimal.Decimal):
        return {"D": str(value)}
    if isinstance(value, (bytes, bytearray)):
        return {"B": base64.b64encode(bytes(value)).decode()}
    raise unsupported(f"a property value of type {type(value).__name__}")


def _untag(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    (tag, inner), = value.items()
    if tag == "I":
        return int(inner)
    if tag in ("f", "F"):
        return float(inner)
    if tag == "l":
        return [_untag(v) for v in inner]
    if tag == "S":
        return {_hashable(_untag(v)) for v in inner}
    if tag == "m":
        return {_hashable(_untag(k)): _untag(v) for k, v in inner}
    if tag == "t":
        return dt.datetime.fromisoformat(inner)
    if tag == "u":
        return uuid.UUID(inner)
    if tag == "D":
        return decimal.Decimal(inner)
    if tag == "B":
        return base64.b64decode(inner)
    raise TraversalError(f"unknown stored value tag {tag!r}")


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, set):
        return frozenset(value)
    if isinstance(value, dict):
        return tuple(sorted(value.items(), key=repr))
    return value


def _iso(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).isoformat()


def encode(value: Any) -> tuple[str, Any]:
    """``(kind, column value)`` for a property value."""
    if isinstance(value, bool):
        return "b", int(value)
    if isinstance(value, int):
        return ("i", value) if -INT64 <= value < INT64 else ("j", json.dumps(_tag(value)))
    if isinstance(value, float):
        return ("f", value) if not math.isnan(value) else ("f", None)
    if isinstance(value, str):
        return "s", value
    if isinstance(value, dt.datetime):
        return "t", _iso(value)
    return "j", json.dumps(_tag(value), sort_keys=True)


def decode(kind: str, value: Any) -> Any:
    """The value :func:`encode` stored."""
    if kind == "s" or kind == "i":
        return value
    if kind == "f":
        return float("nan") if value is None else float(value)
    if kind == "b":
        return bool(value)
    if kind == "t":
        return dt.datetime.fromisoformat(value)
    return _untag(json.loads(value))


def kinds_equal_to(value: Any) -> tuple[str, ...]:
    """The stored kinds a lookup for ``value`` must consider (numbers match across int/double)."""
    if isinstance(value, bool):
        return ("b",)
    if isinstance(value, (int, float)):
        return ("i", "f") if not (isinstance(value, int) and not -INT64 <= value < INT64) else ("j",)
    if isinstance(value, str):
        return ("s",)
    if isinstance(value, dt.datetime):
        return ("t",)
    return ("j",)
