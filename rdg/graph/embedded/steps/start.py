"""Where traversals begin: ``V()``, ``E()`` and ``inject()`` (also mid-traversal: ``out().V()``).

``V()`` followed by ``has(label, key, value)`` or ``hasLabel()`` reads the index instead of
every vertex (the ``has`` step still checks each one).
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from gremlin_python.structure.graph import Element

from rdg.graph.embedded.traversal import Compiler, Step, step
from rdg.graph.embedded.traverser import Context, Traverser

__all__ = ["GraphStep", "Inject"]


def _ids(args: list[Any]) -> list[Any] | None:
    if not args:
        return None
    out: list[Any] = []
    for a in args:
        if isinstance(a, (list, tuple, set)):
            out.extend(x.id if isinstance(x, Element) else x for x in a)
        else:
            out.append(a.id if isinstance(a, Element) else a)
    return out


class GraphStep(Step):
    """``V(ids...)`` / ``E(ids...)``: at the start, the traversal's first traversers; later,
    every traverser is replaced by all of them."""

    def __init__(self, name: str, args: list[Any], at_start: bool) -> None:
        self.name = name
        self.ids = _ids(args)
        self.at_start = at_start
        self.labels: list[str] | None = None
        """Pushed down from a following ``hasLabel``/``has(label, ...)``."""
        self.key: str | None = None
        self.values: list[Any] | None = None
        """Pushed down from a following ``has(key, value)`` / ``has(key, within(...))``."""

    def elements(self, ctx: Context) -> Iterator[Any]:
        store = ctx.store
        if self.name == "E":
            if self.ids is not None:
                return store.edges(self.ids)
            return store.edges_where(self.labels) if self.labels else store.edges()
        if self.ids is not None:
            return store.vertices(self.ids)
        if self.labels is not None or self.key is not None:
            return store.vertices_where(self.labels, self.key, self.values)
        return store.vertices()

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        if self.at_start:
            for e in self.elements(ctx):
                ctx.tick()
                yield Traverser.start(e, ctx.new_sack())
            return
        for t in traversers:
            for e in list(self.elements(ctx)):
                ctx.tick()
                yield t.extend(e)


@step("V", "E")
def _graph(c: Compiler, name: str, args: list[Any]) -> Step:
    return GraphStep(name, args, c.at_start)


class Inject(Step):
    """``inject(values...)``: more objects into the stream (at the start: the only ones)."""

    name = "inject"

    def __init__(self, values: Iterable[Any]) -> None:
        self.values = list(values)

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        for v in self.values:
            yield Traverser.start(v, ctx.new_sack())
        yield from traversers


@step("inject")
def _inject(c: Compiler, name: str, args: list[Any]) -> Step:
    return Inject(args)
