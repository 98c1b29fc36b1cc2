"""Coalescing and planning: pure Python, no graph."""

from __future__ import annotations

import datetime as dt
import json

from rdg.graph import EdgeWrite, VertexWrite
from rdg.graph._plan import EVENT_ID_WINDOW, EdgeState, VertexState, coalesce, plan

M = ("member", "member_id", "m1")
D = ("device", "device_id", "d1")


def test_newest_event_wins_per_property_within_a_batch() -> None:
    co = coalesce([
        VertexWrite("member", "member_id", "m1", {"tier": "gold", "country": "NL"}, ts=10, source="a"),
        VertexWrite("member", "member_id", "m1", {"tier": "free"}, ts=5, source="b"),
        VertexWrite("member", "member_id", "m1", {"country": "BE"}, ts=20, source="c"),
    ])
    v = co.vertices[("member", "m1")]
    assert (v.props["tier"].value, v.props["tier"].ts) == ("gold", 10)
    assert (v.props["country"].value, v.props["country"].ts) == ("BE", 20)
    assert (v.ts, v.source) == (20, "c")


def test_equal_times_keep_the_same_winner_in_any_order() -> None:
    a = VertexWrite("member", "member_id", "m1", {"tier": "a"}, ts=1)
    b = VertexWrite("member", "member_id", "m1", {"tier": "b"}, ts=1)
    for order in ([a, b], [b, a]):
        assert coalesce(order).vertices[("member", "m1")].props["tier"].value == "b"
    # and against what is stored: the stored "b" stays, a stored "a" gives way
    co = coalesce([a])
    stored_b = {("member", "m1"): VertexState(7, {"member_id": "m1", "tier": "b", "_ts_tier": 1, "_ts": 1})}
    assert len(plan(co, stored_b, {})) == 0
    stored_a = {("member", "m1"): VertexState(7, {"member_id": "m1", "tier": "a", "_ts_tier": 1, "_ts": 1})}
    assert plan(coalesce([b]), stored_a, {}).set_vertices[0].props["tier"] == "b"


def test_edge_collects_events_span_and_creates_endpoints() -> None:
    co = coalesce([EdgeWrite("used", M, D, ts=7, event_id="e2"), EdgeWrite("used", M, D, ts=3, event_id="e1"),
                   EdgeWrite("used", M, D, ts=7, event_id="e2")])
    (edge,) = co.edges.values()
    assert (edge.first_seen, edge.last_seen) == (3, 7)
    assert edge.events == {"e2": 7, "e1": 3}
    ops = plan(co, {}, {})
    assert sorted(nv.label for nv in ops.new_vertices) == ["device", "member"]
    assert ops.new_edges[0].props["count"] == 2
    assert json.loads(ops.new_edges[0].props["_eids"]) == ["e1", "e2"]


def test_replay_against_applied_state_plans_nothing() -> None:
    batch = [VertexWrite("member", "member_id", "m1", {"tier": "gold"}, ts=10),
             EdgeWrite("used", M, D, {"app": "tv"}, ts=7, event_id="e1")]
    first = plan(coalesce(batch), {}, {})
    state_v = {("member", "m1"): VertexState(1, first.new_vertices[1].props),
               ("device", "d1"): VertexState(2, first.new_vertices[0].props)}
    state_e = {("used", "member", "m1", "device", "d1"): EdgeState(first.new_edges[0].props, "e")}
    assert len(plan(coalesce(batch), state_v, state_e)) == 0


def test_older_event_does_not_overwrite_and_new_event_counts_once() -> None:
    stored = {"count": 1, "first_seen": 5, "last_seen": 5, "_eids": '["e1"]', "app": "tv", "_ts_app": 5}
    state_v = {("member", "m1"): VertexState(1, {"member_id": "m1", "_ts": 5}),
               ("device", "d1"): VertexState(2, {"device_id": "d1", "_ts": 5})}
    co = coalesce([EdgeWrite("used", M, D, {"app": "phone"}, ts=2, event_id="e0"),
                   EdgeWrite("used", M, D, {"app": "web"}, ts=2, event_id="e1")])
    ops = plan(co, state_v, {("used", "member", "m1", "device", "d1"): EdgeState(stored, "x")})
    (change,) = ops.set_edges
    assert change.props["count"] == 2  # e0 is new, e1 was counted already
    assert change.props["first_seen"] == 2
    assert "app" not in change.props and "last_seen" not in change.props


def test_event_id_window_is_bounded() -> None:
    writes = [EdgeWrite("used", M, D, ts=i, event_id=f"e{i}") for i in range(EVENT_ID_WINDOW + 10)]
    (ne,) = plan(coalesce(writes), {}, {}).new_edges
    assert ne.props["count"] == EVENT_ID_WINDOW + 10
    assert len(json.loads(ne.props["_eids"])) == EVENT_ID_WINDOW


def test_bad_writes_are_refused_with_a_reason() -> None:
    bad = [
        VertexWrite("mem ber", "member_id", "m1"),
        VertexWrite("member", "member_id", None),
        VertexWrite("member", "member_id", "m1", {"x": [1, 2]}),
        VertexWrite("member", "member_id", "m1", {"_ts": 1}),
        EdgeWrite("used", M, D, {"count": 3}),
        EdgeWrite("used", ("member", "member_id"), D),  # type: ignore[arg-type]
        VertexWrite("member", "member_id", "m1", {"big": 2**63}),
        VertexWrite("member", "member_id", "m1", ts="yesterday"),  # type: ignore[arg-type]
    ]
    co = coalesce(bad)
    assert [w for w, _ in co.failed] == bad
    reasons = [r for _, r in co.failed]
    assert "must match" in reasons[0] and "reserved" in reasons[3] and "maintained by rdg" in reasons[4]
    assert not co.vertices and not co.edges


def test_datetimes_become_epoch_ms_and_none_is_skipped() -> None:
    when = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    co = coalesce([VertexWrite("member", "member_id", "m1", {"joined": when, "gone": None}, ts=1)])
    props = co.vertices[("member", "m1")].props
    assert props["joined"].value == 1704067200000 and "gone" not in props


def test_an_edges_copy_only_makes_its_in_vertex_exist() -> None:
    edge = EdgeWrite("used", ("profile", "profile_id", "p1"), ("device", "device_id", "d1"), ts=7, event_id="e1")
    mine = lambda ident: ident[0] == "device"  # noqa: E731 - this writer owns the device, not the profile
    ops = plan(coalesce([], ends=[edge]), {}, {}, owns=mine)
    (made,) = ops.new_vertices
    assert made.label == "device" and made.props["_ts"] == 7
    assert sorted(made.props) == ["_key", "_src", "_ts", "device_id"]  # key-only
    assert not ops.new_edges and not ops.deferred
    # already there: nothing to do, and never a change to someone else's vertex
    there = {("device", "d1"): VertexState(3, {"device_id": "d1", "_ts": 1})}
    assert len(plan(coalesce([], ends=[edge]), there, {}, owns=mine)) == 0
