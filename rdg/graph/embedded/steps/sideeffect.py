"""Side effects and sacks: ``sideEffect(traversal)``, ``aggregate`` (global: a barrier; local,
also spelled ``store``: as each traverser passes), ``cap``, ``sack``, ``fail`` and ``barrier``
(which merges equal traversers' sacks and can normalise them).

A side effect lives in ``ctx.side_effects[key]``: ``aggregate`` keeps a list (TinkerPop's
BulkSet) unless ``withSideEffect(key, value, operator)`` gave another start value or reducer.

>>> from gremlin_python.process.graph_traversal import __
>>> from rdg.graph.embedded.traversal import Compiler
>>> code = __.aggregate("x").by("name").sack().cap("x").bytecode
>>> [s.name for s in Compiler().compile(code).steps]
['aggregate', 'sack', 'cap']
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Iterator

from gremlin_python.process.traversal import Barrier, Operator, Scope

from rdg.graph.embedded.errors import TraversalError, unsupported
from rdg.graph.embedded.steps.aggregate import add, div, mul, operator_function
from rdg.graph.embedded.traversal import By, Compiler, MapStep, SideEffectStep, Step, Traversal, step
from rdg.graph.embedded.traverser import Context, Traverser
from rdg.graph.embedded.values import NOTHING, key_of

__all__ = ["Aggregate", "Cap", "Fail", "SackBarrier", "SackValue", "SideEffect", "add_side_effect"]


def _collecting(reducer: Callable[[Any, Any], Any]) -> bool:
    """Whether ``reducer`` takes a whole collection at once (``addAll``, ``assign``)."""
    return reducer in (operator_function(Operator.addAll), operator_function(Operator.assign))


def add_side_effect(ctx: Context, key: str, values: list[Any]) -> None:
    """Add ``values`` to the side effect ``key`` with its reducer (``addAll`` by default; the
    collecting reducers take the values as one list, the others one value at a time)."""
    reducer = ctx.side_effect_reducers.get(key) or operator_function(Operator.addAll)
    current = ctx.side_effects.get(key, [])
    if _collecting(reducer):
        current = reducer(current, list(values))
    else:
        for v in values:
            current = reducer(current, v)
    ctx.side_effects[key] = current


class _ByValue:
    """The one ``by()`` of a side-effect step (none: the object itself)."""

    def __init__(self) -> None:
        self.by: By | None = None

    def set_by(self, name: str, args: list[Any], c: Compiler, owner: str) -> None:
        if name != "by":
            raise unsupported(f"{name}() after {owner}()")
        if self.by is not None:
            raise TraversalError(f"{owner}() takes one by() at most")
        self.by = By(args, c)

    def value(self, ctx: Context, t: Traverser) -> Any:
        return t.obj if self.by is None else self.by.value(ctx, t)

    def children(self) -> list[Traversal]:
        return self.by.children() if self.by is not None else []


class SideEffect(SideEffectStep):
    """``sideEffect(traversal)``: run the child for each traverser, keep the traverser as it was."""

    name = "sideEffect"

    def __init__(self, child: Traversal) -> None:
        self.child = child

    def children(self) -> list[Traversal]:
        return [self.child]

    def effect(self, ctx: Context, t: Traverser) -> None:
        for _ in self.child.run_from(ctx, t):
            ctx.tick()


@step("sideEffect")
def _side_effect(c: Compiler, name: str, args: list[Any]) -> Step:
    if len(args) != 1 or not c.is_traversal(args[0]):
        raise unsupported("sideEffect() with a lambda (only a traversal)")
    return SideEffect(c.child(args[0]))


class Aggregate(Step):
    """``aggregate(key)``: every object (or its ``by()`` value) into the side effect ``key``
    before any traverser goes on; ``aggregate(local, key)``/``store(key)`` as each one passes."""

    def __init__(self, name: str, key: str, local: bool) -> None:
        self.name, self.key, self.local = name, key, local
        self.value = _ByValue()

    @property
    def streaming(self) -> bool:
        return self.local

    def modulate(self, name: str, args: list[Any], c: Compiler) -> None:
        self.value.set_by(name, args, c, self.name)

    def children(self) -> list[Traversal]:
        return self.value.children()

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        ctx.side_effects.setdefault(self.key, [])
        if self.local:
            for t in traversers:
                ctx.tick()
                value = self.value.value(ctx, t)
                if value is not NOTHING:
                    add_side_effect(ctx, self.key, [value])
                yield t
            return
        held, values = [], []
        for t in traversers:
            ctx.tick()
            held.append(t)
            value = self.value.value(ctx, t)
            if value is not NOTHING:
                values.append(value)
        if held:
            add_side_effect(ctx, self.key, values)
        yield from held


@step("aggregate", "store")
def _aggregate(c: Compiler, name: str, args: list[Any]) -> Step:
    local = name == "store"
    if args and isinstance(args[0], Scope):
        local, args = args[0] == Scope.local, args[1:]
    if len(args) != 1 or not isinstance(args[0], str):
        raise TraversalError(f"{name}() takes a side-effect key")
    return Aggregate(name, args[0], local)


class Cap(Step):
    """``cap(keys...)``: after every traverser has passed, the side effect (several keys: a map
    of them)."""

    name = "cap"

    def __init__(self, keys: tuple[str, ...]) -> None:
        self.keys = keys

    def _value(self, ctx: Context, key: str) -> Any:
        if key not in ctx.side_effects:
            raise TraversalError(f"cap('{key}'): no side effect is named '{key}'")
        return copy.copy(ctx.side_effects[key])

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        for _ in traversers:
            ctx.tick()
        if len(self.keys) == 1:
            value = self._value(ctx, self.keys[0])
        else:
            value = {k: self._value(ctx, k) for k in self.keys}
        yield Traverser.start(value, ctx.new_sack())


@step("cap")
def _cap(c: Compiler, name: str, args: list[Any]) -> Step:
    if not args or not all(isinstance(a, str) for a in args):
        raise TraversalError("cap() takes one or more side-effect keys")
    return Cap(tuple(args))


# -- sack ----------------------------------------------------------------------------------------
class SackGet(MapStep):
    """``sack()``: the traverser's sack."""

    name = "sack"

    def map(self, ctx: Context, t: Traverser) -> Any:
        return t.sack


