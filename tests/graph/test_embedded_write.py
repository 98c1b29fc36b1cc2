"""The embedded graph's writes follow TinkerGraph: property() folding into addV/addE, null
values, cardinalities, and mergeV/mergeE with their options and errors."""

from __future__ import annotations

import pathlib

import pytest
from gremlin_python.process.anonymous_traversal import traversal
from gremlin_python.process.graph_traversal import __
from gremlin_python.process.traversal import Cardinality, CardinalityValue, Direction, Merge, T

from rdg.graph.embedded.engine import EmbeddedConnection
from rdg.graph.embedded.errors import EmbeddedUnsupportedError, TraversalError
from rdg.graph.embedded.store import Store


@pytest.fixture
def g():
    store = Store.open(":memory:")
    yield traversal().with_remote(EmbeddedConnection(store))
    store.close()


def test_folded_properties_use_list_cardinality(g) -> None:
    v = g.add_v("animal").property("name", "a").property("name", "b").next()
    assert sorted(g.V(v).values("name").to_list()) == ["a", "b"]


def test_folded_property_traversals_read_the_incoming_traverser(g) -> None:
    g.add_v("person").property("name", "marko").iterate()
    g.V().add_v("animal").property("name", __.values("name")).property(__.values("name"), __.label()).iterate()
    animal = g.V().has_label("animal").next()
    assert g.V(animal).values("name").to_list() == ["marko"]
    assert g.V(animal).values("marko").to_list() == ["person"]


def test_property_with_cardinality_is_not_folded(g) -> None:
    v = g.add_v("person").property(Cardinality.single, "name", "a").property("name", "b").next()
    assert g.V(v).values("name").to_list() == ["a"]


def test_null_removes_and_map_forms(g) -> None:
    v = g.add_v("person").property({"name": "foo", "age": 42}).next()
    g.V(v).property({"name": CardinalityValue.set_("bar"), "age": 43}).iterate()
    assert sorted(g.V(v).values("name").to_list()) == ["bar", "foo"]
    g.V(v).property("age", None).iterate()
    assert g.V(v).values("age").to_list() == []


def test_label_and_id_tokens(g) -> None:
    assert g.add_v().property(T.label, "person").label().next() == "person"
    with pytest.raises(TraversalError, match="already been set"):
        g.add_v("a").property(T.label, "b").iterate()
    with pytest.raises(TraversalError, match="immutable"):
        g.V().property(T.id, 5).iterate()


def test_add_edge_ends(g) -> None:
    a = g.add_v("a").next()
    b = g.add_v("b").next()
    e = g.add_e("x").property("w", None).from_(__.V(a)).to(b).next()
    assert (e.outV.id, e.inV.id) == (a.id, b.id)
    with pytest.raises(TraversalError, match="must resolve to a Vertex"):
        g.add_e("x").iterate()


def test_merge_v_matches_or_creates(g) -> None:
    g.add_v("person").property("name", "marko").property(Cardinality.list_, "age", 29) \
        .property(Cardinality.list_, "age", 31).iterate()
    g.merge_v({"name": "marko"}).option(Merge.on_match, {"age": CardinalityValue.list_(33)}).iterate()
    assert sorted(g.V().values("age").to_list()) == [29, 31, 33]
    g.merge_v({"name": "marko"}).option(Merge.on_match, {"age": 1}, Cardinality.single).iterate()
    assert g.V().values("age").to_list() == [1]
    g.merge_v({T.label: "person", "name": "stephen"}).option(Merge.on_create, {"age": 19}).iterate()
    assert g.V().has("name", "stephen").values("age").to_list() == [19]


def test_merge_errors(g) -> None:
    with pytest.raises(TraversalError, match="cannot override"):
        g.merge_v({T.label: "a"}).option(Merge.on_create, {T.label: "b"}).iterate()
    with pytest.raises(TraversalError, match="hidden key: ~label"):
        g.merge_v({}).option(Merge.on_match, {"~label": "x"}).iterate()
    with pytest.raises(TraversalError, match="null Map values"):
        g.merge_v({T.label: None, "name": "x"}).iterate()
    with pytest.raises(TraversalError, match="Out Vertex not specified"):
        g.merge_e({}).iterate()
    with pytest.raises(EmbeddedUnsupportedError):
        g.merge_v({T.id: "1"}).iterate()


def test_merge_e_with_vertex_options(g) -> None:
    a = g.add_v("person").property("name", "marko").next()
    b = g.add_v("person").property("name", "vadas").next()
    spec = {T.label: "knows", Direction.OUT: Merge.out_v, Direction.IN: Merge.in_v}
    first = g.merge_e(spec).option(Merge.out_v, {T.id: a.id}).option(Merge.in_v, {T.id: b.id}).next()
    again = g.merge_e({T.label: "knows", Direction.OUT: a, Direction.IN: b}) \
        .option(Merge.on_match, {"seen": True}).next()
    assert first.id == again.id
    assert g.E().values("seen").to_list() == [True]


def test_a_graph_file_from_gremlite_is_refused_with_what_to_do(tmp_path: pathlib.Path) -> None:
    """A graph.sqlite written by rdg before its own interpreter (gremlite's quads table) is not
    read as an empty graph: opening it says what it is and how to rebuild it."""
    import sqlite3

    from rdg.graph import GraphDamagedError, connect

    old = tmp_path / "graph.sqlite"
    con = sqlite3.connect(old)
    con.execute("CREATE TABLE quads (s INTEGER, p INTEGER, o INTEGER, g INTEGER)")
    con.commit()
    con.close()
    with pytest.raises(GraphDamagedError, match=r"older embedded graph format \(gremlite\); rebuild it with `rdg run`"):
        connect(str(old))
