"""``P`` and ``TextP`` evaluated with Gremlin's ternary logic: a comparison across types (or
with null or NaN) is neither true nor false but an ERROR, which a filter drops and which
``not()`` does not turn into true. ``eq``/``neq``/``within``/``without`` are never an ERROR.

>>> from gremlin_python.process.traversal import P, TextP
>>> holds(P.gt(3), 4), holds(P.gt(3), "x"), holds(P.not_(P.gt(3)), "x"), holds(P.neq(3), "x")
(True, False, False, True)
>>> holds(P.within(1, 2), 2.0), holds(TextP.regex("^ma"), "marko"), test(P.lt(float("nan")).or_(P.gt(0)), 1)
(True, True, True)
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import regex
from gremlin_python.process.traversal import P

from rdg.errors import RdgTimeoutError
from rdg.graph.embedded.errors import TraversalError, unsupported
from rdg.graph.embedded.traversal import resolve
from rdg.graph.embedded.values import compare, equals

__all__ = ["GremlinTypeError", "Ternary", "holds", "leaves", "rebuild", "test", "values_of"]

Ternary = bool | None
"""True, False, or None for Gremlin's ERROR."""


class GremlinTypeError(Exception):
    """An ERROR passed from a filter to the filter around it (``not``, ``and``, ``or``), as
    TinkerPop's ``GremlinTypeErrorException``; never seen outside the steps."""


def _all(results: list[Ternary]) -> Ternary:
    """Ternary AND: false wins over ERROR, ERROR over true."""
    if any(r is False for r in results):
        return False
    return None if any(r is None for r in results) else True


def _any(results: list[Ternary]) -> Ternary:
    """Ternary OR: true wins over ERROR, ERROR over false."""
    if any(r is True for r in results):
        return True
    return None if any(r is None for r in results) else False


def _ordered(check: Callable[[int], bool]) -> Callable[[Any, Any, Any], Ternary]:
    def run(value: Any, arg: Any, _other: Any) -> Ternary:
        c = compare(value, arg)
        return None if c is None else check(c)
    return run


def values_of(arg: Any) -> list[Any]:
    """The values of a ``within``/``without`` argument (a collection, or one value)."""
    if isinstance(arg, (list, tuple, set, frozenset)):
        return [resolve(a) for a in arg]
    if arg is not None and not isinstance(arg, (str, dict)) and hasattr(arg, "__iter__"):
        return list(arg)
    return [resolve(arg)]


def _within(value: Any, arg: Any, _other: Any) -> Ternary:
    return any(equals(value, a) for a in values_of(arg))


def _without(value: Any, arg: Any, _other: Any) -> Ternary:
    return not any(equals(value, a) for a in values_of(arg))


def _lt(v: Any, a: Any) -> Ternary:
    c = compare(v, a)
    return None if c is None else c < 0


def _gt(v: Any, a: Any) -> Ternary:
    c = compare(v, a)
    return None if c is None else c > 0


def _gte(v: Any, a: Any) -> Ternary:
    c = compare(v, a)
    return None if c is None else c >= 0


def _between(value: Any, low: Any, high: Any) -> Ternary:
    return _all([_gte(value, low), _lt(value, high)])


def _inside(value: Any, low: Any, high: Any) -> Ternary:
    return _all([_gt(value, low), _lt(value, high)])


def _outside(value: Any, low: Any, high: Any) -> Ternary:
    return _any([_lt(value, low), _gt(value, high)])


def _text(check: Callable[[str, str], bool], negate: bool = False) -> Callable[[Any, Any, Any], Ternary]:
    def run(value: Any, arg: Any, _other: Any) -> Ternary:
        if value is None or arg is None:
            return None
        if not isinstance(value, str) or not isinstance(arg, str):
            raise TraversalError(f"a text predicate needs strings, not {type(value).__name__} {value!r}")
        return check(value, arg) != negate
    return run


REGEX_SECONDS = 1.0
"""How long one ``regex()`` match may take: a pattern that backtracks without end (``(a+)+$``)
is stopped, not left to hold the query past its own time limit."""


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> Any:
    try:
        return regex.compile(pattern)
    except regex.error as err:
        raise unsupported(f"the regular expression {pattern!r} ({err})") from err


def _regex(value: str, pattern: str) -> bool:
    try:
        return _compiled(pattern).search(value, timeout=REGEX_SECONDS) is not None
    except TimeoutError as err:
        raise RdgTimeoutError(f"the regular expression {pattern[:60]!r} took longer than {REGEX_SECONDS:g} s "
                              "on one value and was stopped",
                              hint="simplify the pattern (no nested repeats such as (a+)+)") from err


_OPS: dict[str, Callable[[Any, Any, Any], Ternary]] = {
    "eq": lambda v, a, _o: equals(v, a),
    "neq": lambda v, a, _o: not equals(v, a),
    "lt": _ordered(lambda c: c < 0), "lte": _ordered(lambda c: c <= 0),
    "gt": _ordered(lambda c: c > 0), "gte": _ordered(lambda c: c >= 0),
    "within": _within, "without": _without,
    "between": _between, "inside": _inside, "outside": _outside,
    "containing": _text(lambda v, a: a in v), "notContaining": _text(lambda v, a: a in v, True),
    "startingWith": _text(lambda v, a: v.startswith(a)),
    "notStartingWith": _text(lambda v, a: v.startswith(a), True),
    "endingWith": _text(lambda v, a: v.endswith(a)), "notEndingWith": _text(lambda v, a: v.endswith(a), True),
    "regex": _text(_regex), "notRegex": _text(_regex, True),
}


def test(p: P, value: Any) -> Ternary:
    """Evaluate ``p`` on ``value``: True, False, or None (Gremlin's ERROR)."""
    op = p.operator
    if op == "and":
        return _all([test(p.value, value), test(p.other, value)])
    if op == "or":
        return _any([test(p.value, value), test(p.other, value)])
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


def leaves(p: P) -> list[P]:
    """The simple predicates inside ``p`` (through ``and``/``or``/``not``), left to right."""
    if p.operator in ("and", "or"):
        return leaves(p.value) + leaves(p.other)
    if p.operator == "not":
        return leaves(p.value)
    return [p]


def rebuild(p: P, replace: Callable[[P], P]) -> P:
    """``p`` with each simple predicate replaced by ``replace(leaf)`` (``and``/``or``/``not`` kept)."""
    if p.operator in ("and", "or"):
        return P(p.operator, rebuild(p.value, replace), rebuild(p.other, replace))
    if p.operator == "not":
        return P("not", rebuild(p.value, replace))
    return replace(p)
