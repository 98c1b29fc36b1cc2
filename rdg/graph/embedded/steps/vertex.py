"""Moving along edges: ``out``/``in``/``both`` (to vertices), ``outE``/``inE``/``bothE`` (to
edges), ``outV``/``inV``/``bothV``/``otherV`` (from an edge to its ends)."""

from __future__ import annotations

from typing import Any, Iterable

from gremlin_python.structure.graph import Edge, Vertex

from rdg.graph.embedded.errors import TraversalError
from rdg.graph.embedded.traversal import Compiler, FlatMapStep, Step, step
from rdg.graph.embedded.traverser import Context, Traverser

__all__ = ["EdgeEnds", "Moves"]

_DIRECTION = {"out": "out", "in": "in", "both": "both", "outE": "out", "inE": "in", "bothE": "both"}


def _labels(name: str, args: list[Any]) -> tuple[str, ...]:
    for a in args:
        if not isinstance(a, str):
            raise TraversalError(f"{name}() takes edge labels (strings), not {a!r}")
    return tuple(args)


class Moves(FlatMapStep):
    """``out(labels...)`` and the rest: the neighbours or the edges of a vertex."""

    def __init__(self, name: str, labels: tuple[str, ...]) -> None:
        self.name, self.labels = name, labels
        self.direction = _DIRECTION[name]
        self.to_edges = name.endswith("E")

    def flat_map(self, ctx: Context, t: Traverser) -> Iterable[Any]:
        v = t.obj
        if not isinstance(v, Vertex):
            raise TraversalError(f"{self.name}() needs a vertex, not {type(v).__name__} {v!r}")
        if self.to_edges:
            return ctx.store.adjacent(v, self.direction, self.labels)
        return ctx.store.neighbours(v, self.direction, self.labels)


@step("out", "in", "both", "outE", "inE", "bothE")
def _moves(c: Compiler, name: str, args: list[Any]) -> Step:
    return Moves(name, _labels(name, args))


class EdgeEnds(FlatMapStep):
    """``outV``/``inV``/``bothV``/``otherV`` of an edge."""

    def __init__(self, name: str) -> None:
        self.name = name

    def flat_map(self, ctx: Context, t: Traverser) -> Iterable[Any]:
        e = t.obj
        if not isinstance(e, Edge):
            raise TraversalError(f"{self.name}() needs an edge, not {type(e).__name__} {e!r}")
        if self.name == "outV":
            return (e.outV,)
        if self.name == "inV":
            return (e.inV,)
        if self.name == "bothV":
            return (e.outV, e.inV)
        # otherV: the end that is not the vertex the traverser came from
        previous = t.path.parent.obj if t.path is not None and t.path.parent is not None else None
        if isinstance(previous, Vertex) and previous.id == e.outV.id:
            return (e.inV,)
        if isinstance(previous, Vertex) and previous.id == e.inV.id:
            return (e.outV,)
        raise TraversalError("otherV() needs to know the vertex the traverser came from")


@step("outV", "inV", "bothV", "otherV")
def _ends(c: Compiler, name: str, args: list[Any]) -> Step:
    if args:
        raise TraversalError(f"{name}() takes no arguments")
    return EdgeEnds(name)
