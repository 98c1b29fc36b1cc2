"""``group`` and ``groupCount``: the map-producing forms (barriers: one map of every traverser)
and the side-effect forms ``group('x')``/``groupCount('x')``, whose map stays in
``ctx.side_effects['x']`` for ``cap``. The side-effect forms are barriers too: the map is
complete before the first traverser moves on (as TinkerPop's answers show). A key ``by()``
that gives nothing skips the traverser.

>>> from gremlin_python.process.anonymous_traversal import traversal
>>> from gremlin_python.process.graph_traversal import __
>>> from rdg.graph.embedded.engine import EmbeddedConnection
>>> from rdg.graph.embedded.store import Store
>>> g = traversal().with_remote(EmbeddedConnection(Store.open(":memory:")))
>>> g.inject("a", "bb", "a").group_count().next()
{'a': 2, 'bb': 1}
>>> g.inject("a", "bb", "cc").group().by(__.length()).next()
{1: ['a'], 2: ['bb', 'cc']}
>>> group_key([1, 2])
(1, 2)
"""

from __future__ import annotations

import weakref
from typing import Any, Iterator

from gremlin_python.structure.io.util import HashableDict

from rdg.graph.embedded.errors import TraversalError
from rdg.graph.embedded.traversal import By, Compiler, Step, Traversal, step
from rdg.graph.embedded.traverser import Context, Traverser
from rdg.graph.embedded.values import NOTHING

__all__ = ["Group", "GroupCount", "group_key"]


def group_key(value: Any) -> Any:
    """A map key for ``value`` (lists become tuples, maps hashable, as gremlinpython does)."""
    if isinstance(value, (list, set, frozenset, dict)):
        return HashableDict.of(value)
    return value


_BARRIER_NAMES = frozenset({"dedup", "sample", "cap", "tree", "barrier", "order", "group", "groupCount", "count",
                            "fold", "sum", "min", "max", "mean"})


def _is_barrier(s: Step) -> bool:
    flag = getattr(s, "barrier", None)
    if flag is not None:
        return bool(flag)
    return s.name in _BARRIER_NAMES and not getattr(s, "local", False)


class _GroupState:
    """One group's keys and what each has collected so far."""

    def __init__(self) -> None:
        self.keys: dict[Any, Any] = {}
        self.collected: dict[Any, list[Traverser]] = {}
        self.dirty: set[Any] = set()


