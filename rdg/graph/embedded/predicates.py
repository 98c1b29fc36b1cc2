"""``P`` and ``TextP`` evaluated with Gremlin's ternary logic: a comparison across types (or
with null or NaN) is neither true nor false but an error, which a filter drops and which
``not()`` does not turn into true.

>>> from gremlin_python.process.traversal import P, TextP
>>> holds(P.gt(3), 4), holds(P.gt(3), "x"), holds(P.not_(P.gt(3)), "x")
(True, False, False)
>>> holds(P.within(1, 2), 2.0), holds(TextP.regex("^ma"), "marko")
(True, True)
"""

from __future__ import annotations

import re
from typing import Any, Callable

from gremlin_python.process.traversal import P

from rdg.graph.embedded.errors import unsupported
from rdg.graph.embedded.traversal import resolve
from rdg.graph.embedded.values import compare, equals, key_of

__all__ = ["holds", "test"]

Ternary = bool | None
"""True, False, or None for Gremlin's ERROR."""


def _cmp(check: Callable[[int], bool]) -> Callable[[Any, Any, Any], Ternary]:
    def run(value: Any, arg: Any, _other: Any) -> Ternary:
        c = compare(value, arg)
        return None if c is None else check(c)
    return run


def _values(arg: Any) -> list[Any]:
    if isinstance(arg, (list, tuple, set, frozenset)):
        return [resolve(a) for a in arg]
    return [resolve(arg)]


def _within(value: Any, arg: Any, _other: Any) -> Ternary:
    k = key_of(value)
    return any(key_of(a) == k and equals(a, value) for a in _values(arg)) if arg is not None else value is None


def _without(value: Any, arg: Any, other: Any) -> Ternary:
    found = _within(value, arg, other)
    return None if found is None else not found


def _between(value: Any, low: Any, high: Any) -> Ternary:
    a, b = compare(value, low), compare(value, high)
    return None if a is None or b is None else (a >= 0 and b < 0)


def _inside(value: Any, low: Any, high: Any) -> Ternary:
    a, b = compare(value, low), compare(value, high)
    return None if a is None or b is None else (a > 0 and b < 0)


def _outside(value: Any, low: Any, high: Any) -> Ternary:
    a, b = compare(value, low), compare(value, high)
    return None if a is None or b is None else (a < 0 or b > 0)


def _text(check: Callable[[str, str], bool]) -> Callable[[Any, Any, Any], Ternary]:
    def run(value: Any, arg: Any, _other: Any) -> Ternary:
        if not isinstance(value, str) or not isinstance(arg, str):
            return None
        return check(value, arg)
    return run


def _regex(value: str, pattern: str) -> bool:
    try:
        return re.search(pattern, value) is not None
    except re.error as err:
        raise unsupported(f"the regular expression {pattern!r} ({err})") from err


_OPS: dict[str, Callable[[Any, Any, Any], Ternary]] = {
    "eq": lambda v, a, _o: equals(v, a) if not (v is None and a is None) else True,
    "neq": lambda v, a, _o: not (equals(v, a) if not (v is None and a is None) else True),
    "lt": _cmp(lambda c: c < 0), "lte": _cmp(lambda c: c <= 0),
    "gt": _cmp(lambda c: c > 0), "gte": _cmp(lambda c: c >= 0),
    "within": _within, "without": _without,
    "between": _between, "inside": _inside, "outside": _outside,
    "containing": _text(lambda v, a: a in v), "notContaining": _text(lambda v, a: a not in v),
    "startingWith": _text(lambda v, a: v.startswith(a)), "notStartingWith": _text(lambda v, a: not v.startswith(a)),
    "endingWith": _text(lambda v, a: v.endswith(a)), "notEndingWith": _text(lambda v, a: not v.endswith(a)),
    "regex": _text(_regex), "notRegex": _text(lambda v, a: not _regex(v, a)),
}


def test(p: P, value: Any) -> Ternary:
    """Evaluate ``p`` on ``value``: True, False, or None (Gremlin's ERROR)."""
    op = p.operator
    if op == "and":
        a, b = test(p.value, value), test(p.other, value)
        if a is False or b is False:
            return False
        return None if a is None or b is None else True
    if op == "or":
        a, b = test(p.value, value), test(p.other, value)
        if a is True or b is True:
            return True
        return None if a is None or b is None else False
    if op == "not":
        inner = test(p.value, value)
        return None if inner is None else not inner
    run = _OPS.get(op)
    if run is None:
        raise unsupported(f"the predicate {op}()")
    return run(value, resolve(p.value), resolve(p.other))


def holds(p: P, value: Any) -> bool:
    """Whether ``p`` is true of ``value`` (an ERROR counts as not true)."""
    return test(p, value) is True
