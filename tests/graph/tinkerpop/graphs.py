"""TinkerPop's toy graphs, built through ``Graph.query`` (values as bindings) so both backends
get the same data the same way, committed as every write query is.

``modern``, ``crew`` and ``sink`` as ``TinkerFactory`` documents them (ids are the backend's
own, as the scenarios name vertices by ``name``, except the embedded ``modern`` graph, which
takes TinkerFactory's ids 1-12 for the few scenarios that print ids; JanusGraph cannot be given ids); ``crew``'s ``location`` is a list of
multi-properties with ``startTime``/``endTime`` meta-properties (the embedded graph refuses to
build it, so its crew scenarios are refused). ``grateful`` needs a data file: not built, its
scenarios are counted as excluded.
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
CREW_VERTICES = [
    ("person", {"name": "marko"}), ("person", {"name": "stephen"}), ("person", {"name": "matthias"}),
    ("person", {"name": "daniel"}), ("software", {"name": "gremlin"}), ("software", {"name": "tinkergraph"}),
]
CREW_LOCATIONS = {  # multi-properties with meta-properties (startTime, endTime)
    "marko": [("san diego", 1997, 2001), ("santa cruz", 2001, 2004), ("brussels", 2004, 2005), ("santa fe", 2005, None)],
    "stephen": [("centreville", 1990, 2000), ("dulles", 2000, 2006), ("purcellville", 2006, None)],
    "matthias": [("bremen", 2004, 2007), ("baltimore", 2007, 2011), ("oakland", 2011, 2014), ("seattle", 2014, None)],
    "daniel": [("spremberg", 1982, 2005), ("kaiserslautern", 2005, 2009), ("aachen", 2009, None)],
}
CREW_EDGES = [
    ("marko", "develops", "gremlin", {"since": 2009}), ("marko", "develops", "tinkergraph", {"since": 2010}),
    ("marko", "uses", "gremlin", {"skill": 4}), ("marko", "uses", "tinkergraph", {"skill": 5}),
    ("stephen", "develops", "gremlin", {"since": 2010}), ("stephen", "develops", "tinkergraph", {"since": 2011}),
    ("stephen", "uses", "gremlin", {"skill": 5}), ("stephen", "uses", "tinkergraph", {"skill": 4}),
    ("matthias", "develops", "gremlin", {"since": 2012}), ("matthias", "uses", "gremlin", {"skill": 3}),
    ("matthias", "uses", "tinkergraph", {"skill": 3}), ("daniel", "uses", "gremlin", {"skill": 5}),
    ("daniel", "uses", "tinkergraph", {"skill": 3}), ("gremlin", "traverses", "tinkergraph", {}),
]
_LOCATION_KEY = """mgmt = graph.openManagement()
if (mgmt.getPropertyKey('location') == null) {
  mgmt.makePropertyKey('location').dataType(String.class).cardinality(org.janusgraph.core.Cardinality.LIST).make()
}
mgmt.commit()
'ok'"""
SINK_VERTICES = [("loops", {"name": "loop"}), ("message", {"name": "a"}), ("message", {"name": "b"})]
SINK_EDGES = [("loop", "self", "loop", None), ("a", "link", "b", None), ("a", "link", "a", None)]
BUILT = {"modern": (MODERN_VERTICES, MODERN_EDGES), "sink": (SINK_VERTICES, SINK_EDGES),
         "crew": (CREW_VERTICES, CREW_EDGES), "empty": ([], [])}


def clear(graph: Any) -> None:
    graph.query("g.E().drop()", write=True)
    graph.query("g.V().drop()", write=True)


def build(graph: Any, kind: str) -> None:
    """Empty the graph and load ``kind`` (``modern``, ``sink`` or ``empty``)."""
    clear(graph)
    vertices, edges = BUILT[kind]
    ids: dict[str, Any] = {}
    fixed = kind == "modern" and graph.backend == "embedded"  # TinkerFactory's ids: JanusGraph picks its own
    for n, (label, props) in enumerate(vertices, start=1):
        text = "g.addV(lbl)" + (".property(T.id, vid)" if fixed else "") + "".join(
            f".property(k{i}, v{i})" for i in range(len(props))) + ".id()"
        bindings: dict[str, Any] = {"lbl": label, **({"vid": n} if fixed else {})}
        for i, (k, v) in enumerate(props.items()):
            bindings[f"k{i}"], bindings[f"v{i}"] = k, v
        [ids[props["name"]]] = graph.query(text, bindings, write=True)
    for n, (out, label, into, props) in enumerate(edges, start=len(vertices) + 1):
        if not isinstance(props, dict):  # modern and sink: a weight or nothing
            props = {} if props is None else {"weight": props}
        text = "g.V(a).as('a').V(b).addE(lbl).from('a')" + (".property(T.id, eid)" if fixed else "") + "".join(
            f".property(k{i}, v{i})" for i in range(len(props)))
        bindings = {"a": ids[out], "b": ids[into], "lbl": label, **({"eid": n} if fixed else {})}
        for i, (k, v) in enumerate(props.items()):
            bindings[f"k{i}"], bindings[f"v{i}"] = k, v
        graph.query(text, bindings, write=True)
    if kind == "crew":
        if graph.backend == "janusgraph":  # rdg's own schema script: location holds a list
            graph._backend.query(_LOCATION_KEY, {})
        for name, places in CREW_LOCATIONS.items():
            for place, start, end in places:
                text = "g.V(v).property(list, 'location', loc, 'startTime', s" + (", 'endTime', e)" if end else ")")
                graph.query(text, {"v": ids[name], "loc": place, "s": start, "e": end}, write=True)


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
