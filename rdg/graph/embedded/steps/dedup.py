"""``dedup``: the first traverser of each distinct object, ``by()`` value or combination of
labelled objects (global), or the distinct items of each collection (``Scope.local``).

>>> from gremlin_python.process.graph_traversal import __
>>> from rdg.graph.embedded.traverser import Context
>>> from gremlin_python.process.traversal import Scope
>>> def run(t): return [x.obj for x in Compiler().compile(t.bytecode).apply(Context(None), iter(()))]
>>> run(__.inject(1, 2, 2, 3, 1).dedup()), run(__.inject([1, 1, 2]).dedup(Scope.local))
([1, 2, 3], [{1, 2}])
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from rdg.graph.embedded.errors import TraversalError
from rdg.graph.embedded.steps.range import collection_items
from rdg.graph.embedded.steps.where import scope_value
from rdg.graph.embedded.traversal import By, Compiler, MapEntry, MapStep, Step, Traversal, split_scope, step
from rdg.graph.embedded.traverser import Context, Traverser
from rdg.graph.embedded.values import NOTHING, hash_key

__all__ = ["DedupGlobal", "DedupLocal"]


class DedupGlobal(Step):
    """``dedup(labels...)``: the first traverser of each distinct object (or ``by()`` value, or
    combination of labelled objects); a ``by()`` that gives nothing drops the traverser."""

    name = "dedup"
    streaming = False

    def __init__(self, labels: tuple[str, ...]) -> None:
        self.labels = labels
        self.by: By | None = None

    def modulate(self, name: str, args: list[Any], c: Compiler) -> None:
        if name != "by":
            super().modulate(name, args, c)
        self.by = By(args, c)

    def _key(self, ctx: Context, t: Traverser) -> Any:
        if not self.labels:
            value = self.by.value(ctx, t) if self.by is not None else t.obj
            return NOTHING if value is NOTHING else hash_key(value)
        keys = []
        for label in self.labels:
            value = scope_value(ctx, t, label)
            if self.by is not None:
                value = self.by.value_of(ctx, value)
            if value is NOTHING:
                return NOTHING
            keys.append(hash_key(value))
        return tuple(keys)

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        seen: set[Any] = set()
        for t in traversers:
            ctx.tick()
            key = self._key(ctx, t)
            if key is NOTHING or key in seen:
                continue
            seen.add(key)
            yield t

    def children(self) -> list[Traversal]:
        return self.by.children() if self.by is not None else []


def _unique(items: Iterable[Any]) -> list[Any]:
    seen: set[Any] = set()
    out = []
    for x in items:
        k = hash_key(x)
        if k not in seen:
            seen.add(k)
            out.append(x)
    return out


class DedupLocal(MapStep):
    """``dedup(local)``: the distinct items of each collection, as a set (a list when a Python
    set cannot hold them: maps, or ``1`` beside ``1.0`` or ``True``)."""

    name = "dedup"

    def map(self, ctx: Context, t: Traverser) -> Any:
        obj = t.obj
        if isinstance(obj, dict) and not isinstance(obj, MapEntry):
            items: list[Any] = [MapEntry({k: v}) for k, v in obj.items()]
        else:
            found = collection_items(obj)
            items = found if found is not None else [obj]
        unique = _unique(items)
        try:
            as_set = set(unique)
        except TypeError:
            return unique
        return as_set if len(as_set) == len(unique) else unique


@step("dedup")
def _dedup(c: Compiler, name: str, args: list[Any]) -> Step:
    local, labels = split_scope(args)
    if not all(isinstance(x, str) for x in labels):
        raise TraversalError("dedup() takes a scope and labels")
    return DedupLocal() if local else DedupGlobal(tuple(labels))
