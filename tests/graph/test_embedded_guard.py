"""The embedded graph's guard: what gremlite would answer wrongly is refused by name, on both
entry points (``Graph.g`` bytecode and ``rdg query`` text); what it answers right still runs."""

from __future__ import annotations

from typing import Any

import pytest
from gremlin_python.process.graph_traversal import __
from gremlin_python.process.traversal import P, TextP

from rdg.graph import EmbeddedUnsupportedError


@pytest.mark.parametrize("build, refused", [
    (lambda g: g.V().has("age", P.neq(27)), "predicate neq()"),
    (lambda g: g.V().has("age", P.without(27)), "predicate without()"),
    (lambda g: g.V().has("name", TextP.regex("^ma")), "predicate regex()"),
    (lambda g: g.V().has("name", TextP.notContaining("a")), "predicate notContaining()"),
    (lambda g: g.V().repeat(__.out()).times(2), "step times()"),
    (lambda g: g.V().dedup(), "step dedup()"),
    (lambda g: g.V().add_v("x"), "addV() after a step that reads every vertex"),
    (lambda g: g.V().as_("a").select("a", "b").by("x").by("y"), "select() with more than one by()"),
    (lambda g: g.V().properties().id_(), "the ids of properties"),
    (lambda g: g.V().property("x", None), "null value"),
    (lambda g: g.add_v("x").property("n", 1).property("n", 2), "set twice"),
    (lambda g: g.V().constant(None), "constant(null)"),
    (lambda g: g.union(__.V(), __.V()), "union() as the first step"),
    (lambda g: g.V().where(__.as_("a").out()), "matching step labels"),
])
def test_a_form_gremlite_answers_wrongly_is_refused_by_name(rdg_graph: Any, build: Any, refused: str) -> None:
    with pytest.raises(EmbeddedUnsupportedError, match=refused.replace("(", r"\(").replace(")", r"\)")) as err:
        build(rdg_graph.g).to_list()
    assert "JanusGraph" in (err.value.hint or "")


def test_what_gremlite_answers_right_still_runs(rdg_graph: Any) -> None:
    g = rdg_graph.g
    rdg_graph.query("g.addV('person').property('name', 'marko').property('age', 29)", write=True)
    rdg_graph.query("g.addV('person').property('name', 'vadas').property('age', 27)", write=True)
    assert sorted(g.V().has("name", P.within("marko", "vadas")).values("name").to_list()) == ["marko", "vadas"]
    assert g.V().has("name", TextP.startingWith("ma")).values("age").to_list() == [29]
    assert g.V().count().to_list() == [2]
    assert rdg_graph.query("g.V().has('name', 'vadas').values('age')") == [27]
