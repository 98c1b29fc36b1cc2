"""Moving along edges: ``out``/``in``/``both`` (to vertices), ``outE``/``inE``/``bothE`` (to
edges), ``outV``/``inV``/``bothV``/``otherV`` (from an edge to its ends), and their spellings
with a direction: ``to(Direction.OUT, labels...)``, ``toE(Direction.IN, labels...)``,
``toV(Direction.BOTH)``.

>>> from gremlin_python.process.anonymous_traversal import traversal
>>> from gremlin_python.process.traversal import Direction
>>> from rdg.graph.embedded.engine import EmbeddedConnection
>>> from rdg.graph.embedded.store import Store
>>> g = traversal().with_remote(EmbeddedConnection(Store.open(":memory:")))
>>> e = g.add_v("a").as_("x").add_v("b").add_e("to").from_("x").next()
>>> g.V().has_label("a").to(Direction.OUT).label().to_list(), g.E().to_v(Direction.IN).label().to_list()
(['b'], ['b'])
>>> g.V().has_label("a").out_e().other_v().label().to_list()
['b']
"""

from __future__ import annotations

from typing import Any, Iterable

from gremlin_python.process.traversal import Direction
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
        return ctx.store.visible(self.ends(t))

    def ends(self, t: Traverser) -> tuple[Vertex, ...]:
        e = t.obj
        if not isinstance(e, Edge):
            raise TraversalError(f"{self.name}() needs an edge, not {type(e).__name__} {e!r}")
        if self.name == "outV":
            return (e.outV,)
        if self.name == "inV":
            return (e.inV,)
        if self.name == "bothV":
            return (e.outV, e.inV)
        # otherV: the end that is not the last vertex on the path before the edge
        node = t.path.parent if t.path is not None else None
        while node is not None:
            if isinstance(node.obj, Vertex):
                return (e.inV,) if node.obj.id == e.outV.id else (e.outV,)
            node = node.parent
        raise TraversalError(f"The path history of the traverser does not contain a previous vertex: {t.as_path()}")


@step("outV", "inV", "bothV", "otherV")
def _ends(c: Compiler, name: str, args: list[Any]) -> Step:
    if args:
        raise TraversalError(f"{name}() takes no arguments")
    return EdgeEnds(name)


_MOVES = {(Direction.OUT, False): "out", (Direction.IN, False): "in", (Direction.BOTH, False): "both",
          (Direction.OUT, True): "outE", (Direction.IN, True): "inE", (Direction.BOTH, True): "bothE"}
_ENDS = {Direction.OUT: "outV", Direction.IN: "inV", Direction.BOTH: "bothV"}


@step("to", "toE")
def _to(c: Compiler, name: str, args: list[Any]) -> Step:
    """``to(Direction, labels...)``/``toE(Direction, labels...)``: ``out()``/``outE()`` and the rest."""
    if not args or not isinstance(args[0], Direction):
        raise TraversalError(f"{name}() takes a Direction and edge labels")
    move = _MOVES[(args[0], name == "toE")]
    return Moves(move, _labels(name, args[1:]))


@step("toV")
def _to_v(c: Compiler, name: str, args: list[Any]) -> Step:
    """``toV(Direction)``: ``outV()``/``inV()``/``bothV()``."""
    if len(args) != 1 or not isinstance(args[0], Direction):
        raise TraversalError("toV() takes a Direction")
    return EdgeEnds(_ENDS[args[0]])
