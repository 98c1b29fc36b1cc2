"""Traversal strategies given with ``g.withStrategies(...)``: ``ReadOnlyStrategy``,
``SubgraphStrategy`` and ``PartitionStrategy``.

The two decorating strategies are views over the :class:`~rdg.graph.embedded.store.Store`: the
engine puts a view in ``ctx.store`` and every step reads through it, so a vertex outside the
subgraph (or the read partitions) is never seen, whichever step asks. A view narrows what the
reading methods return and hands every other method to the store it wraps.

>>> from gremlin_python.process.graph_traversal import __
>>> from gremlin_python.process.strategies import SubgraphStrategy
>>> from rdg.graph.embedded.store import Store
>>> from rdg.graph.embedded.traverser import Context
>>> store = Store.open(":memory:")
>>> a, b = store.add_vertex("person"), store.add_vertex("robot")
>>> ctx = Context(store)
>>> apply_strategies(ctx, [SubgraphStrategy(vertices=__.hasLabel("person"))])
>>> [v.label for v in ctx.store.vertices()]
['person']
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator, Sequence

from gremlin_python.structure.graph import Edge, Vertex, VertexProperty

from rdg.graph.embedded.errors import unsupported
from rdg.graph.embedded.traversal import Compiler, Traversal
from rdg.graph.embedded.traverser import Context, Traverser

__all__ = ["PartitionView", "StoreView", "SubgraphView", "apply_strategies", "side_context"]

_FAR = {"out": "inV", "in": "outV"}
"""The end of an edge a step in that direction arrives at."""


class StoreView:
    """A store seen through a filter. Subclasses say which vertices, edges and properties are
    visible (:meth:`vertex_ok`, :meth:`edge_ok`, :meth:`property_ok`); every method a view does not
    define goes to the wrapped store (writes, transactions, methods other steps add)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def __getattr__(self, name: str) -> Any:
        if name.startswith(("add_", "set_", "drop_")):
            self.forget()
        return getattr(self.store, name)

    # -- what is visible (overridden) --------------------------------------------------------------
    def vertex_ok(self, vertex: Vertex) -> bool:
        return True

    def edge_ok(self, edge: Edge, arrived_at: str | None) -> bool:
        """Whether ``edge`` is visible, reached from a vertex (``arrived_at``: its far end,
        ``inV`` or ``outV``) or on its own (None: ``E()``)."""
        return True

    def property_ok(self, prop: Any) -> bool:
        return True

    def forget(self) -> None:
        """The graph is about to change: drop what was remembered about it."""

    # -- reading, narrowed ---------------------------------------------------------------------------
    def vertices(self, ids: Iterable[Any] | None = None) -> Iterator[Vertex]:
        return (v for v in self.store.vertices(ids) if self.vertex_ok(v))

    def vertices_where(self, labels: Sequence[str] | None, key: str | None,
                       values: Sequence[Any] | None) -> Iterator[Vertex]:
        return (v for v in self.store.vertices_where(labels, key, values) if self.vertex_ok(v))

    def edges(self, ids: Iterable[Any] | None = None) -> Iterator[Edge]:
        return (e for e in self.store.edges(ids) if self.edge_ok(e, None))

    def edges_where(self, labels: Sequence[str]) -> Iterator[Edge]:
        return (e for e in self.store.edges_where(labels) if self.edge_ok(e, None))

    def adjacent(self, vertex: Vertex, direction: str, labels: Sequence[str] = ()) -> list[Edge]:
        out: list[Edge] = []
        for d in (("out", "in") if direction == "both" else (direction,)):
            out.extend(e for e in self.store.adjacent(vertex, d, labels) if self.edge_ok(e, _FAR[d]))
        return out

    def neighbours(self, vertex: Vertex, direction: str, labels: Sequence[str] = ()) -> list[Vertex]:
        out: list[Vertex] = []
        for d in (("out", "in") if direction == "both" else (direction,)):
            for e in self.store.adjacent(vertex, d, labels):
                far = e.inV if d == "out" else e.outV
                if self.neighbour_edge_ok(e) and self.vertex_ok(far):
                    out.append(far)
        return out

    def neighbour_edge_ok(self, edge: Edge) -> bool:
        """Whether ``out()``/``in()``/``both()`` may cross ``edge`` (its far end is checked apart)."""
        return True

    def visible(self, elements: Sequence[Any]) -> list[Any]:
        out = []
        for e in self.store.visible(elements):
            if isinstance(e, Vertex) and not self.vertex_ok(e):
                continue
            if isinstance(e, Edge) and not self.edge_ok(e, None):
                continue
            out.append(e)
        return out

    def exists(self, element: Any) -> bool:
        return bool(self.store.exists(element)) and bool(self.visible([element]))

    def properties(self, element: Any, keys: Sequence[str] = ()) -> list[Any]:
        return [p for p in self.store.properties(element, keys) if self.property_ok(p)]

    def vertex_properties(self, vertex: Vertex, keys: Sequence[str] = ()) -> list[VertexProperty]:
        return [p for p in self.store.vertex_properties(vertex, keys) if self.property_ok(p)]

    def values(self, element: Any, keys: Sequence[str] = ()) -> list[Any]:
        return [p.value for p in self.properties(element, keys)]

    def keys(self, element: Any) -> list[str]:
        return list(dict.fromkeys(p.label if isinstance(p, VertexProperty) else p.key
                                  for p in self.properties(element)))


