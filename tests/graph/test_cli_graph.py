"""`rdg graph ...`, `rdg query`, `rdg journey`, `rdg neighbors`, `rdg path` through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rdg.cli import main
from rdg.graph import EdgeWrite, connect

REPO = Path(__file__).resolve().parents[2]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(REPO)  # pipelines.yaml and its data paths
    monkeypatch.setenv("RDG_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("RDG_GREMLIN_URL", "embedded")
    path = tmp_path / "state" / "graph.sqlite"
    with connect(str(path)) as g:
        g.upsert([
            EdgeWrite("has_profile", ("account", "account_id", "a1"), ("profile", "profile_id", "p1"), ts=1000, event_id="1"),
            EdgeWrite("used", ("profile", "profile_id", "p1"), ("device", "device_id", "d1"),
                      {"vertical": "games"}, ts=2000, event_id="2"),
            EdgeWrite("played", ("profile", "profile_id", "p1"), ("game", "game_id", "g'1"),
                      {"device_id": "d1", "score": 7}, ts=3000, event_id="3"),
        ])
    return path


def test_graph_init_twice_then_schema(embedded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["graph", "init"], capsys)
    assert code == 0 and "create index:rdg_account_by_account_id" in out
    code, out, _ = run(["graph", "init", "--json"], capsys)
    assert code == 0 and json.loads(out)["changed"] == []
    code, out, _ = run(["graph", "schema"], capsys)
    assert code == 0 and "has_profile" in out and "account->profile" in out


def test_query_with_bindings_and_json(embedded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["query", "g.V().has('game', 'game_id', gid).in('played').values('profile_id')",
                        "-b", "gid=g'1", "--json"], capsys)
    assert code == 0 and json.loads(out) == ["p1"]
    code, out, _ = run(["query", "g.V().hasLabel('profile').valueMap('profile_id')"], capsys)
    assert code == 0 and "profile_id" in out and "(1 result)" in out


def test_journey_neighbors_path(embedded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["journey", "a1"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert "has_profile" in lines[2] and "used" in lines[3] and "played" in lines[4]
    code, out, _ = run(["journey", "a1", "--since", "2500", "--json"], capsys)
    assert [s["action"] for s in json.loads(out)] == ["played"]
    code, out, _ = run(["neighbors", "device", "d1", "--hops", "2", "--lookback", "all", "--json"], capsys)
    assert code == 0 and [n["vertex"] for n in json.loads(out)] == ["profile:p1", "account:a1", "game:g'1"]
    code, out, _ = run(["path", "account:a1", "game:g'1"], capsys)
    assert code == 0 and out.splitlines()[0] == "account:a1 -has_profile-> profile:p1 -played-> game:g'1"


@pytest.mark.parametrize("argv, message", [
    (["query", "g.V(."], "Gremlin syntax error at column 5"),
    (["query", "g.V().has('x', os.system)"], "unknown name 'os'"),
    (["query", "g.V().foo()"], "unknown step foo()"),
    (["journey", "a1", "--label", "acount"], "did you mean 'account'"),
    (["neighbors", "devize", "d1"], "unknown vertex label 'devize'"),
    (["neighbors", "device", "nope"], "no device with device_id='nope'"),
    (["path", "account:a1", "game"], "expected LABEL:KEY"),
    (["journey", "a1", "--since", "last tuesday"], "use epoch ms"),
    # issue 10, finding 11: these ended in "unexpected error: ValueError / RecursionError"
    (["query", "g.V().has('name', '\\uZZZZ')"], "\\u must be followed by 4 hex digits"),
    (["query", "g.V().has('x', " + "[" * 3000 + "]" * 3000 + ")"], "nested more than 64 levels deep"),
    (["query", "g.inject(x)", "-b", "x=" + "[" * 3000 + "]" * 3000], "nested too deeply"),
    # finding 9: `rdg query` could delete; now read-only unless --write
    (["query", "g.V().drop()"], "this query changes the graph (drop)"),
    (["query", "g.V().sideEffect(__.addV('x')).count()"], "this query changes the graph (addV)"),
])
def test_bad_input_is_one_clear_message(embedded: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                                        message: str) -> None:
    code, out, err = run(argv, capsys)
    assert code != 0
    assert message in err
    assert "Traceback" not in err


def test_query_writes_only_with_write_and_stops_at_the_timeout(embedded: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["query", "g.V().has('device', 'device_id', 'd1').drop()"], capsys)
    assert code == 1 and "read-only" in err
    assert run(["query", "g.V().has('device', 'device_id', 'd1').drop()", "--write"], capsys)[0] == 0
    code, out, _ = run(["query", "g.V().has('device', 'device_id', 'd1').count()", "--json"], capsys)
    assert code == 0 and json.loads(out) == [0]
    for _ in range(6):
        run(["query", "g.addV('x')", "--write"], capsys)
    # a traversal that adds while it reads ends: one new vertex per vertex there before (TinkerPop's semantics)
    before = json.loads(run(["query", "g.V().count()", "--json"], capsys)[1])[0]
    code, out, _ = run(["query", "g.V().addV('y').count()", "--write", "--json"], capsys)
    assert code == 0 and json.loads(out) == [before]
    assert json.loads(run(["query", "g.V().count()", "--json"], capsys)[1]) == [2 * before]
    # a walk without end is stopped by the timeout, and what it wrote is rolled back
    code, _, err = run(["query", "g.V().property('z', 1).repeat(both()).emit()", "--write", "--timeout", "1"],
                       capsys)
    assert code != 0 and "took longer than 1 s and was stopped" in err
    code, out, _ = run(["query", "g.V().has('z', 1).count()", "--json"], capsys)
    assert json.loads(out) == [0]


def test_a_damaged_embedded_graph_is_refused(embedded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Finding 10: with a page overwritten, SQLite said "malformed" yet `rdg run` wrote and exited 0."""
    import os

    path = embedded
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.seek(size // 2 // 4096 * 4096)
        f.write(os.urandom(8192))
    code, _, err = run(["run", "games", "--events", str(REPO / "rdg" / "data" / "events" / "games.jsonl")], capsys)
    assert code != 0 and "is damaged or not a graph file; rdg will not read or write it" in err and "quick_check" in err
    code, _, err = run(["query", "g.V().count()"], capsys)
    assert code != 0 and "is damaged" in err


def test_unreachable_server_is_one_clear_message(embedded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["--set", "gremlin_url=ws://127.0.0.1:1/gremlin", "query", "g.V().count()"], capsys)
    assert code == 1 and "not reachable" in err and "rdg stack up" in err


@pytest.mark.integration
def test_malformed_query_on_janusgraph(gremlin_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["--set", f"gremlin_url={gremlin_url}", "query", "g.V(."], capsys)
    assert code == 1 and "Gremlin syntax error at column 5" in err  # read-only: parsed here, never sent
    code, _, err = run(["--set", f"gremlin_url={gremlin_url}", "query", "g.V(.", "--write"], capsys)
    assert code == 1 and "Gremlin syntax error at column 5" in err  # --write too: parsed here, never a script
    url = ["--set", f"gremlin_url={gremlin_url}"]
    code, out, _ = run([*url, "query", "g.addV('clitest').property('n', n).values('n')", "-b", "n=7", "--write",
                        "--json"], capsys)
    assert code == 0 and json.loads(out) == [7]  # a write through bytecode, its value bound
    code, out, _ = run([*url, "query", "g.V().hasLabel('clitest').drop()", "--write", "--json"], capsys)
    assert code == 0


@pytest.mark.integration
def test_query_on_janusgraph_prints_a_table(gremlin_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--set", f"gremlin_url={gremlin_url}", "query", "g.inject(x, y)", "-b", "x=1",
                        "-b", 'y="two"', "--json"], capsys)
    assert code == 0 and json.loads(out) == [1, "two"]


