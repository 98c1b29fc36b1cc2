"""The range family: ``limit``, ``range``, ``skip`` and ``tail``, over the stream (global) or
over each collection (``Scope.local``); also the count helpers ``dedup`` and ``sample`` share.

>>> from gremlin_python.process.graph_traversal import __
>>> from gremlin_python.process.traversal import Scope
>>> from rdg.graph.embedded.traverser import Context
>>> def run(t): return [x.obj for x in Compiler().compile(t.bytecode).apply(Context(None), iter(()))]
>>> run(__.inject(1, 2, 3, 4).range_(1, 3)), run(__.inject(1, 2, 3).limit(2)), run(__.inject(1, 2, 3).skip(2))
([2, 3], [1, 2], [3])
>>> run(__.inject([1, 2, 3]).tail(Scope.local, 2)), run(__.inject(1, 2, 3).tail())
([[2, 3]], [3])
"""

from __future__ import annotations

import collections
from typing import Any, Iterator

from gremlin_python.structure.graph import Path

from rdg.graph.embedded.errors import TraversalError
from rdg.graph.embedded.traversal import Compiler, MapEntry, MapStep, Step, step, split_scope
from rdg.graph.embedded.traverser import Context, Traverser
from rdg.graph.embedded.values import NOTHING

__all__ = ["Limit", "RangeGlobal", "RangeLocal", "TailGlobal", "TailLocal", "apply_range", "collection_items",
           "whole_number"]



def whole_number(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TraversalError(f"{what} takes a whole number, not {value!r}")
    return value


def collection_items(obj: Any) -> list[Any] | None:
    """The items of a collection (a path's objects), or None for anything else."""
    if isinstance(obj, Path):
        return list(obj.objects)
    if isinstance(obj, (list, tuple, set, frozenset)):
        return list(obj)
    return None


class RangeGlobal(Step):
    """``range(low, high)`` over the stream (``limit(n)`` = ``range(0, n)``, ``skip(n)`` =
    ``range(n, -1)``): stops pulling once ``high`` traversers went by."""

    streaming = False

    def __init__(self, name: str, low: int, high: int) -> None:
        if high != -1 and low > high:
            raise TraversalError(f"not a legal range: [{low}, {high}]")
        self.name, self.low, self.high = name, max(low, 0), high

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        if self.high != -1 and self.high <= self.low:
            return
        seen = 0
        for t in traversers:
            ctx.tick()
            seen += 1
            if seen > self.low:
                yield t
            if self.high != -1 and seen >= self.high:
                return


Limit = RangeGlobal
"""``limit(n)`` is a :class:`RangeGlobal` from 0 to n."""


def apply_range(obj: Any, low: int, high: int) -> Any:
    """``range(local, low, high)`` of one object: a map's entries, a collection's items (one
    item alone when the range is one wide), anything else as it is; :data:`NOTHING` when a
    one-wide range finds no item."""
    if isinstance(obj, dict) and not isinstance(obj, MapEntry):
        entries = list(obj.items())[max(low, 0):None if high == -1 else max(high, 0)]
        return dict(entries)
    items = collection_items(obj)
    if items is None:
        return obj
    single = high != -1 and high - low == 1
    part = items[max(low, 0):None if high == -1 else max(high, 0)]
    if single:
        return part[0] if part else NOTHING
    return set(part) if isinstance(obj, (set, frozenset)) else part


class RangeLocal(MapStep):
    """``range(local, low, high)`` / ``limit(local, n)`` / ``skip(local, n)`` of each collection."""

    def __init__(self, name: str, low: int, high: int) -> None:
        if high != -1 and low > high:
            raise TraversalError(f"not a legal range: [{low}, {high}]")
        self.name, self.low, self.high = name, low, high

    def map(self, ctx: Context, t: Traverser) -> Any:
        return apply_range(t.obj, self.low, self.high)


class TailGlobal(Step):
    """``tail(n)``: the last n traversers (a barrier)."""

    name = "tail"
    streaming = False

    def __init__(self, n: int) -> None:
        self.n = n

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        last: collections.deque[Traverser] = collections.deque(maxlen=max(self.n, 0))
        for t in traversers:
            ctx.tick()
            if self.n > 0:
                last.append(t)
        yield from last


class TailLocal(MapStep):
    """``tail(local, n)``: the last n items of each collection (one item alone for n = 1)."""

    name = "tail"

    def __init__(self, n: int) -> None:
        self.n = n

    def map(self, ctx: Context, t: Traverser) -> Any:
        obj = t.obj
        items = collection_items(obj)
        size = len(obj) if isinstance(obj, dict) else (len(items) if items is not None else 1)
        return apply_range(obj, size - self.n, size)


def _range_step(name: str, local: bool, low: int, high: int) -> Step:
    return RangeLocal(name, low, high) if local else RangeGlobal(name, low, high)


@step("limit")
def _limit(c: Compiler, name: str, args: list[Any]) -> Step:
    local, rest = split_scope(args)
    if len(rest) != 1:
        raise TraversalError("limit() takes a scope and a number")
    n = whole_number(rest[0], "limit()")
    return _range_step(name, local, 0, n if n >= 0 else -1)


@step("range")
def _range(c: Compiler, name: str, args: list[Any]) -> Step:
    local, rest = split_scope(args)
    if len(rest) != 2:
        raise TraversalError("range() takes a scope, a low and a high number")
    return _range_step(name, local, whole_number(rest[0], "range()"), whole_number(rest[1], "range()"))


@step("skip")
def _skip(c: Compiler, name: str, args: list[Any]) -> Step:
    local, rest = split_scope(args)
    if len(rest) != 1:
        raise TraversalError("skip() takes a scope and a number")
    return _range_step(name, local, whole_number(rest[0], "skip()"), -1)


@step("tail")
def _tail(c: Compiler, name: str, args: list[Any]) -> Step:
    local, rest = split_scope(args)
    if len(rest) > 1:
        raise TraversalError("tail() takes a scope and a number")
    n = whole_number(rest[0], "tail()") if rest else 1
    return TailLocal(n) if local else TailGlobal(n)
