"""The embedded graph's branching, looping, match and side-effect steps follow TinkerPop: global
option children, repeat's checks before and after a pass, match bindings, aggregate/cap, sacks."""

from __future__ import annotations

import pytest
from gremlin_python.process.anonymous_traversal import traversal
from gremlin_python.process.graph_traversal import __
from gremlin_python.process.traversal import Barrier, Operator, P, Pick, Pop, Scope

from rdg.graph.embedded.engine import EmbeddedConnection
from rdg.graph.embedded.errors import EmbeddedUnsupportedError, TraversalError
from rdg.graph.embedded.store import Store


@pytest.fixture
def g():
    store = Store.open(":memory:")
    g = traversal().with_remote(EmbeddedConnection(store))
    marko = g.add_v("person").property("name", "marko").property("age", 29).next()
    josh = g.add_v("person").property("name", "josh").property("age", 32).next()
    lop = g.add_v("software").property("name", "lop").next()
    ripple = g.add_v("software").property("name", "ripple").next()
    g.add_e("knows").from_(marko).to(josh).iterate()
    g.add_e("created").from_(marko).to(lop).iterate()
    g.add_e("created").from_(josh).to(lop).iterate()
    g.add_e("created").from_(josh).to(ripple).iterate()
    yield g
    store.close()


def test_repeat_checks_before_and_after_a_pass(g) -> None:
    marko = g.V().has("name", "marko")
    assert sorted(marko.clone().repeat(__.out()).times(2).values("name").to_list()) == ["lop", "ripple"]
    assert g.V().has("name", "marko").times(0).repeat(__.out()).values("name").to_list() == ["marko"]
    emitted = g.V().has("name", "marko").emit().repeat(__.out()).times(1).values("name").to_list()
    assert sorted(emitted) == ["josh", "lop", "marko"]
    until = g.V().has("name", "marko").repeat(__.out()).until(__.has_label("software")).values("name").to_list()
    assert sorted(until) == ["lop", "lop", "ripple"]


def test_named_loops(g) -> None:
    found = (g.V().has("name", "marko").repeat("a", __.out().repeat("b", __.out()).times(1)
                                              .filter_(__.loops("a").is_(0))).times(1).values("name").to_list())
    assert sorted(found) == ["lop", "ripple"]
    assert g.inject(1).loops().to_list() == [0]


def test_union_options_are_global_children(g) -> None:
    assert g.V().union(__.out().count(), __.constant("x").limit(1)).to_list() == [4, "x"]
    assert g.union(__.V().has("name", "lop").values("name"), __.inject(7)).to_list() == ["lop", 7]
    assert g.V().local(__.out().count()).to_list() == [2, 2, 0, 0]


def test_choose_and_branch(g) -> None:
    picked = g.V().choose(__.label()).option("person", __.constant(1)).option(Pick.none, __.constant(0)).to_list()
    assert picked == [1, 1, 0, 0]
    ages = g.V().has_label("person").branch(__.values("age")).option(P.lt(30), __.constant("young")).to_list()
    assert ages == ["young"]
    assert g.V().choose(__.out(), __.constant("yes"), __.constant("no")).to_list() == ["yes", "yes", "no", "no"]
    with pytest.raises(TraversalError):
        g.V().choose(__.values("age")).option(29, __.identity()).to_list()


def test_coalesce_optional_map(g) -> None:
    assert g.V().coalesce(__.values("age"), __.constant(0)).to_list() == [29, 32, 0, 0]
    assert g.V().has("name", "lop").optional(__.out()).values("name").to_list() == ["lop"]
    assert g.V().map(__.out().values("name")).to_list() == ["josh", "lop"]
    paths = g.V().has("name", "josh").flat_map(__.out().values("name")).path().to_list()
    assert [len(p) for p in paths] == [2, 2]


def test_match_binds_labels(g) -> None:
    found = g.V().match(__.as_("a").out("knows").as_("b"), __.as_("b").out("created").as_("c")).to_list()
    assert sorted(r["c"].id for r in found) == sorted(v.id for v in g.V().has_label("software").to_list())
    assert all(r["a"].id == g.V().has("name", "marko").next().id for r in found)
    names = g.V().match(__.as_("a").out().as_("b"), __.not_(__.as_("a").out("created").as_("b"))) \
        .select("b").values("name").to_list()
    assert names == ["josh"]
    with pytest.raises(EmbeddedUnsupportedError):
        g.V().match(__.as_("a").out().limit(1).as_("b")).to_list()


def test_aggregate_store_cap(g) -> None:
    assert sorted(g.V().values("name").aggregate("x").cap("x").next()) == ["josh", "lop", "marko", "ripple"]
    assert g.V().aggregate(Scope.local, "x").by("age").cap("x").next() == [29, 32]
    assert g.with_side_effect("a", 1, Operator.sum_).V().aggregate("a").by("age").cap("a").next() == 62
    seen = g.V().aggregate("x").has("name", "marko").select("x").count(Scope.local).to_list()
    assert seen == [4]


def test_sacks(g) -> None:
    assert g.with_sack(1).V().has("name", "marko").out().sack(Operator.sum_).by(__.constant(2)).sack().to_list() \
        == [3, 3]
    merged = g.with_bulk(False).with_sack(1, Operator.sum_).V().out().barrier().sack().to_list()
    assert sorted(merged) == [1, 1, 2]
    norm = g.with_sack(1.0).V().has("name", "josh").out().barrier(Barrier.norm_sack).sack().to_list()
    assert norm == [0.5, 0.5]


def test_fail_and_refusals(g) -> None:
    with pytest.raises(TraversalError, match="stop here"):
        g.V().fail("stop here").to_list()
    assert g.V().has("name", "nobody").fail().to_list() == []
    with pytest.raises(EmbeddedUnsupportedError):
        g.V().repeat(__.out().as_("v").select(Pop.all_, "v")).times(2).to_list()
