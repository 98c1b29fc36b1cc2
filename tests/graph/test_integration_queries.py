"""Canned queries: the same answers on the embedded graph and on JanusGraph, over the same data."""

from __future__ import annotations

from typing import Any

import pytest

from rdg.errors import NotFoundError
from rdg.graph import EdgeWrite, VertexWrite, queries

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def activity(n: Any) -> list[Any]:
    a = lambda k: (n.account, n.account_id, k)  # noqa: E731
    p = lambda k: (n.profile, n.profile_id, k)  # noqa: E731
    d = lambda k: (n.device, n.device_id, k)  # noqa: E731
    t = lambda k: (n.title, n.title_id, k)  # noqa: E731
    w: list[Any] = [VertexWrite(*p("p1"), {"name": "Ann"}, ts=1), VertexWrite(*p("p2"), {"name": "Bob"}, ts=1)]
    w += [EdgeWrite(n.has_profile, a("a1"), p("p1"), ts=10, event_id="h1"),
          EdgeWrite(n.has_profile, a("a1"), p("p2"), ts=11, event_id="h2"),
          EdgeWrite(n.has_profile, a("a2"), p("p3"), ts=12, event_id="h3")]
    for i in range(12):
        prof, dev, title = ("p1", "p2")[i % 2], f"d{i % 3}", f"t{i % 5}"
        w.append(EdgeWrite(n.used, p(prof), d(dev), {"vertical": "playback"}, ts=100 + i, event_id=f"u{i}"))
        w.append(EdgeWrite(n.watched, p(prof), t(title), {"device_id": dev, "position_s": i * 60},
                           ts=100 + i, event_id=f"w{i}"))
    w.append(EdgeWrite(n.used, p("p3"), d("d2"), ts=500, event_id="u-p3"))
    return w


@pytest.fixture
def loaded(both: Any, names: Any) -> tuple[Any, Any]:
    for g in both:
        g.init_schema(names.model())
        assert g.upsert(activity(names)).failed == []
    return both


def test_journey_is_the_same_on_both_backends(loaded: Any, names: Any) -> None:
    emb, jan = loaded
    for kwargs in ({}, {"since": 105}, {"limit": 4}):
        a = queries.journey(emb, "a1", label=names.account, **kwargs)
        b = queries.journey(jan, "a1", label=names.account, **kwargs)
        assert a == b and a
    steps = queries.journey(emb, "a1", label=names.account)
    assert [s.at for s in steps] == sorted(s.at for s in steps)
    assert steps[0].action == names.has_profile
    assert {s.action for s in steps} == {names.has_profile, names.used, names.watched}
    assert all(s.at >= 105 for s in queries.journey(emb, "a1", label=names.account, since=105))


def test_neighbors_are_the_same_on_both_backends(loaded: Any, names: Any) -> None:
    emb, jan = loaded
    cases = [{"hops": 1}, {"hops": 2}, {"hops": 3, "edge_limit": 2}, {"hops": 2, "lookback_s": 1, "now_ms": 1200}]
    for kwargs in cases:
        kwargs = {"lookback_s": None, **kwargs}
        a = queries.neighbors(emb, names.device, "d2", **kwargs)
        assert a == queries.neighbors(jan, names.device, "d2", **kwargs) and a
    one = queries.neighbors(emb, names.device, "d2", hops=1, lookback_s=None)
    assert {x.vertex for x in one} == {f"{names.profile}:p1", f"{names.profile}:p2", f"{names.profile}:p3"}
    recent = queries.neighbors(emb, names.device, "d2", hops=1, lookback_s=1, now_ms=1200)
    assert [x.vertex for x in recent] == [f"{names.profile}:p3"]  # only the edge seen at 500 is within 1 s of 1200


def test_path_is_the_same_on_both_backends(loaded: Any, names: Any) -> None:
    emb, jan = loaded
    start, end = (names.account, "a2"), (names.title, "t3")
    a = queries.path(emb, start, end, max_hops=5)
    assert a == queries.path(jan, start, end, max_hops=5)
    assert a.vertices[0] == f"{names.account}:a2" and a.vertices[-1] == f"{names.title}:t3"
    assert len(a.edges) == 4  # a2 -> p3 -> d2 <- p? -> t3
    with pytest.raises(NotFoundError, match="no path"):
        queries.path(emb, start, end, max_hops=2)


def test_unknown_label_and_vertex_are_clear_errors(loaded: Any, names: Any) -> None:
    for g in loaded:
        with pytest.raises(NotFoundError, match="unknown vertex label") as err:
            queries.neighbors(g, names.device + "x", "d1")
        assert "did you mean" in str(err.value)
        with pytest.raises(NotFoundError, match="no .* with"):
            queries.journey(g, "nobody", label=names.account)
