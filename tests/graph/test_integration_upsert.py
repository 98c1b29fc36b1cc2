"""The conformance suite every graph backend passes: embedded (SQLite, rdg's own Gremlin machine) and JanusGraph Server."""

from __future__ import annotations

import random
from typing import Any, Callable

import pytest

from rdg.errors import ConflictError
from rdg.graph import EdgeWrite, GraphModel, VertexLabel, VertexWrite

pytestmark = pytest.mark.timeout(180)

NASTY = ["it's", 'say "hi"', "back\\slash", "g.V().drop()", "'); g.V().drop(); ('", "${x} $x \\u0041",
         "línea\nnueva\ttab", "drop() iterate() __ P.within([1])", ""]


def batch(names: Any, n: int = 60, seed: int = 0) -> list[Any]:
    rnd = random.Random(seed)
    out: list[Any] = []
    for i in range(n):
        acc, prof, dev = f"a{i % 5}", f"p{i % 9}", f"d{i % 7}"
        ts = 1_000 + rnd.randrange(10_000)
        out.append(VertexWrite(names.profile, names.profile_id, prof, {"name": f"n{i}", "age": i}, ts=ts, source=f"s@{i}"))
        out.append(EdgeWrite(names.has_profile, (names.account, names.account_id, acc), (names.profile, names.profile_id, prof),
                             ts=ts, event_id=f"hp{i % 9}", source=f"s@{i}"))
        out.append(EdgeWrite(names.used, (names.profile, names.profile_id, prof), (names.device, names.device_id, dev),
                             {"vertical": rnd.choice(["games", "playback"])}, ts=ts, event_id=f"u{i}", source=f"s@{i}"))
    return out


def test_schema_init_twice_is_a_no_op(graph: Any, names: Any) -> None:
    first = graph.init_schema(names.model())
    assert any(names.account in line for line in first)
    assert graph.init_schema(names.model()) == []
    shown = graph.schema()
    assert names.profile in shown["vertex_labels"]
    assert f"rdg_{names.profile}_by_{names.profile_id}" in shown["indexes"]


def test_conflicting_schema_change_is_refused(graph: Any, names: Any) -> None:
    graph.init_schema(names.model())
    changed = GraphModel(vertices=(VertexLabel(names.account, names.account_id, {"plan": "long"}),))
    with pytest.raises(ConflictError, match="plan"):
        graph.init_schema(changed)


def test_replaying_a_batch_leaves_the_graph_identical(graph: Any, names: Any, dump_of: Callable) -> None:
    graph.init_schema(names.model())
    writes = batch(names)
    result = graph.upsert(writes)
    assert result.failed == []
    first = dump_of(graph)
    assert len(first["edges"]) > 0
    again = graph.upsert(writes)
    assert again.failed == []
    assert dump_of(graph) == first
    shuffled = list(writes)
    random.Random(3).shuffle(shuffled)
    graph.upsert(shuffled)
    assert dump_of(graph) == first


def test_out_of_order_events_keep_the_newest_values(graph: Any, names: Any) -> None:
    p = (names.profile, names.profile_id, "p1")
    graph.upsert([VertexWrite(*p, {"name": "new", "age": 40}, ts=300, source="late")])
    graph.upsert([VertexWrite(*p, {"name": "old", "age": 10}, ts=100, source="early"),
                  VertexWrite(*p, {"name": "older"}, ts=50)])
    graph.upsert([VertexWrite(*p, {"age": 41}, ts=400), VertexWrite(*p, {"age": 39}, ts=350)])
    (row,) = graph.g.V().has(names.profile, names.profile_id, "p1").value_map().to_list()
    assert row["name"] == ["new"] and row["age"] == [41]
    assert row["_ts_name"] == [300] and row["_ts_age"] == [400] and row["_src"] == [""]


