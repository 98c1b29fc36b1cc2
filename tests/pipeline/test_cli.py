"""The pipeline commands through click's CliRunner: output, --json, exit codes, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rdg.cli import cli

ROOT = Path(__file__).resolve().parents[2]
SPEC = str(ROOT / "pipelines.yaml")
DATA = ROOT / "rdg" / "data"


@pytest.fixture()
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("RDG_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("RDG_GREMLIN_URL", "embedded")
    monkeypatch.setenv("RDG_DATA", str(DATA))
    monkeypatch.chdir(ROOT)
    return CliRunner()


def test_validate_clean_and_broken(runner: CliRunner, tmp_path: Path) -> None:
    ok = runner.invoke(cli, ["validate", SPEC])
    assert ok.exit_code == 0, ok.output
    assert "ok (3 pipelines: playback, live_viewing, games" in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(Path(SPEC).read_text().replace("event_id: \"{request_id}\"", "event_id: \"{requst_id}\"")
                   .replace("format: request_log", "format: request_logs"))
    res = runner.invoke(cli, ["validate", str(bad)])
    assert res.exit_code == 1
    assert f"{bad}:35:13: unknown format 'request_logs' (did you mean 'request_log'?)" in res.output
    assert "template field 'requst_id' is not produced by normalize or enrich (did you mean 'request_id'?)" in res.output
    assert "2 problems" in res.output
    js = runner.invoke(cli, ["validate", str(bad), "--json"])
    assert js.exit_code == 1 and len(json.loads(js.output)["lints"]) == 2


def test_validate_missing_file_and_syntax_error(runner: CliRunner, tmp_path: Path) -> None:
    res = runner.invoke(cli, ["validate", str(tmp_path / "nope.yaml")])
    assert res.exit_code == 1 and "cannot read" in res.output
    broken = tmp_path / "broken.yaml"
    broken.write_text("pipelines:\n  a: [\n")
    res = runner.invoke(cli, ["validate", str(broken)])
    assert res.exit_code == 1 and "YAML syntax error" in res.output


def test_preview_shows_events_writes_and_dead_letters(runner: CliRunner) -> None:
    res = runner.invoke(cli, ["preview", "games", "--events", str(DATA / "events" / "games.jsonl"), "-n", "60",
                              "--spec", SPEC])
    assert res.exit_code == 0, res.output
    assert "edge   profile(" in res.output and "-played-> game(" in res.output
    assert "dead letter at decode: not valid JSON" in res.output
    js = runner.invoke(cli, ["preview", "games", "--events", str(DATA / "events" / "games.jsonl"), "-n", "2",
                             "--spec", SPEC, "--json"])
    items = json.loads(js.output)
    assert len(items) == 2 and all(("vertices" in i and "edges" in i) for i in items)


def test_preview_bad_input(runner: CliRunner, tmp_path: Path) -> None:
    res = runner.invoke(cli, ["preview", "gamez", "--events", str(DATA / "events" / "games.jsonl"), "--spec", SPEC])
    assert res.exit_code != 0 and "did you mean 'games'" in str(res.exception or res.output)
    res = runner.invoke(cli, ["preview", "games", "--events", str(tmp_path / "none.jsonl"), "--spec", SPEC])
    assert res.exit_code != 0 and "no file matches" in str(res.exception or res.output)


def test_run_bounded_then_json(runner: CliRunner, tmp_path: Path) -> None:
    dead = tmp_path / "dead.jsonl"
    res = runner.invoke(cli, ["run", "games", "--spec", SPEC, "--events", str(DATA / "events" / "games.jsonl"),
                              "--dead-letter", str(dead), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output.strip().splitlines()[-1])
    assert out["events_in"] == 55 and out["dead_letters"] == 3 and out["edges"] > 0
    assert len(dead.read_text().splitlines()) == 3


def test_demo_prints_summary_and_journey(runner: CliRunner) -> None:
    res = runner.invoke(cli, ["demo", "--spec", SPEC])
    assert res.exit_code == 0, res.output
    assert "journey of member m1:" in res.output
    assert "played game" in res.output and "watched title" in res.output and "watched live" in res.output
    js = runner.invoke(cli, ["demo", "--spec", SPEC, "--json"])  # a second run: same graph
    first = json.loads(js.output)
    assert first["edges"]["has_profile"] == 12 and first["vertices"]["profile"] == 12
    again = json.loads(runner.invoke(cli, ["demo", "--spec", SPEC, "--json"]).output)
    assert again["vertices"] == first["vertices"] and again["edges"] == first["edges"]


def test_sample_writes_files_that_the_demo_reads(runner: CliRunner, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "s"
    res = runner.invoke(cli, ["sample", "--out", str(out), "--members", "3", "--seed", "2"])
    assert res.exit_code == 0, res.output
    assert {p.name for p in (out / "events").iterdir()} == {"games.jsonl", "live_viewing.jsonl", "playback.jsonl"}
    monkeypatch.delenv("RDG_DATA")  # the demo then points the spec's tables at --data
    res = runner.invoke(cli, ["demo", "--spec", SPEC, "--data", str(out), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["vertices"]["account"] == 3


def test_status_stop_logs_without_deployments(runner: CliRunner) -> None:
    res = runner.invoke(cli, ["status"])
    assert res.exit_code == 0 and "no pipelines deployed" in res.output
    assert runner.invoke(cli, ["stop"]).output.strip() == "nothing was running"
    res = runner.invoke(cli, ["logs", "games"])
    assert res.exit_code != 0 and "no log for pipeline 'games'" in str(res.exception)
    res = runner.invoke(cli, ["deploy", "nope", "--spec", SPEC])
    assert res.exit_code != 0 and "no pipeline named 'nope'" in str(res.exception)
