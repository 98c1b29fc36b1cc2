"""The compiled Bytewax dataflow, run bounded over files: exact graph, dead letters, retries."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from rdg.config import Settings
from rdg.pipeline import generate, load_spec, run_pipeline
from rdg.spec import DeadLetterSpec
from tests.pipeline.expected import expected_games
from tests.pipeline.fakes import FakeGraph

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def spec() -> Any:
    return load_spec(ROOT / "pipelines.yaml", env={"RDG_DATA": str(ROOT / "rdg" / "data")})


def _run(spec: Any, tmp_path: Path, lines: list[str], graph: FakeGraph, name: str = "games",
         **kw: Any) -> tuple[Any, list[dict[str, Any]]]:
    events = tmp_path / f"{name}-{random.random()}.jsonl"
    events.write_text("\n".join(lines) + "\n")
    dead = tmp_path / f"dead-{random.random()}.jsonl"
    result = run_pipeline(spec, name, settings=Settings(state_dir=str(tmp_path)), events=str(events),
                          opener=lambda: graph, dead_letter=DeadLetterSpec("file", str(dead)), **kw)
    letters = [json.loads(x) for x in dead.read_text().splitlines()] if dead.exists() else []
    return result, letters


def _fake_state(graph: FakeGraph) -> tuple[dict[Any, dict[str, Any]], dict[Any, int]]:
    vertices = {k: {p: v for p, v in props.items() if not p.endswith("_id")} for k, props in graph.vertices.items()}
    counts = {(label, f, t): n for (label, _fl, f, _tl, t), n in graph.counts().items()}
    return vertices, counts


def test_games_graph_is_exactly_what_the_events_say(spec: Any, tmp_path: Path) -> None:
    lines = generate(members=8, seed=3)["games"]
    graph = FakeGraph()
    result, letters = _run(spec, tmp_path, lines, graph)
    vertices, counts, props, malformed = expected_games(lines)
    got_vertices, got_counts = _fake_state(graph)
    assert got_counts == counts
    assert {k: v for k, v in got_vertices.items()} == vertices
    for (label, _fl, src, _tl, dst), edge in graph.edges.items():
        for prop, value in props[(label, src, dst)].items():
            assert edge[prop] == value, (label, src, dst, prop)
    assert result.events_in == len(lines) and result.dead_letters == malformed == len(letters) == 3
    assert {x["step"] for x in letters} == {"games.decode", "games.normalize", "games.enrich"}
    assert all(x["offset"] and x["reason"] and x["pipeline"] == "games" for x in letters)


def test_duplicates_and_shuffled_order_give_the_same_graph(spec: Any, tmp_path: Path) -> None:
    lines = generate(members=6, seed=11)["playback"]
    once = FakeGraph()
    _run(spec, tmp_path, lines, once, name="playback")
    messy = lines + random.Random(1).sample(lines, len(lines) // 2)
    random.Random(2).shuffle(messy)
    twice = FakeGraph()
    _run(spec, tmp_path, messy, twice, name="playback")
    assert twice.vertices == once.vertices
    assert twice.counts() == once.counts()
    assert {k: {p: v for p, v in e.items() if p != "events"} for k, e in twice.edges.items()} == \
           {k: {p: v for p, v in e.items() if p != "events"} for k, e in once.edges.items()}


def test_graph_outage_is_retried_and_nothing_is_lost(spec: Any, tmp_path: Path) -> None:
    lines = generate(members=4, seed=5)["games"]
    steady, flaky = FakeGraph(), FakeGraph(fail_times=3)
    _run(spec, tmp_path, lines, steady)
    result, _ = _run(spec, tmp_path, lines, flaky)
    assert flaky.calls > steady.calls and flaky.closed >= 3  # reconnected after each failure
    assert flaky.vertices == steady.vertices and flaky.counts() == steady.counts()
    assert result.written > 0


def test_filtered_events_are_counted_not_dead_lettered(spec: Any, tmp_path: Path) -> None:
    lines = generate(members=10, seed=7)["live_viewing"]
    failed_requests = sum(1 for x in lines if '"status": 503' in x)
    result, letters = _run(spec, tmp_path, lines, FakeGraph(), name="live_viewing")
    assert result.filtered == failed_requests > 0
    assert {x["reason"].split(":")[0] for x in letters} >= {"no row in table 'live_events' for live_event_id='ev-unknown'"}


def test_progress_is_reported(spec: Any, tmp_path: Path) -> None:
    seen: list[str] = []
    _run(spec, tmp_path, generate(members=2)["games"], FakeGraph(),
         progress=lambda m, t: seen.append(m.progress_line(t)), progress_every=0.01)
    assert seen and seen[-1].startswith("games: in ")


def test_into_the_real_embedded_graph(spec: Any, tmp_path: Path) -> None:
    """The embedded graph (SQLite) holds the same counts the test computes."""
    from rdg.graph import connect

    lines = generate(members=5, seed=9)["games"]
    path = tmp_path / "g.sqlite"
    events = tmp_path / "games.jsonl"
    events.write_text("\n".join(lines) + "\n")
    settings = Settings(state_dir=str(tmp_path), gremlin_url=str(path))
    dead = DeadLetterSpec("file", str(tmp_path / "dead.jsonl"))
    for _ in range(2):  # a second run over the same events changes nothing
        run_pipeline(spec, "games", settings=settings, events=str(events), dead_letter=dead)
    _, counts, props, _ = expected_games(lines)
    with connect(str(path)) as graph:
        dump = graph.dump()
    got = {(e["label"], e["from"][1], e["to"][1]): e["properties"] for e in dump["edges"]}
    assert {k: v["count"] for k, v in got.items()} == counts
    for ident, want in props.items():
        for prop, value in want.items():
            assert got[ident][prop] == value, (ident, prop)


@pytest.mark.parametrize("name", ["games", "live_viewing"])
def test_a_poison_pill_is_a_dead_letter_and_the_next_event_is_written(spec: Any, tmp_path: Path, name: str) -> None:
    good = generate(members=2, seed=5)[name]
    good = [line for line in good if _clean(line)][:2]
    deep = "[" * 100_000 + "]" * 100_000  # json.loads: RecursionError; Bytewax would print a Rust backtrace
    nested = json.dumps(json.loads(good[0]) | {"x": json.loads("[" * 80 + "]" * 80)})  # parses; too deep
    huge = json.dumps({"x": "a" * (2 << 20)})
    graph = FakeGraph()
    result, letters = _run(spec, tmp_path, [good[0], deep, nested, huge, good[1]], graph, name=name)
    assert result.events_in == 5 and result.dead_letters == 3
    reasons = sorted(x["reason"] for x in letters)
    assert any("nested deeper than 64" in r for r in reasons) and any("bytes is over the" in r for r in reasons)
    assert all(x["step"] == f"{name}.decode" and x["offset"] for x in letters)
    assert graph.edges  # the good events on both sides of the poison were written


def _clean(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False