def test_edge_counts_are_exact_under_replay(graph: Any, names: Any) -> None:
    p, d = (names.profile, names.profile_id, "p1"), (names.device, names.device_id, "d1")
    events = [EdgeWrite(names.used, p, d, ts=t, event_id=f"e{t}") for t in (5, 1, 9, 3)]
    graph.upsert(events[:2])
    graph.upsert(events)            # e5, e1 replayed; e9, e3 new
    graph.upsert(events[1:3])       # all replayed
    graph.upsert(list(reversed(events)))
    (edge,) = graph.g.V().has(names.profile, names.profile_id, "p1").out_e(names.used).value_map().to_list()
    props = {k: (v[0] if isinstance(v, list) else v) for k, v in edge.items()}
    assert (props["count"], props["first_seen"], props["last_seen"]) == (4, 1, 9)
    assert graph.g.V().has(names.profile, names.profile_id, "p1").out_e(names.used).count().next() == 1


def test_edges_create_their_endpoints_with_keys_only(graph: Any, names: Any) -> None:
    graph.upsert([EdgeWrite(names.watched, (names.profile, names.profile_id, "p9"), (names.title, names.title_id, "t9"),
                            {"device_id": "d1"}, ts=10, event_id="w1")])
    (title,) = graph.g.V().has(names.title, names.title_id, "t9").value_map().to_list()
    assert title[names.title_id] == ["t9"] and title["_key"] == [names.title_id]
    assert not [k for k in title if not k.startswith("_") and k != names.title_id]


@pytest.mark.parametrize("value", NASTY)
def test_values_with_quotes_backslashes_and_keywords_round_trip(graph: Any, names: Any, value: str) -> None:
    key = "k" + value  # also as a key value
    graph.upsert([VertexWrite(names.device, names.device_id, key, {"os": value}, ts=1),
                  EdgeWrite(names.used, (names.profile, names.profile_id, value), (names.device, names.device_id, key),
                            {"vertical": value}, ts=1, event_id=value)])
    assert graph.g.V().has(names.device, names.device_id, key).values("os").to_list() == [value]
    assert graph.g.V().has(names.profile, names.profile_id, value).out_e(names.used).values("vertical").to_list() == [value]
    # and through Gremlin text, as a binding
    found = graph.query(f"g.V().has('{names.device}', '{names.device_id}', k).values('os')", {"k": key})
    assert found == [value]
    assert graph.g.V().has_label(names.device).count().next() == 1  # nothing was dropped


def test_ttl_sweep_drops_only_old_elements(graph: Any, names: Any) -> None:
    graph.init_schema(names.model())
    now = 10_000_000
    graph.upsert([VertexWrite(names.profile, names.profile_id, "old", ts=now - 120_000),
                  VertexWrite(names.profile, names.profile_id, "fresh", ts=now - 1_000),
                  EdgeWrite(names.used, (names.account, names.account_id, "x"), (names.device, names.device_id, "d"), ts=1,
                            event_id="u"),
                  EdgeWrite(names.has_profile, (names.account, names.account_id, "x"), (names.profile, names.profile_id, "fresh"),
                            ts=1, event_id="h")])
    dropped = graph.expire(names.model(), now_ms=now)
    assert dropped[names.profile] == 1 and dropped[names.used] == 1
    assert graph.g.V().has_label(names.profile).values(names.profile_id).to_list() == ["fresh"]
    assert graph.g.E().has_label(names.has_profile).count().next() == 1  # no ttl on has_profile


def test_bad_elements_are_returned_not_raised(graph: Any, names: Any) -> None:
    good = VertexWrite(names.device, names.device_id, "ok", {"os": "linux"}, ts=1)
    bad = VertexWrite(names.device, names.device_id, "bad", {"os": ["a", "list"]}, ts=1)
    result = graph.upsert([good, bad])
    assert [w for w, _ in result.failed] == [bad]
    assert graph.g.V().has(names.device, names.device_id, "ok").count().next() == 1