class SackValue(Step):
    """``sack(operator).by(...)``: the sack becomes ``operator(sack, value)``; a ``by()`` that
    gives nothing drops the traverser."""

    name = "sack"
    streaming = True

    def __init__(self, operator: Callable[[Any, Any], Any]) -> None:
        self.operator = operator
        self.value = _ByValue()

    def modulate(self, name: str, args: list[Any], c: Compiler) -> None:
        self.value.set_by(name, args, c, "sack")

    def children(self) -> list[Traversal]:
        return self.value.children()

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        for t in traversers:
            ctx.tick()
            value = self.value.value(ctx, t)
            if value is NOTHING:
                continue
            yield t.with_sack(self.operator(ctx.split_sack(t.sack), value))


@step("sack")
def _sack(c: Compiler, name: str, args: list[Any]) -> Step:
    if not args:
        return SackGet()
    if len(args) == 1 and isinstance(args[0], Operator):
        return SackValue(operator_function(args[0]))
    raise unsupported("sack() with a lambda (only sack() or sack(Operator))")


class SackBarrier(Step):
    """``barrier()``: every traverser is held until the input ends. With sacks in use, equal
    traversers (same object, loops and labelled path) merge as in TinkerPop: their sacks combine
    with the ``withSack`` merge operator; ``barrier(normSack)`` then divides each sack by the
    total, so the sacks sum to one."""

    name = "barrier"
    barrier = True

    def __init__(self, norm: bool) -> None:
        self.norm = norm

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        held: list[Traverser] = []
        for t in traversers:
            ctx.tick()
            held.append(t)
        if not self.norm and ctx.sack_merge is None:
            yield from held
            return
        groups = self._groups(ctx, held)
        if self.norm:
            total: Any = 0.0
            for sack, members in groups:
                total = add(total, mul(sack, len(members)))
            groups = [(div(mul(sack, len(members)), total), members) for sack, members in groups]
        one_each = ctx.options.get("withBulk") == [False]
        for sack, members in groups:
            for t in members[:1] if one_each else members:
                yield t.with_sack(sack)

    @staticmethod
    def _groups(ctx: Context, held: list[Traverser]) -> list[tuple[Any, list[Traverser]]]:
        found: dict[Any, tuple[Any, list[Traverser]]] = {}
        for t in held:
            key = (key_of(t.obj), t.loops, tuple((frozenset(n.labels), key_of(n.obj)) for n in t.nodes() if n.labels))
            if key not in found:
                found[key] = (t.sack, [t])
                continue
            sack, members = found[key]
            if ctx.sack_merge is not None:
                sack = ctx.sack_merge(sack, t.sack)
            members.append(t)
            found[key] = (sack, members)
        return list(found.values())


@step("barrier")
def _barrier(c: Compiler, name: str, args: list[Any]) -> Step:
    if not args:
        return SackBarrier(False)
    if len(args) == 1 and isinstance(args[0], Barrier):
        return SackBarrier(True)
    if len(args) == 1 and isinstance(args[0], int) and not isinstance(args[0], bool):
        return SackBarrier(False)
    raise unsupported(f"barrier({', '.join(map(repr, args))})")


class Fail(Step):
    """``fail(message?)``: the traversal stops with an error when a traverser reaches this step."""

    name = "fail"
    streaming = True

    def __init__(self, message: str | None) -> None:
        self.message = message

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        for t in traversers:
            raise TraversalError(f"fail() was reached by {t.obj!r}: {self.message or 'fail() step triggered'}")
        yield from ()


@step("fail")
def _fail(c: Compiler, name: str, args: list[Any]) -> Step:
    if len(args) > 1 or (args and not isinstance(args[0], str)):
        raise TraversalError("fail() takes at most a message")
    return Fail(args[0] if args else None)
