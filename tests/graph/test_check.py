"""`rdg graph check|repair` on the embedded graph, and the helpers the JanusGraph race test shares.

The helpers write a graph the way earlier versions did (naive read-then-write upserts: look a
vertex up, create it when absent, add an edge per event) and compare a repaired graph with an
oracle written by one serial ``graph.upsert``.
"""

from __future__ import annotations

import json
import random
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest
from gremlin_python.process.graph_traversal import __

from rdg.errors import ConfigError
from rdg.graph import (
    EdgeLabel,
    EdgeWrite,
    GraphModel,
    VertexLabel,
    VertexWrite,
    check,
    connect,
    repair,
    wins,
)
from rdg.graph._check import _merge_edge, _merge_vertex, _transaction
from rdg.graph._dump import flat
from tests.graph.test_cli_graph import run

# -- shared helpers (also used by test_integration_check.py) -----------------------------------------


class Space:
    """Labels and key names under one prefix, so tests sharing a JanusGraph never meet."""

    def __init__(self, prefix: str | None = None) -> None:
        self.prefix = prefix or "c" + uuid.uuid4().hex[:8] + "_"
        self.member, self.member_id = self.prefix + "member", self.prefix + "member_id"
        self.device, self.device_id = self.prefix + "device", self.prefix + "device_id"
        self.used = self.prefix + "used"

    @property
    def labels(self) -> list[str]:
        return [self.member, self.device]

    def model(self) -> GraphModel:
        return GraphModel(
            vertices=(VertexLabel(self.member, self.member_id, {"tier": "string", "age": "long"}),
                      VertexLabel(self.device, self.device_id, {"os": "string"})),
            edges=(EdgeLabel(self.used, self.member, self.device, {"vertical": "string"}),),
        )


def generate(space: Space, *, members: int = 20, devices: int = 40, seed: int = 0) -> list[Any]:
    """Vertex writes with close (often equal) event times, and edges with several events each."""
    rnd = random.Random(seed)
    out: list[Any] = []
    for m in range(members):
        for _ in range(rnd.randint(1, 3)):
            out.append(VertexWrite(space.member, space.member_id, f"m{m:02d}",
                                   {"tier": rnd.choice(["free", "gold", "plus"]), "age": rnd.randint(18, 70)},
                                   ts=1000 + rnd.randrange(20), source=f"members@{rnd.randrange(3)}"))
    for d in range(devices):
        if rnd.random() < 0.7:
            out.append(VertexWrite(space.device, space.device_id, f"d{d:02d}", {"os": rnd.choice(["ios", "android"])},
                                   ts=1000 + rnd.randrange(20), source="devices@0"))
    n = 0
    for m in range(members):
        for d in rnd.sample(range(devices), 3):
            for _ in range(rnd.randint(2, 4)):
                n += 1
                out.append(EdgeWrite(space.used, (space.member, space.member_id, f"m{m:02d}"),
                                     (space.device, space.device_id, f"d{d:02d}"),
                                     {"vertical": rnd.choice(["games", "playback"])}, ts=2000 + rnd.randrange(50),
                                     event_id=f"e{n}", source=f"used@{n % 4}"))
    return out


def _value(value: Any, janus: bool) -> Any:
    if janus and isinstance(value, int) and not isinstance(value, bool):
        from gremlin_python.statics import long

        return long(value)
    return value


def naive_vertex(src: Any, label: str, key: str, value: Any) -> list[Any]:
    """Look the vertex up, create it when absent: racing callers can both create it."""
    return (src.V().has(label, key, value).fold()
            .coalesce(__.unfold(), __.add_v(label).property(key, value).property("_key", key))
            .id_().to_list())


def naive_upsert(src: Any, w: Any, rnd: random.Random, *, janus: bool) -> None:
    """One write, the naive way: properties last-write-wins on whichever copy was found, one edge per event."""
    if isinstance(w, VertexWrite):
        vid = rnd.choice(sorted(naive_vertex(src, w.label, w.key, w.key_value)))
        state = flat(src.V(vid).value_map().next())
        t = src.V(vid)
        for name, value in sorted(w.properties.items()):
            if wins(w.ts, value, state.get(f"_ts_{name}"), state.get(name)):
                t = t.property(name, _value(value, janus)).property(f"_ts_{name}", _value(w.ts, janus))
        if wins(w.ts, w.source, state.get("_ts"), state.get("_src") or ""):
            t = t.property("_ts", _value(w.ts, janus)).property("_src", w.source)
        t.iterate()
        return
    a = rnd.choice(sorted(naive_vertex(src, *w.from_vertex)))
    b = rnd.choice(sorted(naive_vertex(src, *w.to_vertex)))
    t = src.V(a).as_("a").V(b).add_e(w.label).from_("a")
    props = {"first_seen": w.ts, "last_seen": w.ts, "count": 1, "_src": w.source, "_eids": json.dumps([w.event_id])}
    for name, value in w.properties.items():
        props[name], props[f"_ts_{name}"] = value, w.ts
    for name, value in sorted(props.items()):
        t = t.property(name, _value(value, janus))
    t.iterate()