@pytest.mark.integration
def test_janusgraph_rejected_element_is_isolated_by_bisecting(gremlin_url: str, names: Any) -> None:
    from rdg.graph import connect

    with connect(gremlin_url, batch_size=16) as graph:
        try:
            graph.init_schema(GraphModel(vertices=(VertexLabel(names.device, names.device_id, {"ram": "long"}),)))
            writes = [VertexWrite(names.device, names.device_id, f"d{i}", {"ram": i}, ts=1) for i in range(20)]
            wrong = VertexWrite(names.device, names.device_id, "d7x", {"ram": "lots"}, ts=1)  # a string for a long key
            writes.insert(7, wrong)
            result = graph.upsert(writes)
            assert [w for w, _ in result.failed] == [wrong]
            assert "ram" in result.failed[0][1] or "Long" in result.failed[0][1]
            assert graph.g.V().has_label(names.device).count().next() == 20
        finally:
            graph.g.V().has_label(names.device).drop().iterate()


@pytest.mark.integration
def test_both_backends_store_the_same_graph(both: Any, names: Any, dump_of: Callable) -> None:
    emb, jan = both
    writes = batch(names, n=40, seed=7)
    for g in (emb, jan):
        g.init_schema(names.model())
        g.upsert(writes)
    assert dump_of(emb) == dump_of(jan)


@pytest.mark.integration
def test_janusgraph_element_dropped_between_read_and_write_is_retried(gremlin_url: str, names: Any,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    """The apply script finds a vertex the read saw gone: a retryable error, a fresh read, nothing lost."""
    from rdg.graph import connect

    with connect(gremlin_url) as graph:
        try:
            graph.init_schema(names.model())
            profile, device = (names.profile, names.profile_id, "p0"), (names.device, names.device_id, "d0")
            graph.upsert([VertexWrite(*profile, {"name": "old"}, ts=1),
                          EdgeWrite(names.used, profile, device, {"vertical": "games"}, ts=1, event_id="e1")])
            backend, dropped = graph._backend, []
            read = backend.read_state

            def read_then_drop(co: Any) -> Any:
                state = read(co)
                if not dropped:  # another writer (or an expire sweep) drops p0 right after our read
                    dropped.append(state[0][(names.profile, "p0")].id)
                    graph.g.V(dropped[0]).drop().iterate()
                return state

            backend.read_state = read_then_drop
            graph.backoff_s = 0.01
            result = graph.upsert([VertexWrite(*profile, {"name": "new"}, ts=2),
                                   EdgeWrite(names.used, profile, device, {"vertical": "playback"}, ts=2, event_id="e2")])
            assert dropped and result.failed == []
            assert "vanished during the batch" in caplog.text and "retry 1/" in caplog.text
            p0 = graph.g.V().has(names.profile, names.profile_id, "p0").value_map().to_list()
            assert len(p0) == 1 and p0[0]["name"] == ["new"]  # one vertex again, with the new value
            edge = graph.g.V().has(names.profile, names.profile_id, "p0").out_e(names.used).value_map().to_list()
            assert len(edge) == 1 and edge[0]["count"] == 1 and edge[0]["vertical"] == "playback"
        finally:
            graph.g.V().has_label(*names.vertex_labels()).drop().iterate()


@pytest.mark.integration
def test_unreachable_server_is_a_clear_error() -> None:
    from rdg.errors import ServerError
    from rdg.graph import connect

    with pytest.raises(ServerError, match="not reachable"):
        connect("ws://127.0.0.1:1/gremlin")


def test_many_small_batches_write_the_same_graph(graph: Any, names: Any, dump_of: Callable, tmp_path: Any) -> None:
    """Chunking (and, on JanusGraph, requests in flight side by side) changes nothing."""
    from rdg.graph import connect

    writes = batch(names, n=120, seed=11)
    with connect(str(tmp_path / "reference.sqlite")) as reference:
        reference.upsert(writes)
        expected = dump_of(reference)
    graph.batch_size = 7
    result = graph.upsert(writes)
    assert result.failed == [] and result.requests >= -(-(len(expected["vertices"]) + len(expected["edges"])) // 7)
    assert dump_of(graph) == expected
    graph.upsert(list(reversed(writes)))
    assert dump_of(graph) == expected
