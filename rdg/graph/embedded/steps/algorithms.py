"""Graph algorithms as steps: ``connectedComponent()``, ``pageRank()`` and ``peerPressure()``, and
the :class:`VertexProgram` base they share with ``shortestPath()`` (in
:mod:`~rdg.graph.embedded.steps.shortestpath`).

In TinkerPop these are vertex programs run by a graph computer over the whole graph; here each
is a barrier step that runs the same program (same iterations, same messages, same tie-breaks)
over the whole graph in memory. Results the program leaves on vertices (``pageRank``'s rank,
``peerPressure``'s cluster, ``connectedComponent``'s component) become vertex properties the
steps after it can read (a :class:`ComputedView` over the store); the traversers go on
unchanged.

As in TinkerPop, a program run right after ``g.V()`` starts every vertex equal; after any other
step, it starts from the traversers that reached each vertex (``g.V().out().pageRank()`` seeds
each vertex with the number of traversers at it).

>>> from gremlin_python.process.anonymous_traversal import traversal
>>> from rdg.graph.embedded.engine import EmbeddedConnection
>>> from rdg.graph.embedded.store import Store
>>> g = traversal().with_remote(EmbeddedConnection(Store.open(":memory:")))
>>> _ = g.add_v("p").property("name", "a").as_("a").add_v("p").property("name", "b").add_e("k").from_("a").iterate()
>>> g.V().connected_component().values("gremlin.connectedComponentVertexProgram.component").to_list()
['1', '1']
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterator, Sequence

from gremlin_python.structure.graph import Edge, Vertex, VertexProperty

from rdg.graph.embedded.errors import TraversalError, unsupported
from rdg.graph.embedded.steps.start import GraphStep
from rdg.graph.embedded.strategies import StoreView
from rdg.graph.embedded.traversal import Compiler, Step, Traversal, step
from rdg.graph.embedded.traverser import Context, Traverser
from rdg.graph.embedded.values import is_number

__all__ = ["ComputedView", "ConnectedComponent", "PageRank", "PeerPressure", "VertexProgram"]

PAGE_RANK = "gremlin.pageRankVertexProgram.pageRank"
CLUSTER = "gremlin.peerPressureVertexProgram.cluster"
COMPONENT = "gremlin.connectedComponentVertexProgram.component"
_PREFIX = "~tinkerpop."


class ComputedView(StoreView):
    """The store, with one more vertex property an algorithm computed (``values``: vertex id ->
    value); it hides a stored property of the same key."""

    def __init__(self, store: Any, key: str, values: dict[Any, Any]) -> None:
        super().__init__(store)
        self.key, self.computed = key, values

    def _with_computed(self, element: Any, found: list[Any], keys: Sequence[str]) -> list[Any]:
        if not isinstance(element, Vertex) or (keys and self.key not in keys):
            return found
        out = [p for p in found if not (isinstance(p, VertexProperty) and p.label == self.key)]
        if element.id in self.computed:
            out.append(VertexProperty(f"~{self.key}:{element.id}", self.key, self.computed[element.id], element))
        return out

    def properties(self, element: Any, keys: Sequence[str] = ()) -> list[Any]:
        return self._with_computed(element, self.store.properties(element, keys), keys)

    def vertex_properties(self, vertex: Vertex, keys: Sequence[str] = ()) -> list[VertexProperty]:
        return self._with_computed(vertex, self.store.vertex_properties(vertex, keys), keys)


# -- the common part -------------------------------------------------------------------------------
class VertexProgram(Step):
    """A barrier running one graph algorithm over the whole graph, configured by ``with()``.

    ``seeded``: a step before it other than the start ``V()`` (TinkerPop then starts the program
    from the traversers, not from every vertex)."""

    options: dict[str, str] = {}
    """``with()`` key (after ``~tinkerpop.``) -> the attribute it sets."""

    def __init__(self, name: str, c: Compiler) -> None:
        self.name = name
        if c.depth != 1:
            raise unsupported(f"{name}() inside a child traversal (TinkerPop runs it only at the top level)")
        self.seeded = any(not (isinstance(s, (GraphStep, VertexProgram)) and getattr(s, "at_start", True))
                          for s in c.steps_so_far)
        self.edges: Traversal | None = None

    def modulate(self, name: str, args: list[Any], c: Compiler) -> None:
        if name != "with" or not args or not isinstance(args[0], str) or len(args) > 2:
            raise unsupported(f"{name}({', '.join(map(repr, args))}) after {self.name}()")
        key = args[0][len(_PREFIX):] if args[0].startswith(_PREFIX) else args[0]
        value = args[1] if len(args) == 2 else True
        attr = self.options.get(key)
        if attr is None:
            raise unsupported(f"with({args[0]!r}) after {self.name}() (it takes "
                              f"{', '.join(_PREFIX + k for k in self.options)})")
        self.configure(attr, value, c)

    def configure(self, attr: str, value: Any, c: Compiler) -> None:
        if attr == "edges":
            if not c.is_traversal(value):
                raise TraversalError(f"{self.name}() edges need a traversal, e.g. __.outE('knows')")
            self.edges = c.child(value)
        elif attr == "property":
            if not isinstance(value, str):
                raise TraversalError(f"{self.name}() propertyName needs a string")
            setattr(self, attr, value)
        elif attr == "times":
            if not isinstance(value, int) or isinstance(value, bool):
                raise TraversalError(f"{self.name}() times needs an integer")
            setattr(self, attr, value)
        else:
            raise unsupported(f"the {attr} option of {self.name}()")

    def children(self) -> list[Traversal]:
        return [self.edges] if self.edges is not None else []

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        held: list[Traverser] = []
        for t in traversers:
            ctx.tick()
            if not isinstance(t.obj, Vertex):
                raise unsupported(f"{self.name}() after a step that ends at {type(t.obj).__name__}, "
                                  "not at vertices")
            held.append(t)
        yield from self.run(ctx, held)

    def run(self, ctx: Context, held: list[Traverser]) -> Iterator[Traverser]:
        raise NotImplementedError

    # helpers for the programs
    def graph(self, ctx: Context, default: str) -> tuple[list[Vertex], dict[Any, list[Any]]]:
        """Every vertex, and for each the far ends (ids) of the edges the ``edges`` traversal
        gives from it (``default``: ``outE`` or ``bothE`` when none was given), one per edge."""
        vertices = list(ctx.store.vertices())
        targets: dict[Any, list[Any]] = {}
        for v in vertices:
            ctx.tick()
            targets[v.id] = [_far(e, v).id for e in self.edges_of(ctx, v, default)]
        return vertices, targets

    def edges_of(self, ctx: Context, v: Vertex, default: str) -> list[Edge]:
        if self.edges is None:
            return ctx.store.adjacent(v, default)
        found = []
        for r in self.edges.run_from(ctx, Traverser.start(v)):
            if not isinstance(r.obj, Edge):
                raise TraversalError(f"{self.name}() edges traversal must give edges, not {r.obj!r}")
            found.append(r.obj)
        return found


def _far(e: Edge, v: Vertex) -> Vertex:
    """The end of ``e`` that is not ``v`` (``v`` itself for a self-loop)."""
    return e.inV if e.outV.id == v.id else e.outV


def _counts(held: list[Traverser]) -> dict[Any, int]:
    counts: dict[Any, int] = defaultdict(int)
    for t in held:
        counts[t.obj.id] += 1
    return counts


# -- pageRank() ----------------------------------------------------------------------------------
class PageRank(VertexProgram):
    """``pageRank([alpha])``: TinkerPop's PageRank (``times`` + 1 iterations, default 20 + 1;
    stops early when the ranks move less than 0.00001 in total)."""

    options = {"pageRank.edges": "edges", "pageRank.propertyName": "property", "pageRank.times": "times"}
    epsilon = 0.00001

    def __init__(self, name: str, args: list[Any], c: Compiler) -> None:
        super().__init__(name, c)
        if len(args) > 1 or (args and not is_number(args[0])):
            raise TraversalError("pageRank() takes one number, the damping factor alpha")
        self.alpha = float(args[0]) if args else 0.85
        self.property = PAGE_RANK
        self.times = 20

    def run(self, ctx: Context, held: list[Traverser]) -> Iterator[Traverser]:
        vertices, targets = self.graph(ctx, "out")
        initial = _counts(held) if self.seeded else None
        ranks = page_rank([v.id for v in vertices], targets, alpha=self.alpha, iterations=self.times + 1,
                          epsilon=self.epsilon, initial=initial, tick=ctx.tick)
        ctx.store = ComputedView(ctx.store, self.property, ranks)
        yield from held


def page_rank(ids: list[Any], targets: dict[Any, list[Any]], *, alpha: float, iterations: int, epsilon: float,
              initial: dict[Any, int] | None, tick: Any = None) -> dict[Any, float]:
    """PageRank as TinkerPop's vertex program computes it, iteration by iteration: energy
    lost at vertices with no edges, and ``1 - alpha`` of every rank, is shared out evenly again.

    >>> r = page_rank([1, 2], {1: [2], 2: [1]}, alpha=0.85, iterations=21, epsilon=1e-5, initial=None)
    >>> round(r[1], 6), round(r[2], 6)
    (0.5, 0.5)
    """
    count = float(len(ids))
    teleport = 1.0 if initial is None else 0.0
    ranks: dict[Any, float] = {}
    inbox: dict[Any, float] = {}
    iteration = 1
    if iterations <= 0:
        return ranks
    while True:
        seen_teleport, error = teleport, 0.0
        outbox: dict[Any, float] = defaultdict(float)
        for vid in ids:
            if tick is not None:
                tick()
            if iteration == 1:
                rank = float(initial.get(vid, 0)) if initial is not None else 0.0
            else:
                rank = inbox.get(vid, 0.0)
            if seen_teleport > 0.0:
                share = seen_teleport / count
                rank += share
                teleport -= share
            error += abs(rank - ranks.get(vid, 0.0))
            ranks[vid] = rank
            teleport += (1.0 - alpha) * rank
            rank = alpha * rank
            out = targets.get(vid, [])
            if out:
                for target in out:
                    outbox[target] += rank / len(out)
            else:
                teleport += rank
        inbox = outbox
        if error < epsilon or iteration >= iterations:
            return ranks
        iteration += 1


@step("pageRank")
def _page_rank(c: Compiler, name: str, args: list[Any]) -> Step:
    return PageRank(name, args, c)


# -- peerPressure() ------------------------------------------------------------------------------
class PeerPressure(VertexProgram):
    """``peerPressure()``: each vertex joins the cluster most of its neighbours vote for
    (at most ``times`` rounds, default 30; ties go to the cluster id that sorts first as text)."""

    options = {"peerPressure.edges": "edges", "peerPressure.propertyName": "property",
               "peerPressure.times": "times"}

    def __init__(self, name: str, args: list[Any], c: Compiler) -> None:
        super().__init__(name, c)
        if args:
            raise TraversalError("peerPressure() takes no arguments (configure it with with())")
        self.property = CLUSTER
        self.times = 30

    def run(self, ctx: Context, held: list[Traverser]) -> Iterator[Traverser]:
        vertices, targets = self.graph(ctx, "out")
        counts = _counts(held) if self.seeded else None
        strength = {v.id: float(counts.get(v.id, 0)) if counts is not None else 1.0 for v in vertices}
        clusters = peer_pressure([v.id for v in vertices], targets, strength, times=self.times, tick=ctx.tick)
        ctx.store = ComputedView(ctx.store, self.property, clusters)
        yield from held


def peer_pressure(ids: list[Any], targets: dict[Any, list[Any]], strength: dict[Any, float], *, times: int,
                  tick: Any = None) -> dict[Any, Any]:
    """Clusters by peer pressure, as TinkerPop's vertex program votes.

    >>> peer_pressure([1, 2, 3], {1: [2], 2: [1], 3: [2]}, {1: 1.0, 2: 1.0, 3: 1.0}, times=30)
    {1: 1, 2: 1, 3: 3}
    """
    clusters = {vid: vid for vid in ids}
    outbox = {vid: (vid, strength[vid]) for vid in ids}
    iteration = 0
    while iteration < times:
        iteration += 1
        inbox: dict[Any, list[tuple[Any, float]]] = defaultdict(list)
        for vid in ids:
            for target in targets.get(vid, []):
                inbox[target].append(outbox[vid])
        halt = True
        for vid in ids:
            if tick is not None:
                tick()
            votes: dict[Any, float] = {clusters[vid]: strength[vid]}
            for cluster, weight in inbox.get(vid, []):
                votes[cluster] = votes.get(cluster, 0.0) + weight
            chosen = _largest(votes)
            if chosen is None:
                chosen = vid
            halt = halt and clusters[vid] == chosen
            clusters[vid] = chosen
            outbox[vid] = (chosen, strength[vid])
        if halt:
            break
    return clusters


def _largest(votes: dict[Any, float]) -> Any:
    """The cluster with the most votes; ties: the one whose id sorts first as text."""
    best, most = None, 5e-324  # Java's Double.MIN_VALUE: a cluster needs more than nothing
    for cluster, weight in votes.items():
        if weight == most:
            if best is not None and str(best) > str(cluster):
                best = cluster
        elif weight > most:
            best, most = cluster, weight
    return best


@step("peerPressure")
def _peer_pressure(c: Compiler, name: str, args: list[Any]) -> Step:
    return PeerPressure(name, args, c)


# -- connectedComponent() ------------------------------------------------------------------------
class ConnectedComponent(VertexProgram):
    """``connectedComponent()``: each vertex's component is the smallest vertex id (as text)
    that reaches it over the ``edges`` (default ``bothE()``)."""

    options = {"connectedComponent.edges": "edges", "connectedComponent.propertyName": "property"}

    def __init__(self, name: str, args: list[Any], c: Compiler) -> None:
        super().__init__(name, c)
        if args:
            raise TraversalError("connectedComponent() takes no arguments (configure it with with())")
        self.property = COMPONENT

    def run(self, ctx: Context, held: list[Traverser]) -> Iterator[Traverser]:
        vertices, targets = self.graph(ctx, "both")
        ids = [v.id for v in vertices]
        component = {vid: str(vid) for vid in ids}
        sending = {v.id for v in vertices if ctx.store.adjacent(v, "both")}
        while sending:
            inbox: dict[Any, list[str]] = defaultdict(list)
            for vid in ids:
                if vid in sending:
                    for target in targets[vid]:
                        inbox[target].append(component[vid])
            sending = set()
            for vid in ids:
                ctx.tick()
                smallest = min(inbox.get(vid, []), default=component[vid])
                if smallest < component[vid]:
                    component[vid] = smallest
                    sending.add(vid)
        ctx.store = ComputedView(ctx.store, self.property, component)
        yield from held


@step("connectedComponent")
def _connected_component(c: Compiler, name: str, args: list[Any]) -> Step:
    return ConnectedComponent(name, args, c)
