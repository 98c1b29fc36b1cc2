"""The embedded graph's filters follow TinkerPop's value semantics: ternary logic (ERROR),
equality and comparability, where() with labels, dedup, the range family and path filters."""

from __future__ import annotations

import pytest
from gremlin_python.process.anonymous_traversal import traversal
from gremlin_python.process.graph_traversal import __
from gremlin_python.process.traversal import P, Scope, T, TextP

from rdg.graph.embedded.engine import EmbeddedConnection
from rdg.graph.embedded.errors import EmbeddedUnsupportedError, TraversalError
from rdg.graph.embedded.store import Store

NAN = float("nan")


@pytest.fixture
def g():
    store = Store.open(":memory:")
    g = traversal().with_remote(EmbeddedConnection(store))
    marko = g.add_v("person").property("name", "marko").property("age", 29).next()
    josh = g.add_v("person").property("name", "josh").property("age", 32).next()
    lop = g.add_v("software").property("name", "lop").next()
    g.add_e("knows").from_(marko).to(josh).iterate()
    g.add_e("created").from_(marko).to(lop).iterate()
    g.add_e("created").from_(josh).to(lop).iterate()
    yield g
    store.close()


def test_an_error_inside_not_is_not_true(g) -> None:
    assert g.inject(1.0).not_(__.is_(P.gt(NAN))).to_list() == []
    assert g.inject(1.0).not_(__.is_(P.eq(NAN))).to_list() == [1.0]
    assert g.inject(1.0).is_(P.lt(NAN).or_(P.gt(0))).to_list() == [1.0]
    assert g.inject(1.0).or_(__.is_(P.lt(NAN)), __.is_(P.gt(2))).to_list() == []


def test_null_and_types(g) -> None:
    assert g.inject(None).is_(P.gte(None)).to_list() == [None]
    assert g.inject(None).is_(P.neq(None)).to_list() == []
    assert g.inject("1", 1, 1.0, True).is_(P.eq(1)).to_list() == [1, 1.0]
    assert g.inject([1, 2], [1, "x"]).is_(P.lt([1, 3])).to_list() == [[1, 2]]


def test_text_predicate_on_a_number_is_an_error(g) -> None:
    with pytest.raises(TraversalError):
        g.V().values("age").is_(TextP.containing("2")).to_list()


def test_where_labels_and_by(g) -> None:
    older = g.V().has("name", "marko").as_("a").out().has("age").where(P.gt("a")).by("age").values("name")
    assert older.to_list() == ["josh"]
    knows = g.V().as_("a").out().as_("b").where(__.as_("a").out("knows").as_("b")).select("b").values("name")
    assert knows.to_list() == ["josh"]


def test_infix_and_binds_tighter_than_or(g) -> None:
    # everything after an infix and()/or() belongs to its right-hand side, as in TinkerPop
    found = g.V().has("age", P.gt(30)).or_().has("age", P.lt(30)).and_().has("name", "nobody").to_list()
    assert g.V(*found).values("name").to_list() == ["josh"]


def test_dedup_by_and_local(g) -> None:
    assert g.V().both().dedup().by(T.label).count().next() == 2
    assert g.inject(1, 1.0, 1).dedup().to_list() == [1, 1.0]
    assert g.inject([2, 2, 3]).dedup(Scope.local).next() == {2, 3}


def test_range_family(g) -> None:
    assert g.inject(1, 2, 3, 4).range_(1, 3).to_list() == [2, 3]
    assert g.inject(1, 2, 3, 4).skip(3).to_list() == [4]
    assert g.inject(1, 2, 3, 4).tail(2).to_list() == [3, 4]
    assert g.inject([1, 2, 3]).limit(Scope.local, 1).to_list() == [1]
    assert g.inject([1, 2, 3]).tail(Scope.local, 2).to_list() == [[2, 3]]
    assert g.inject([]).tail(Scope.local, 1).to_list() == []
    with pytest.raises(TraversalError):
        g.inject(1).range_(3, 1).to_list()


def test_dedup_inside_repeat_is_refused(g) -> None:
    with pytest.raises(EmbeddedUnsupportedError):
        g.V().repeat(__.dedup()).times(2).count().next()


def test_path_filters(g) -> None:
    assert g.V().has("name", "marko").out("created").in_("created").simple_path().values("name").to_list() == ["josh"]
    assert g.V().has("name", "marko").out("created").in_("created").cyclic_path().values("name").to_list() == ["marko"]


def test_a_regex_that_backtracks_is_stopped_with_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A user's pattern costs at most REGEX_SECONDS per value (here made tiny so the test is quick)."""
    import rdg.graph.embedded.predicates as predicates
    from rdg.errors import RdgTimeoutError

    monkeypatch.setattr(predicates, "REGEX_SECONDS", 1e-9)
    with pytest.raises(RdgTimeoutError, match=r"regular expression .* was stopped"):
        predicates.holds(TextP.regex("(a|aa)*c"), "a" * 3000)
