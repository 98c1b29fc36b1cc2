"""``shortestPath()``: TinkerPop's ShortestPathVertexProgram as a barrier step (a
:class:`~rdg.graph.embedded.steps.algorithms.VertexProgram`): each traverser becomes every
shortest path from its vertex, found by message passing as the program does it, configured by
``with()`` (``target``, ``edges``, ``distance``, ``maxDistance``, ``includeEdges``).

>>> from gremlin_python.process.anonymous_traversal import traversal
>>> from gremlin_python.process.graph_traversal import __
>>> from rdg.graph.embedded.engine import EmbeddedConnection
>>> from rdg.graph.embedded.store import Store
>>> g = traversal().with_remote(EmbeddedConnection(Store.open(":memory:")))
>>> _ = g.add_v("p").property("name", "a").as_("a").add_v("p").property("name", "b").add_e("k").from_("a").iterate()
>>> to_b = g.V().has("name", "a").shortest_path().with_("~tinkerpop.shortestPath.target", __.has("name", "b"))
>>> to_b.unfold().values("name").to_list()
['a', 'b']
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterator

from gremlin_python.process.traversal import Direction
from gremlin_python.structure.graph import Edge, Path, Vertex

from rdg.graph.embedded.errors import TraversalError
from rdg.graph.embedded.steps.algorithms import VertexProgram
from rdg.graph.embedded.strategies import side_context
from rdg.graph.embedded.traversal import Compiler, Step, Traversal, step
from rdg.graph.embedded.traverser import Context, Traverser
from rdg.graph.embedded.values import NOTHING, compare, is_number

__all__ = ["ShortestPath"]


class ShortestPath(VertexProgram):
    """``shortestPath()``: every shortest path (ties all given) from the traverser's vertex to
    each vertex the ``target`` traversal keeps, over the ``edges`` (default ``bothE()``, or a
    Direction), by hops or by ``distance`` (a property key or a traversal on the edge), at most
    ``maxDistance``; ``includeEdges`` puts the edges in the paths too. Paths never revisit a vertex."""

    options = {"shortestPath.target": "target", "shortestPath.edges": "edges",
               "shortestPath.distance": "distance", "shortestPath.maxDistance": "max_distance",
               "shortestPath.includeEdges": "include_edges"}

    def __init__(self, name: str, args: list[Any], c: Compiler) -> None:
        super().__init__(name, c)
        if args:
            raise TraversalError("shortestPath() takes no arguments (configure it with with())")
        self.target: Traversal | None = None
        self.distance: Traversal | None = None
        self.max_distance: Any = None
        self.include_edges = False

    def configure(self, attr: str, value: Any, c: Compiler) -> None:
        if attr == "edges" and isinstance(value, Direction):
            self.edges = c.child(_to_edges(value))
        elif attr == "target":
            if not c.is_traversal(value):
                raise TraversalError("shortestPath() target needs a traversal, e.g. __.has('name', 'x')")
            self.target = c.child(value)
        elif attr == "distance":
            if isinstance(value, str):
                from gremlin_python.process.graph_traversal import __

                value = __.values(value)
            if not c.is_traversal(value):
                raise TraversalError("shortestPath() distance needs a property key or a traversal")
            self.distance = c.child(value)
        elif attr == "max_distance":
            if not is_number(value):
                raise TraversalError("shortestPath() maxDistance needs a number")
            self.max_distance = value
        elif attr == "include_edges":
            if not isinstance(value, bool):
                raise TraversalError("shortestPath() includeEdges needs true or false")
            self.include_edges = value
        else:
            super().configure(attr, value, c)

    def children(self) -> list[Traversal]:
        return [t for t in (self.edges, self.target, self.distance) if t is not None]

    def run(self, ctx: Context, held: list[Traverser]) -> Iterator[Traverser]:
        sources = list({t.obj.id: t.obj for t in held}.values())
        found = self.search(ctx, sources)
        for t in held:
            for path in found.get(t.obj.id, []):
                yield t.extend(Path([set() for _ in path], list(path)))

    def search(self, ctx: Context, sources: list[Vertex]) -> dict[Any, list[tuple[Any, ...]]]:
        """source id -> its shortest paths (tuples of vertices, and edges when asked), by message
        passing as TinkerPop's program does it."""
        side = side_context(ctx, ctx.store)
        best: dict[Any, dict[Any, tuple[Any, dict[tuple[Any, ...], None]]]] = defaultdict(dict)
        vertex_of: dict[Any, Vertex] = {}
        inbox: dict[Any, list[tuple[tuple[Any, ...], Edge | None, Any]]] = defaultdict(list)
        for s in sources:
            vertex_of[s.id] = s
            start = (s,)
            best[s.id][s.id] = (0, {start: None})
            self.send(side, s, start, 0, inbox, vertex_of)
        while inbox:
            current, inbox = inbox, defaultdict(list)
            for vid, messages in current.items():
                ctx.tick()
                v = vertex_of[vid]
                for path, edge, distance in messages:
                    source = path[0].id
                    known = best[vid].get(source)
                    new = path + ((edge,) if edge is not None else ()) + (v,)
                    if known is not None:
                        order = compare(distance, known[0])
                        if order is None or order > 0:
                            continue
                        if order < 0:
                            best[vid][source] = (distance, {new: None})
                        elif new in known[1]:
                            continue
                        else:
                            known[1][new] = None
                    elif self.too_far(distance):
                        continue
                    else:
                        best[vid][source] = (distance, {new: None})
                    self.send(side, v, new, distance, inbox, vertex_of)
        return self.collect(side, best, vertex_of, sources)

    def send(self, ctx: Context, v: Vertex, path: tuple[Any, ...], distance: Any,
             inbox: dict[Any, list[Any]], vertex_of: dict[Any, Vertex]) -> None:
        """Offer ``path`` (of length ``distance``, ending at ``v``) to each vertex one edge on,
        unless the path has been there already."""
        on_path = {o.id for o in path if isinstance(o, Vertex)}
        for e in self.edges_of(ctx, v, "both"):
            far = e.outV if e.inV.id == v.id else e.inV
            if far.id in on_path:
                continue
            inbox[far.id].append((path, e if self.include_edges else None, distance + self.length(ctx, e)))
            vertex_of.setdefault(far.id, far)

    def length(self, ctx: Context, e: Edge) -> Any:
        if self.distance is None:
            return 1
        found = self.distance.first(ctx, Traverser.start(e))
        if found is NOTHING:
            return 0
        if not is_number(found):
            raise TraversalError(f"shortestPath() distance must be a number, not {found!r}")
        return found

    def too_far(self, distance: Any) -> bool:
        """Hop counts stop growing past ``maxDistance`` (other distances are checked at the end)."""
        return self.distance is None and self.max_distance is not None and compare(distance, self.max_distance) == 1

    def collect(self, ctx: Context, best: dict[Any, dict[Any, Any]], vertex_of: dict[Any, Vertex],
                sources: list[Vertex]) -> dict[Any, list[tuple[Any, ...]]]:
        out: dict[Any, list[tuple[Any, ...]]] = defaultdict(list)
        for vid, by_source in best.items():
            if self.target is not None and not self.target.produces(ctx, Traverser.start(vertex_of[vid])):
                continue
            for source, (distance, paths) in by_source.items():
                if self.distance is not None and self.max_distance is not None and \
                        compare(distance, self.max_distance) == 1:
                    continue
                out[source].extend(paths)
        return out


def _to_edges(direction: Direction) -> Any:
    from gremlin_python.process.graph_traversal import __

    return {"OUT": __.outE(), "IN": __.inE(), "BOTH": __.bothE()}[direction.name]


@step("shortestPath")
def _shortest_path(c: Compiler, name: str, args: list[Any]) -> Step:
    return ShortestPath(name, args, c)
