"""TinkerPop's toy graphs, built through ``Graph.query`` (values as bindings) so both backends
get the same data the same way, committed as every write query is.

``modern`` and ``sink`` as ``TinkerFactory`` documents them (ids are the backend's own: the
scenarios name vertices by ``name``). ``crew`` needs multi-properties with meta-properties and
``grateful`` a data file: neither is built, and their scenarios are counted as excluded.
"""

from __future__ import annotations

from typing import Any


from tests.graph.tinkerpop.features import Names

MODERN_VERTICES = [
    ("person", {"name": "marko", "age": 29}), ("person", {"name": "vadas", "age": 27}),
    ("software", {"name": "lop", "lang": "java"}), ("person", {"name": "josh", "age": 32}),
    ("software", {"name": "ripple", "lang": "java"}), ("person", {"name": "peter", "age": 35}),
]
MODERN_EDGES = [
    ("marko", "knows", "vadas", 0.5), ("marko", "knows", "josh", 1.0), ("marko", "created", "lop", 0.4),
    ("josh", "created", "ripple", 1.0), ("josh", "created", "lop", 0.4), ("peter", "created", "lop", 0.2),
]
SINK_VERTICES = [("loops", {"name": "loop"}), ("message", {"name": "a"}), ("message", {"name": "b"})]
SINK_EDGES = [("loop", "self", "loop", None), ("a", "link", "b", None), ("a", "link", "a", None)]
BUILT = {"modern": (MODERN_VERTICES, MODERN_EDGES), "sink": (SINK_VERTICES, SINK_EDGES), "empty": ([], [])}


def clear(graph: Any) -> None:
    graph.query("g.E().drop()", write=True)
    graph.query("g.V().drop()", write=True)


def build(graph: Any, kind: str) -> None:
    """Empty the graph and load ``kind`` (``modern``, ``sink`` or ``empty``)."""
    clear(graph)
    vertices, edges = BUILT[kind]
    ids: dict[str, Any] = {}
    for label, props in vertices:
        text = "g.addV(lbl)" + "".join(f".property(k{i}, v{i})" for i in range(len(props))) + ".id()"
        bindings: dict[str, Any] = {"lbl": label}
        for i, (k, v) in enumerate(props.items()):
            bindings[f"k{i}"], bindings[f"v{i}"] = k, v
        [ids[props["name"]]] = graph.query(text, bindings, write=True)
    for out, label, into, weight in edges:
        text = "g.V(a).as('a').V(b).addE(lbl).from('a')" + ("" if weight is None else ".property('weight', w)")
        graph.query(text, {"a": ids[out], "b": ids[into], "lbl": label, "w": weight}, write=True)


def names(g: Any) -> Names:
    """Vertex ids by name, edge ids by ``out-label->in`` (as the scenarios write them)."""
    by_id: dict[Any, str] = {}
    vertices: dict[str, Any] = {}
    for v in g.V().to_list():
        found = g.V(v.id).values("name").to_list()
        if found:
            by_id[v.id] = str(found[0])
            vertices[str(found[0])] = v.id
    edges: dict[str, Any] = {}
    for e in g.E().to_list():
        out = g.E(e.id).out_v().id_().to_list()
        into = g.E(e.id).in_v().id_().to_list()
        if out and into and out[0] in by_id and into[0] in by_id:
            edges[f"{by_id[out[0]]}-{e.label}->{by_id[into[0]]}"] = e.id
    return Names(vertices, edges)


__all__ = ["BUILT", "build", "clear", "names"]