def side_context(ctx: Context, store: Any) -> Context:
    """A fresh context on ``store`` with ``ctx``'s time limit (for traversals a strategy or an
    algorithm runs on the side: no side effects, no sack)."""
    side = Context(store)
    side.deadline = ctx.deadline
    for name in ("timeout_s",):
        if hasattr(ctx, name):
            setattr(side, name, getattr(ctx, name))
    return side


# -- SubgraphStrategy ----------------------------------------------------------------------------
class SubgraphView(StoreView):
    """``SubgraphStrategy``: only vertices the ``vertices`` traversal yields something for, edges
    the ``edges`` traversal keeps (with both ends in the subgraph when ``checkAdjacentVertices``,
    the default), vertex properties the ``vertexProperties`` traversal keeps. The criteria run
    on the whole graph, as TinkerPop runs them."""

    def __init__(self, store: Any, ctx: Context, *, vertices: Traversal | None, edges: Traversal | None,
                 vertex_properties: Traversal | None, check_adjacent: bool) -> None:
        super().__init__(store)
        self.criteria_ctx = side_context(ctx, store)
        self.vertex_criterion = vertices
        self.edge_criterion = edges
        self.property_criterion = vertex_properties
        self.check_adjacent = check_adjacent
        self._vertex_seen: dict[Any, bool] = {}
        self._edge_seen: dict[Any, bool] = {}

    def forget(self) -> None:
        self._vertex_seen.clear()
        self._edge_seen.clear()

    def _passes(self, criterion: Traversal, element: Any) -> bool:
        return criterion.produces(self.criteria_ctx, Traverser.start(element))

    def vertex_ok(self, vertex: Vertex) -> bool:
        if self.vertex_criterion is None:
            return True
        found = self._vertex_seen.get(vertex.id)
        if found is None:
            found = self._vertex_seen[vertex.id] = self._passes(self.vertex_criterion, vertex)
        return found

    def _edge_criterion_ok(self, edge: Edge) -> bool:
        if self.edge_criterion is None:
            return True
        found = self._edge_seen.get(edge.id)
        if found is None:
            found = self._edge_seen[edge.id] = self._passes(self.edge_criterion, edge)
        return found

    def edge_ok(self, edge: Edge, arrived_at: str | None) -> bool:
        if not self._edge_criterion_ok(edge):
            return False
        if not self.check_adjacent or self.vertex_criterion is None:
            return True
        if arrived_at == "inV":
            return self.vertex_ok(edge.inV)
        if arrived_at == "outV":
            return self.vertex_ok(edge.outV)
        return self.vertex_ok(edge.inV) and self.vertex_ok(edge.outV)

    def neighbour_edge_ok(self, edge: Edge) -> bool:
        return self._edge_criterion_ok(edge)

    def property_ok(self, prop: Any) -> bool:
        if self.property_criterion is None or not isinstance(prop, VertexProperty):
            return True
        return self._passes(self.property_criterion, prop)

    def writes(self) -> bool:
        """Whether a criterion changes the graph (refused: reading must not write)."""
        return any(t is not None and t.writes
                   for t in (self.vertex_criterion, self.edge_criterion, self.property_criterion))