class Group(Step):
    """``group()``: a map of each key (first ``by()``, default the object) to a value (second
    ``by()``: a property, token or column gives the list of them, a traversal with a barrier
    (``count()``, ``fold()``, ``sum()``...) runs once over the whole group, any other traversal
    keeps its result for the last traverser; default the list of objects).
    ``group('x')`` keeps that map in the side effect ``x`` and passes traversers on."""

    name = "group"

    def __init__(self, side_effect: str | None) -> None:
        self.side_effect = side_effect
        self.key_by: By | None = None
        self.value_by: By | None = None
        self._states: "weakref.WeakKeyDictionary[Context, _GroupState]" = weakref.WeakKeyDictionary()

    @property
    def barrier(self) -> bool:
        return self.side_effect is None

    def modulate(self, name: str, args: list[Any], c: Compiler) -> None:
        if name != "by" or self.value_by is not None:
            super().modulate(name, args, c)
        if self.key_by is None:
            self.key_by = By(args, c)
        else:
            self.value_by = By(args, c)

    @property
    def _whole_group(self) -> bool:
        v = self.value_by
        return v is not None and v.traversal is not None and not v.traversal.is_identity and any(
            _is_barrier(s) for s in v.traversal.steps)

    @property
    def _per_item(self) -> bool:
        """The value is the list of each object's value (no by(), or a property/token/column/identity)."""
        v = self.value_by
        return v is None or v.traversal is None or v.traversal.is_identity

    def _add(self, ctx: Context, state: _GroupState, t: Traverser, out: dict[Any, Any]) -> None:
        key = t.obj if self.key_by is None else self.key_by.value(ctx, t)
        if key is NOTHING:
            return
        key = group_key(key)
        if self._whole_group:
            state.collected.setdefault(key, []).append(t)
            state.dirty.add(key)
        elif self._per_item:
            value = t.obj if self.value_by is None else self.value_by.raw_value(ctx, t)
            items = out.setdefault(key, [])
            if value is not NOTHING:
                items.append(value)
        else:
            assert self.value_by is not None and self.value_by.traversal is not None
            value = self.value_by.traversal.first(ctx, t)
            if value is not NOTHING:
                out[key] = value

    def _finish(self, ctx: Context, state: _GroupState, out: dict[Any, Any]) -> None:
        assert self.value_by is not None and self.value_by.traversal is not None or not state.dirty
        for key in list(state.dirty):
            ctx.tick()
            value = NOTHING
            for r in self.value_by.traversal.apply(ctx, iter(state.collected[key])):  # type: ignore[union-attr]
                value = r.obj
                break
            if value is not NOTHING:
                out[key] = value
        state.dirty.clear()

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        if self.side_effect is None:
            state, out = _GroupState(), {}
            for t in traversers:
                ctx.tick()
                self._add(ctx, state, t, out)
            self._finish(ctx, state, out)
            yield Traverser.start(out, ctx.new_sack())
            return
        yield from self._side_effect(ctx, traversers)

    def _side_effect(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        name = self.side_effect
        assert name is not None
        state = self._states.setdefault(ctx, _GroupState())
        out = ctx.side_effects.get(name)
        if not isinstance(out, dict):
            out = ctx.side_effects[name] = {}
        held = []
        for t in traversers:
            ctx.tick()
            self._add(ctx, state, t, out)
            held.append(t)
        self._finish(ctx, state, out)
        yield from held

    def children(self) -> list[Traversal]:
        return [x for b in (self.key_by, self.value_by) if b is not None for x in b.children()]


@step("group")
def _group(c: Compiler, name: str, args: list[Any]) -> Step:
    if len(args) > 1 or (args and not isinstance(args[0], str)):
        raise TraversalError("group() takes nothing, or the name of a side effect")
    return Group(args[0] if args else None)


class GroupCount(Step):
    """``groupCount()``: a map of each key (``by()``, default the object) to how many traversers
    have it; ``groupCount('x')`` keeps that map in the side effect ``x``."""

    name = "groupCount"

    def __init__(self, side_effect: str | None) -> None:
        self.side_effect = side_effect
        self.key_by: By | None = None

    @property
    def barrier(self) -> bool:
        return self.side_effect is None

    def modulate(self, name: str, args: list[Any], c: Compiler) -> None:
        if name != "by" or self.key_by is not None:
            super().modulate(name, args, c)
        self.key_by = By(args, c)

    def _add(self, ctx: Context, t: Traverser, out: dict[Any, int]) -> None:
        key = t.obj if self.key_by is None else self.key_by.value(ctx, t)
        if key is not NOTHING:
            key = group_key(key)
            out[key] = out.get(key, 0) + 1

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        if self.side_effect is None:
            out: dict[Any, int] = {}
            for t in traversers:
                ctx.tick()
                self._add(ctx, t, out)
            yield Traverser.start(out, ctx.new_sack())
            return
        found = ctx.side_effects.get(self.side_effect)
        if not isinstance(found, dict):
            found = ctx.side_effects[self.side_effect] = {}
        held = []
        for t in traversers:
            ctx.tick()
            self._add(ctx, t, found)
            held.append(t)
        yield from held

    def children(self) -> list[Traversal]:
        return self.key_by.children() if self.key_by is not None else []


@step("groupCount")
def _group_count(c: Compiler, name: str, args: list[Any]) -> Step:
    if len(args) > 1 or (args and not isinstance(args[0], str)):
        raise TraversalError("groupCount() takes nothing, or the name of a side effect")
    return GroupCount(args[0] if args else None)
