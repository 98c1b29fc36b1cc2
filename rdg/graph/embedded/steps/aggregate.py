"""Reducing steps: ``count``, ``sum``, ``min``, ``max``, ``mean`` and ``fold`` (also
``fold(seed, operator)``), each global (over the whole stream, a barrier) or ``Scope.local``
(over the items of each traverser's collection), with TinkerPop's number rules: integers stay
integers, one double makes the result a double, ``mean`` is always a double; nulls are skipped
and an all-null input gives null; an empty input gives nothing.

>>> add(1, 2), add(1, 2.5), div(7, -2), div(7.0, 2)
(3, 3.5, -3, 3.5)
>>> pick_min([3, None, 1.5, float("nan")]), pick_max(["b", "a"])
(1.5, 'b')
>>> apply_operator(Operator.addAll, {"a": 1}, {"b": 2})
{'a': 1, 'b': 2}
"""

from __future__ import annotations

import copy
import math
from typing import Any, Callable, Iterable, Iterator

from gremlin_python.process.traversal import Operator
from gremlin_python.structure.graph import Path

from rdg.graph.embedded.errors import TraversalError, unsupported
from rdg.graph.embedded.traversal import Compiler, Step, step, split_scope
from rdg.graph.embedded.traverser import Context, Traverser
from rdg.graph.embedded.values import NOTHING, compare, is_number, type_name

__all__ = ["Count", "Fold", "Reduce", "add", "apply_operator", "div", "items_of", "mul", "pick_max", "pick_min",
           "sub"]


# -- numbers -------------------------------------------------------------------------------------
def _number(value: Any, what: str) -> Any:
    if not is_number(value):
        raise TraversalError(f"{what} needs numbers, not {type_name(value)} {value!r}")
    return value


def _widen(a: Any, b: Any, result: Any) -> Any:
    """The result in the wider of the two types (a double when either is one)."""
    return float(result) if isinstance(a, float) or isinstance(b, float) else result


def add(a: Any, b: Any) -> Any:
    """``a + b``; a null ``a`` or ``b`` leaves ``a`` as it is (TinkerPop's NumberHelper)."""
    if a is None or b is None:
        return a
    return _number(a, "a sum") + _number(b, "a sum")