def test_unknown_url_scheme(embedded: Path, capsys: pytest.CaptureFixture[str], tmp_path: Any) -> None:
    code, _, err = run(["--set", "gremlin_url=http://x", "graph", "schema"], capsys)
    assert code != 0 and "unknown graph URL" in err


def test_check_deep_runs_the_full_integrity_check(embedded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 10, finding 10: `--deep` finds what the quick check on open does not (an index that no
    longer matches its table)."""
    import sqlite3

    code, out, _ = run(["graph", "check", "--deep"], capsys)
    assert code == 0 and "storage: ok (SQLite integrity_check)" in out
    con = sqlite3.connect(embedded)
    con.executescript("CREATE TABLE probe (a INTEGER, b INTEGER); CREATE INDEX probe_a ON probe (a);"
                      "INSERT INTO probe VALUES (1, 10), (2, 20), (3, 30);")
    con.execute("PRAGMA writable_schema=ON")  # make the index claim another column than it holds
    con.execute("UPDATE sqlite_master SET sql = 'CREATE INDEX probe_a ON probe (b)' WHERE name = 'probe_a'")
    con.commit()
    con.close()
    code, out, _ = run(["graph", "check", "--deep"], capsys)
    assert code == 1 and "storage: DAMAGED (SQLite integrity_check)" in out and "probe_a" in out
    code, out, _ = run(["graph", "check", "--deep", "--json"], capsys)
    found = json.loads(out)["storage"]
    assert code == 1 and found["checked"] and found["problems"]


@pytest.mark.parametrize("backend", ["embedded", pytest.param("janusgraph", marks=pytest.mark.integration)])
def test_a_query_with_too_many_results_fails_instead_of_being_cut(backend: str, embedded: Path, request: Any,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    url = [] if backend == "embedded" else ["--set", f"gremlin_url={request.getfixturevalue('gremlin_url')}"]
    three, four = (("g.V().limit(3)", "g.V().limit(4)") if backend == "embedded"  # no inject() there
                   else ("g.inject(1, 2, 3)", "g.inject(1, 2, 3, 4)"))
    code, out, _ = run([*url, "query", three, "--max-results", "3", "--json"], capsys)
    assert code == 0 and len(json.loads(out)) == 3
    code, _, err = run([*url, "query", four, "--max-results", "3"], capsys)
    assert code != 0 and "returns more than 3 results" in err and "--max-results" in err


def test_a_long_query_is_stopped_by_the_default_timeout(embedded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A walk without end (longer than any timeout) stops after the default query_timeout, 5 s."""
    import time

    started = time.monotonic()
    code, _, err = run(["query", "g.V().repeat(both()).emit().count()"], capsys)
    assert code != 0 and "took longer than 5 s and was stopped" in err and "--timeout" in err
    assert time.monotonic() - started < 60  # bounded; the exact time is not asserted (shared machines)
