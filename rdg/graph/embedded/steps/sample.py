"""Random filters: ``coin(p)`` keeps each traverser with probability p; ``sample(n)`` draws n
traversers (weighted by ``by()``), ``sample(local, n)`` n items of each collection.

>>> from gremlin_python.process.graph_traversal import __
>>> from rdg.graph.embedded.traverser import Context
>>> from gremlin_python.process.traversal import Scope
>>> def run(t): return [x.obj for x in Compiler().compile(t.bytecode).apply(Context(None), iter(()))]
>>> run(__.inject(1, 2).coin(1.0)), run(__.inject(1, 2).coin(0.0)), run(__.inject(1, 2, 3).sample(5))
([1, 2], [], [1, 2, 3])
>>> len(run(__.inject(1, 2, 3).sample(2))), run(__.inject([1, 2, 3]).sample(Scope.local, 3))
(2, [[1, 2, 3]])
"""

from __future__ import annotations

import random
from typing import Any, Iterator

from gremlin_python.structure.graph import Path

from rdg.graph.embedded.errors import TraversalError, unsupported
from rdg.graph.embedded.predicates import Ternary
from rdg.graph.embedded.steps.logic import TernaryFilter
from rdg.graph.embedded.steps.range import collection_items, whole_number
from rdg.graph.embedded.traversal import By, Compiler, MapEntry, MapStep, Step, Traversal, split_scope, step
from rdg.graph.embedded.traverser import Context, Traverser
from rdg.graph.embedded.values import NOTHING, is_number

__all__ = ["Coin", "SampleGlobal", "SampleLocal"]


class Coin(TernaryFilter):
    """``coin(p)``: keeps each traverser with probability p."""

    name = "coin"

    def __init__(self, probability: float) -> None:
        self.probability = probability

    def check(self, ctx: Context, t: Traverser) -> Ternary:
        return self.probability >= random.random()


@step("coin")
def _coin(c: Compiler, name: str, args: list[Any]) -> Step:
    if len(args) != 1 or not is_number(args[0]):
        raise TraversalError("coin() takes a probability")
    return Coin(float(args[0]))


def _weighted_pick(weights: list[float], count: int) -> list[int]:
    """``count`` distinct indexes, each drawn with probability in proportion to its weight."""
    left = list(range(len(weights)))
    picked: list[int] = []
    while len(picked) < count and left:
        total = sum(weights[i] for i in left)
        if total <= 0:
            raise unsupported("sample() where the remaining weights are all 0")
        point = random.random() * total
        for pos, i in enumerate(left):
            point -= weights[i]
            if point < 0 or pos == len(left) - 1:
                picked.append(left.pop(pos))
                break
    return sorted(picked)


class SampleGlobal(Step):
    """``sample(n)``: n traversers drawn at random (weighted by ``by()``; a barrier)."""

    name = "sample"
    streaming = False

    def __init__(self, n: int) -> None:
        self.n = n
        self.by: By | None = None

    def modulate(self, name: str, args: list[Any], c: Compiler) -> None:
        if name != "by":
            super().modulate(name, args, c)
        self.by = By(args, c)

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        kept: list[Traverser] = []
        weights: list[float] = []
        for t in traversers:
            ctx.tick()
            weight = self.by.value(ctx, t) if self.by is not None else 1.0
            if weight is NOTHING:
                continue
            if not is_number(weight):
                raise TraversalError(f"sample().by() must give a number, not {weight!r}")
            kept.append(t)
            weights.append(float(weight))
        if len(kept) <= self.n:
            yield from kept
            return
        for i in _weighted_pick(weights, self.n):
            yield kept[i]

    def children(self) -> list[Traversal]:
        return self.by.children() if self.by is not None else []


class SampleLocal(MapStep):
    """``sample(local, n)``: n items (or map entries) of each collection drawn at random."""

    name = "sample"

    def __init__(self, n: int) -> None:
        self.n = n

    def map(self, ctx: Context, t: Traverser) -> Any:
        obj = t.obj
        if isinstance(obj, dict) and not isinstance(obj, MapEntry):
            if len(obj) <= self.n:
                return obj
            return dict(random.sample(list(obj.items()), self.n))
        items = collection_items(obj) if not isinstance(obj, Path) else None
        if items is None or len(items) <= self.n:
            return obj
        return random.sample(items, self.n)


@step("sample")
def _sample(c: Compiler, name: str, args: list[Any]) -> Step:
    local, rest = split_scope(args)
    if len(rest) != 1:
        raise TraversalError("sample() takes a scope and a number")
    n = whole_number(rest[0], "sample()")
    return SampleLocal(n) if local else SampleGlobal(n)