def sub(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return a
    return _number(a, "minus") - _number(b, "minus")


def mul(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return a
    return _number(a, "mult") * _number(b, "mult")


def div(a: Any, b: Any, *, floating: bool = False) -> Any:
    """``a / b``: integers divide to an integer, rounded toward zero (as Java does), unless
    ``floating``; a double division by zero gives an infinity or NaN."""
    if a is None or b is None:
        return a
    _number(a, "div"), _number(b, "div")
    if isinstance(a, int) and isinstance(b, int) and not floating:
        if b == 0:
            raise TraversalError("division by zero")
        q = abs(a) // abs(b)
        return q if (a >= 0) == (b >= 0) else -q
    a, b = float(a), float(b)
    if b == 0.0:
        if a == 0.0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _pick(a: Any, b: Any, want: int, what: str) -> Any:
    """The smaller (``want`` -1) or larger (1) of two values; nulls and NaN lose to anything."""
    if a is None or b is None:
        return b if a is None else a
    if _is_nan(a) or _is_nan(b):
        return b if _is_nan(a) else a
    c = compare(a, b)
    if c is None or type_name(a) not in ("number", "string", "boolean", "date", "uuid"):
        raise TraversalError(f"{what} cannot compare {type_name(a)} {a!r} with {type_name(b)} {b!r}")
    chosen = a if (c <= 0 if want < 0 else c >= 0) else b
    return _widen(a, b, chosen) if is_number(a) and is_number(b) else chosen


def pick_min(values: Iterable[Any]) -> Any:
    """The least value (nulls skipped; None when there are only nulls)."""
    result: Any = None
    for v in values:
        result = _pick(result, v, -1, "min()")
    return result


def pick_max(values: Iterable[Any]) -> Any:
    """The greatest value (nulls skipped; None when there are only nulls)."""
    result: Any = None
    for v in values:
        result = _pick(result, v, 1, "max()")
    return result


def _add_all(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return b if a is None else a
    if isinstance(a, dict) and isinstance(b, dict):
        a.update(b)
        return a
    if isinstance(a, list) and isinstance(b, (list, tuple, set)):
        a.extend(b)
        return a
    if isinstance(a, set) and isinstance(b, (list, tuple, set)):
        a.update(b)
        return a
    raise TraversalError(f"Operator.addAll needs two maps or two collections, not {a!r} and {b!r}")


def _bool_op(both: Callable[[bool, bool], bool]) -> Callable[[Any, Any], Any]:
    def run(a: Any, b: Any) -> Any:
        if a is None or b is None:
            return b if a is None else a
        if not isinstance(a, bool) or not isinstance(b, bool):
            raise TraversalError(f"Operator.and/or need booleans, not {a!r} and {b!r}")
        return both(a, b)
    return run


_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "sum": add, "minus": sub, "mult": mul, "div": div,
    "min": lambda a, b: _pick(a, b, -1, "Operator.min"), "max": lambda a, b: _pick(a, b, 1, "Operator.max"),
    "assign": lambda a, b: b, "and": _bool_op(lambda a, b: a and b), "or": _bool_op(lambda a, b: a or b),
    "addAll": _add_all, "sumLong": lambda a, b: _number(a, "sumLong") + _number(b, "sumLong"),
}
_ALIASES = {"sum_": "sum", "and_": "and", "or_": "or", "min_": "min", "max_": "max", "add_all": "addAll",
            "sum_long": "sumLong"}


def operator_function(op: Any) -> Callable[[Any, Any], Any]:
    """The function of an ``Operator`` (``sum``, ``addAll``, ...)."""
    if not isinstance(op, Operator):
        raise unsupported(f"{op!r} as an operator (only Operator.sum, addAll, ... are supported)")
    return _OPERATORS[_ALIASES.get(op.name, op.name)]


def apply_operator(op: Operator, a: Any, b: Any) -> Any:
    """``op(a, b)`` with TinkerPop's rules (``Operator.sum``: null-tolerant number addition)."""
    return operator_function(op)(a, b)


# -- steps ---------------------------------------------------------------------------------------
def items_of(obj: Any) -> list[Any]:
    """What a local reduction runs over: a collection's items, a path's objects, else the object."""
    if isinstance(obj, Path):
        return list(obj.objects)
    if isinstance(obj, dict):
        raise TraversalError(f"a local reduction needs a list, not the map {obj!r} (unfold() it first)")
    if isinstance(obj, (list, tuple, set, frozenset)):
        return list(obj)
    return [obj]



def _sum(values: list[Any]) -> Any:
    result: Any = None
    for v in values:
        if result is None:
            result = None if v is None else _number(v, "sum()")
        else:
            result = add(result, v)
    return result


def _mean(values: list[Any]) -> Any:
    total: Any = None
    n = 0
    for v in values:
        if v is None:
            continue
        total = _number(v, "mean()") if total is None else add(total, v)
        n += 1
    return None if total is None else div(total, n, floating=True)


_REDUCERS: dict[str, Callable[[list[Any]], Any]] = {"sum": _sum, "min": pick_min, "max": pick_max, "mean": _mean}


class Reduce(Step):
    """``sum()``, ``min()``, ``max()``, ``mean()``: one value from every traverser (global; none
    when there are none), or from each traverser's collection (local; empty ones are dropped)."""

    def __init__(self, name: str, local: bool) -> None:
        self.name, self.local = name, local
        self.reduce = _REDUCERS[name]

    @property
    def barrier(self) -> bool:
        return not self.local

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        if self.local:
            for t in traversers:
                ctx.tick()
                values = items_of(t.obj)
                if values:
                    yield t.extend(self.reduce(values))
            return
        values = []
        for t in traversers:
            ctx.tick()
            values.append(t.obj)
        if values:
            yield Traverser.start(self.reduce(values), ctx.new_sack())


@step("sum", "min", "max", "mean")
def _reduce(c: Compiler, name: str, args: list[Any]) -> Step:
    local, rest = split_scope(args)
    if rest:
        raise TraversalError(f"{name}() takes only a scope")
    return Reduce(name, local)


def size_of(obj: Any) -> int:
    """``count(local)``: a collection's, map's or path's size; 1 for anything else."""
    if isinstance(obj, Path):
        return len(obj.objects)
    if isinstance(obj, (list, tuple, set, frozenset, dict)):
        return len(obj)
    return 1


class Count(Step):
    """``count()``: how many traversers (``count(local)``: the size of each collection)."""

    name = "count"

    def __init__(self, local: bool) -> None:
        self.local = local

    @property
    def barrier(self) -> bool:
        return not self.local

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        if self.local:
            for t in traversers:
                ctx.tick()
                yield t.extend(size_of(t.obj))
            return
        n = 0
        for _ in traversers:
            ctx.tick()
            n += 1
        yield Traverser.start(n, ctx.new_sack())


@step("count")
def _count(c: Compiler, name: str, args: list[Any]) -> Step:
    local, rest = split_scope(args)
    if rest:
        raise TraversalError("count() takes only a scope")
    return Count(local)


class Fold(Step):
    """``fold()``: every object in one list; ``fold(seed, operator)``: ``operator`` applied
    from ``seed`` over every object (always one result, the seed when there is no input)."""

    name = "fold"
    barrier = True

    def __init__(self, seed: Any = NOTHING, operator: Callable[[Any, Any], Any] | None = None) -> None:
        self.seed, self.operator = seed, operator

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        if self.operator is None:
            items = []
            for t in traversers:
                ctx.tick()
                items.append(t.obj)
            yield Traverser.start(items, ctx.new_sack())
            return
        result = copy.deepcopy(self.seed)
        for t in traversers:
            ctx.tick()
            result = self.operator(result, t.obj)
        yield Traverser.start(result, ctx.new_sack())


@step("fold")
def _fold(c: Compiler, name: str, args: list[Any]) -> Step:
    if not args:
        return Fold()
    if len(args) != 2:
        raise TraversalError("fold() takes nothing, or a seed and an operator")
    return Fold(args[0], operator_function(args[1]))