# -- PartitionStrategy ---------------------------------------------------------------------------
class PartitionView(StoreView):
    """``PartitionStrategy``: vertices and edges whose ``partitionKey`` property is one of the
    ``readPartitions``; new vertices and edges get ``partitionKey = writePartition``. As in
    TinkerPop, ``out()``/``in()``/``both()`` check the vertex they reach, not the edge they cross,
    and properties are not partitioned (``includeMetaProperties`` is refused)."""

    def __init__(self, store: Any, *, key: str, write: str | None, read: Sequence[Any]) -> None:
        super().__init__(store)
        self.key, self.write, self.read = key, write, list(read)

    def _in_partition(self, element: Any) -> bool:
        from rdg.graph.embedded.values import key_of

        wanted = {key_of(r) for r in self.read}
        return any(key_of(v) in wanted for v in self.store.values(element, (self.key,)))

    def vertex_ok(self, vertex: Vertex) -> bool:
        return self._in_partition(vertex)

    def edge_ok(self, edge: Edge, arrived_at: str | None) -> bool:
        return self._in_partition(edge)

    def add_vertex(self, label: str, vid: Any = None) -> Vertex:
        v = self.store.add_vertex(label, vid)
        if self.write is not None:
            self.store.add_vertex_property(v, self.key, self.write)
        return v

    def add_edge(self, label: str, out: Vertex, into: Vertex, eid: Any = None) -> Edge:
        e = self.store.add_edge(label, out, into, eid)
        if self.write is not None:
            self.store.set_edge_property(e, self.key, self.write)
        return e


# -- installing them -------------------------------------------------------------------------------
def _child(c: Compiler, value: Any, strategy: str, option: str) -> Traversal | None:
    if value is None:
        return None
    if not c.is_traversal(value):
        raise unsupported(f"{strategy}({option}: {value!r}): the option takes an anonymous traversal")
    return c.child(value)


def _subgraph(ctx: Context, config: dict[str, Any]) -> None:
    c = Compiler()
    check = config.get("checkAdjacentVertices", config.get("checkAdjacentProperties", True))
    view = SubgraphView(ctx.store, ctx,
                        vertices=_child(c, config.get("vertices"), "SubgraphStrategy", "vertices"),
                        edges=_child(c, config.get("edges"), "SubgraphStrategy", "edges"),
                        vertex_properties=_child(c, config.get("vertexProperties"), "SubgraphStrategy",
                                                 "vertexProperties"),
                        check_adjacent=bool(check))
    if view.writes():
        raise unsupported("a SubgraphStrategy whose criteria change the graph")
    ctx.store = view


def _partition(ctx: Context, config: dict[str, Any]) -> None:
    if config.get("includeMetaProperties"):
        raise unsupported("PartitionStrategy(includeMetaProperties: true) (partitioned vertex properties)")
    key = config.get("partitionKey")
    if not isinstance(key, str):
        raise unsupported("a PartitionStrategy without a partitionKey string")
    read = config.get("readPartitions") or []
    if isinstance(read, (str, int)):
        read = [read]
    ctx.store = PartitionView(ctx.store, key=key, write=config.get("writePartition"), read=list(read))


def _read_only(ctx: Context, config: dict[str, Any]) -> None:
    ctx.read_only = True


def _productive_by(ctx: Context, config: dict[str, Any]) -> None:
    """``ProductiveByStrategy``: a ``by()`` that yields nothing gives null (see ``By.productive``)."""
    if config.get("productiveKeys"):
        raise unsupported("ProductiveByStrategy(productiveKeys: ...)")
    ctx.options["productive_by"] = True


_STRATEGIES: dict[str, Callable[[Context, dict[str, Any]], None]] = {
    "ReadOnlyStrategy": _read_only, "SubgraphStrategy": _subgraph, "PartitionStrategy": _partition,
    "ProductiveByStrategy": _productive_by}


def apply_strategies(ctx: Context, strategies: Sequence[Any]) -> None:
    """Install ``strategies`` (gremlinpython strategy objects) on ``ctx``, in the order given.

    Raises:
        EmbeddedUnsupportedError: A strategy the embedded graph does not apply.
    """
    for strategy in strategies:
        name = getattr(strategy, "strategy_name", type(strategy).__name__)
        install = _STRATEGIES.get(name)
        if install is None:
            raise unsupported(f"the strategy {name}")
        install(ctx, dict(getattr(strategy, "configuration", {}) or {}))