@contextmanager
def unit(graph: Any) -> Iterator[Any]:
    """Where a naive write runs: its own transaction on the embedded graph, a request on JanusGraph."""
    if graph.backend == "janusgraph":
        yield graph.g
        return
    with _transaction(graph) as src:
        yield src


def view(graph: Any, space: Space, writes: list[Any]) -> dict[str, Any]:
    """What must equal between a repaired graph and the oracle, with the prefix taken out.

    Vertices: every property but ``_ts``/``_src`` of vertices with no write of their own (a
    key-only endpoint is stamped with the first event that created it, which depends on the
    order of writes). Edges: every property, ``_eids`` as a set (its order follows the copies).
    """
    own = {w.identity for w in writes if isinstance(w, VertexWrite)}
    dump = graph.dump(labels=space.labels)

    def plain(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace(space.prefix, "")
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    vertices: dict[Any, Any] = {}
    per_label: dict[str, int] = {}
    for v in dump["vertices"]:
        props = {plain(k): plain(x) for k, x in v["properties"].items()}
        if (v["label"], v["id"]) not in own:
            props.pop("_ts", None)
            props.pop("_src", None)
        vertices[(plain(v["label"]), v["id"])] = props
        per_label[plain(v["label"])] = per_label.get(plain(v["label"]), 0) + 1
    edges: dict[Any, Any] = {}
    for e in dump["edges"]:
        props = {k: plain(x) for k, x in e["properties"].items()}
        props["_eids"] = sorted(json.loads(props.get("_eids", "[]")))
        ident = (plain(e["label"]), tuple(plain(e["from"])), tuple(plain(e["to"])))
        assert ident not in edges, f"edge {ident} is still duplicated"
        edges[ident] = props
    return {"per_label": per_label, "vertices": vertices, "edges": edges}


# -- unit tests on the embedded graph ----------------------------------------------------------------


@pytest.fixture
def graph(tmp_path: Path) -> Iterator[Any]:
    g = connect(str(tmp_path / "graph.sqlite"))
    yield g
    g.close()


@pytest.fixture
def oracle(tmp_path: Path) -> Iterator[Any]:
    g = connect(str(tmp_path / "oracle.sqlite"))
    yield g
    g.close()


def write_with_copies(graph: Any, space: Space, writes: list[Any], *, seed: int = 1) -> None:
    """What racing writers leave: a third of the identities created two or three times, writes
    landing on any copy, each edge event added as its own edge, a quarter of the events replayed."""
    rnd = random.Random(seed)
    keys = {(w.label, w.key_value): w.key for w in writes if isinstance(w, VertexWrite)}
    keys.update({(e[0], e[2]): e[1] for w in writes if isinstance(w, EdgeWrite) for e in (w.from_vertex, w.to_vertex)})
    with unit(graph) as src:
        for (label, value), key in sorted(keys.items(), key=repr):
            for _ in range(1 + (rnd.random() < 0.33) * rnd.randint(1, 2)):
                src.add_v(label).property(key, value).property("_key", key).iterate()
    replayed = writes + [w for w in writes if isinstance(w, EdgeWrite) and rnd.random() < 0.25]
    rnd.shuffle(replayed)
    for w in replayed:
        with unit(graph) as src:
            naive_upsert(src, w, rnd, janus=False)


def test_a_clean_graph_is_clean_and_repair_does_nothing(graph: Any) -> None:
    space = Space()
    writes = generate(space, members=5, devices=8)
    assert graph.upsert(writes).failed == []
    before = graph.dump()
    report = check(graph)
    assert report.clean and report.vertices == len(before["vertices"]) and report.edges == len(before["edges"])
    assert all(examples == [] for examples in report.examples.values())
    done = repair(graph)
    assert not done.changed and done.merges == []
    assert graph.dump() == before


@pytest.mark.parametrize("per_request", [200, 1])
def test_duplicates_made_on_purpose_are_found_and_repaired_to_the_oracle(graph: Any, oracle: Any, per_request: int,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("rdg.graph._check._MOVES_PER_REQUEST", per_request)  # 1: a merge in many units
    space = Space()
    writes = generate(space)
    write_with_copies(graph, space, writes)
    found = check(graph, examples=3)
    assert not found.clean
    assert found.duplicate_vertices > 0 and found.extra_vertices >= found.duplicate_vertices
    assert found.duplicate_edges > 0 and found.unkeyed_vertices == 0 and found.dangling_edges == 0
    assert len(found.examples["duplicate_vertices"]) == 3 and found.examples["duplicate_vertices"][0]["copies"] >= 2
    json.dumps(found.as_dict())  # JSON-ready

    dry = repair(graph, dry_run=True)
    assert dry.dry_run and dry.vertices_merged == found.duplicate_vertices
    assert dry.vertices_dropped == found.extra_vertices and dry.edges_merged == found.duplicate_edges
    assert check(graph).as_dict() == check(graph).as_dict() and not check(graph).clean  # nothing changed

    done = repair(graph)
    assert (done.vertices_merged, done.vertices_dropped, done.edges_merged, done.edges_dropped) == \
        (dry.vertices_merged, dry.vertices_dropped, dry.edges_merged, dry.edges_dropped)
    assert done.edges_moved == dry.edges_moved > 0
    assert check(graph).clean
    assert oracle.upsert(writes).failed == []
    assert view(graph, space, writes) == view(oracle, space, writes)

    again = repair(graph)
    assert not again.changed and again.merges == []


def test_merging_uses_last_write_wins_with_its_tie_break() -> None:
    keep = {"_key": "member_id", "member_id": "m1", "tier": "free", "_ts_tier": 5, "_ts": 5, "_src": "a",
            "age": 30, "_ts_age": 9}
    other = {"_key": "member_id", "member_id": "m1", "tier": "gold", "_ts_tier": 5, "_ts": 5, "_src": "b",
             "nick": "x"}
    unstamped = {"_key": "member_id", "member_id": "m1", "age": 99, "nick": "y", "_ts_nick": 1}
    merged = _merge_vertex([keep, other, unstamped])
    assert merged["tier"] == "gold" and merged["_ts_tier"] == 5   # equal times: the greater value, as wins()
    assert merged["age"] == 30                                   # a value without _ts_ never beats one with
    assert merged["nick"] == "y" and merged["_ts_nick"] == 1
    assert (merged["_ts"], merged["_src"]) == (5, "b")             # newest event, ties by source
    assert _merge_vertex([unstamped, other, keep]) == merged       # the order of copies does not matter


def test_edge_counts_from_the_event_windows() -> None:
    a = {"count": 3, "_eids": '["e1", "e2", "e3"]', "first_seen": 10, "last_seen": 30, "_src": "s1",
         "vertical": "games", "_ts_vertical": 30}
    b = {"count": 2, "_eids": '["e3", "e4"]', "first_seen": 5, "last_seen": 40, "_src": "s0",
         "vertical": "playback", "_ts_vertical": 40}
    m = _merge_edge([a, b])
    assert m["count"] == 4 and json.loads(m["_eids"]) == ["e1", "e2", "e3", "e4"]
    assert (m["first_seen"], m["last_seen"], m["_src"], m["vertical"]) == (5, 40, "s0", "playback")
    # a copy that counted more than its window holds: counts add up, minus the ids seen twice
    window = [f"x{i}" for i in range(256)]
    big = {"count": 1000, "_eids": json.dumps(window), "first_seen": 1, "last_seen": 50}
    small = {"count": 2, "_eids": json.dumps(["x255", "y"]), "first_seen": 2, "last_seen": 60}
    m = _merge_edge([big, small])
    assert m["count"] == 1000 + 2 - 1
    eids = json.loads(m["_eids"])
    assert len(eids) == 256 and eids[-2:] == ["x255", "y"] and "x0" not in eids   # newest kept, trimmed
    same = _merge_edge([big, dict(big)])
    assert same["count"] == 1000 + 1000 - 256   # shared events outside the windows cannot be seen


def test_edges_between_copies_are_moved_and_merged(graph: Any) -> None:
    with unit(graph) as src:
        ids = [src.add_v("m").property("member_id", "m1").property("_key", "member_id").id_().next() for _ in range(2)]
        d = [src.add_v("d").property("device_id", "d1").property("_key", "device_id").id_().next() for _ in range(2)]
        for i, (a, b) in enumerate([(ids[0], d[0]), (ids[1], d[1]), (ids[1], d[0]), (ids[1], ids[0])]):
            src.V(a).as_("a").V(b).add_e("used" if i < 3 else "same").from_("a") \
                .property("count", 1).property("_eids", json.dumps([f"e{i}"])) \
                .property("first_seen", 10 + i).property("last_seen", 10 + i).iterate()
    found = check(graph)
    assert (found.duplicate_vertices, found.duplicate_edges, found.extra_edges) == (2, 1, 2)
    done = repair(graph)
    assert (done.vertices_merged, done.vertices_dropped, done.edges_moved, done.edges_merged) == (2, 2, 3, 1)
    assert check(graph).clean
    edges = graph.dump()["edges"]
    assert [(e["label"], e["from"], e["to"], e["properties"]["count"]) for e in edges] == [
        ("same", ["m", "m1"], ["m", "m1"], 1), ("used", ["m", "m1"], ["d", "d1"], 3)]
    assert edges[1]["properties"]["first_seen"] == 10 and edges[1]["properties"]["last_seen"] == 12


def test_unkeyed_vertices_and_their_edges_are_reported_and_left(graph: Any) -> None:
    with unit(graph) as src:
        a = src.add_v("m").property("member_id", "m1").property("_key", "member_id").id_().next()
        b = src.add_v("d").property("os", "ios").id_().next()                    # never keyed
        c = src.add_v("d").property("_key", "device_id").id_().next()            # keyed by nothing
        for x in (b, c):
            src.V(a).as_("a").V(x).add_e("used").from_("a").property("count", 1).iterate()
    found = check(graph, examples=1)
    assert (found.unkeyed_vertices, found.dangling_edges, found.duplicate_vertices) == (2, 2, 0)
    assert found.examples["unkeyed_vertices"][0]["reason"] in ("no _key", "no value for its key 'device_id'")
    assert "has no _key" in found.examples["dangling_edges"][0]["reason"] or \
        "no value" in found.examples["dangling_edges"][0]["reason"]
    done = repair(graph)
    assert not done.changed and (done.unkeyed_vertices, done.dangling_edges) == (2, 2)
    assert len(graph.dump()["vertices"]) == 3


def test_labels_limit_what_is_read_and_repaired(graph: Any) -> None:
    mine, theirs = Space(), Space()
    write_with_copies(graph, mine, generate(mine, members=4, devices=6), seed=3)
    write_with_copies(graph, theirs, generate(theirs, members=4, devices=6, seed=9), seed=3)
    assert check(graph, labels=[mine.member]).duplicate_vertices > 0
    before_theirs = graph.dump(labels=theirs.labels)
    repair(graph, labels=mine.labels)
    assert check(graph, labels=mine.labels).clean
    assert graph.dump(labels=theirs.labels) == before_theirs
    assert not check(graph, labels=theirs.labels).clean
    with pytest.raises(ConfigError, match="must match"):
        check(graph, labels=["drop()"])


def test_check_of_a_dump(graph: Any) -> None:
    space = Space()
    write_with_copies(graph, space, generate(space, members=4, devices=6), seed=5)
    live, dumped = check(graph), check(graph.dump())
    assert dumped.backend is None and live.backend == "embedded"
    for name in ("vertices", "edges", "duplicate_vertices", "extra_vertices", "duplicate_edges", "extra_edges"):
        assert getattr(dumped, name) == getattr(live, name), name
    assert check(graph.dump(), labels=[space.device]).duplicate_vertices == \
        check(graph, labels=[space.device]).duplicate_vertices


# -- the commands ------------------------------------------------------------------------------------


def test_cli_check_then_repair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "g.sqlite"
    monkeypatch.setenv("RDG_GREMLIN_URL", str(path))
    monkeypatch.setenv("RDG_STATE_DIR", str(tmp_path / "state"))
    space = Space()
    with connect(str(path)) as g:
        write_with_copies(g, space, generate(space, members=4, devices=6), seed=2)
    code, out, _ = run(["graph", "check", "--examples", "2"], capsys)
    assert code == 1 and "duplicate vertices" in out and "examples:" in out and "rdg graph repair" in out
    code, out, _ = run(["graph", "check", "--json", "--label", space.member], capsys)
    data = json.loads(out)
    assert code == 1 and data["clean"] is False and data["labels"] == [space.member]
    code, out, _ = run(["graph", "repair", "--dry-run"], capsys)
    assert code == 0 and "would merge" in out
    code, out, _ = run(["graph", "check"], capsys)
    assert code == 1
    code, out, _ = run(["graph", "repair"], capsys)
    assert code == 0 and "merged" in out and "kept" in out
    code, out, _ = run(["graph", "check"], capsys)
    assert code == 0 and "clean" in out
    code, out, _ = run(["graph", "repair", "--json"], capsys)
    assert code == 0 and json.loads(out)["changed"] is False


def test_cli_rejects_a_bad_label(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RDG_GREMLIN_URL", str(tmp_path / "g.sqlite"))
    monkeypatch.setenv("RDG_STATE_DIR", str(tmp_path / "state"))
    code, _, err = run(["graph", "check", "--label", "x y"], capsys)
    assert code == 2 and "must match" in err

