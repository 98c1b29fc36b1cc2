"""`rdg deploy | status | logs | stop` through the CLI, reading a real Kafka topic."""

from __future__ import annotations

import json
import os
import signal
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from rdg.cli import cli
from rdg.pipeline import generate
from rdg.testing import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[2]


def _games_on_kafka(word: str, members: int, seed: int, kafka_bootstrap: str, tmp_path: Path,
                    monkeypatch: pytest.MonkeyPatch) -> tuple[str, list[str]]:
    """Sample games events on fresh topics (2 partitions), and RDG_* pointing the CLI at them."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    prefix = f"{word}{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for f in admin.create_topics([NewTopic(f"{prefix}.{t}", 2, 1) for t in ("games.sessions", "dead-letter")]).values():
        f.result(30)
    lines = generate(members=members, seed=seed)["games"]
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for i, line in enumerate(lines):
        producer.produce(f"{prefix}.games.sessions", line.encode(), partition=i % 2)
    producer.flush(30)
    for key, value in {"RDG_TOPIC_PREFIX": prefix, "RDG_STATE_DIR": str(tmp_path / "state"),
                       "RDG_KAFKA_BOOTSTRAP": kafka_bootstrap, "RDG_GREMLIN_URL": str(tmp_path / "g.sqlite"),
                       "RDG_DATA": str(ROOT / "rdg" / "data")}.items():
        monkeypatch.setenv(key, value)
    return prefix, lines


def test_deploy_status_logs_stop(kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, lines = _games_on_kafka("cli", 3, 2, kafka_bootstrap, tmp_path, monkeypatch)
    runner = CliRunner()
    spec = str(ROOT / "pipelines.yaml")
    try:
        res = runner.invoke(cli, ["deploy", "games", "--spec", spec])
        assert res.exit_code == 0, res.output
        assert "games: started (supervisor pid" in res.output
        again = runner.invoke(cli, ["deploy", "games", "--spec", spec])
        assert "games: already running" in again.output

        def row() -> dict:
            out = runner.invoke(cli, ["status", "--json"])
            assert out.exit_code == 0, out.output
            return json.loads(out.output)[0]

        def done(r: dict) -> bool:
            return r["events_in"] == len(lines) and r["lag"] == 0 and r["dead_letters"] == 3 and r["written"] > 0

        wait_until(lambda: done(row()), timeout=90, every=0.5,
                   what=f"status to show all {len(lines)} events in, lag 0, 3 dead letters and writes")
        state = row()
        assert state["running"] and state["events_in"] == len(lines) and state["lag"] == 0
        assert state["dead_letters"] == 3 and state["written"] > 0 and "dead letter" in state["last_error"]
        table = runner.invoke(cli, ["status"]).output
        assert table.splitlines()[0].split()[:4] == ["pipeline", "state", "procs", "restarts"]
        assert "games     running" in table
        logs = runner.invoke(cli, ["logs", "games", "-n", "5"])
        assert logs.exit_code == 0 and "pipeline games running" in logs.output
        # a worker dies: the supervisor restarts it, it resumes from recovery
        sup = state["pid"]
        (worker,) = Path(f"/proc/{sup}/task/{sup}/children").read_text().split()
        os.kill(int(worker), signal.SIGKILL)
        metrics = Path(os.environ["RDG_STATE_DIR"]) / "pipelines" / "games" / "metrics-0.json"

        def restarted() -> bool:
            try:
                snap = json.loads(metrics.read_text())
            except (OSError, ValueError):
                return False
            return snap["pid"] != int(worker) and row()["restarts"] == 1 and row()["lag"] == 0

        wait_until(restarted, timeout=60, every=0.5,
                   what="a new worker to write metrics, with 1 restart and lag 0 in status")
        after = row()
        assert after["running"] and after["restarts"] == 1 and after["lag"] == 0
        # it resumed from the recovery snapshot instead of reading the topics again from the start
        assert after["events_in"] < len(lines), after
        assert "restarting all" in runner.invoke(cli, ["logs", "games"]).output
    finally:
        res = runner.invoke(cli, ["stop", "games"])
    assert res.output.strip() == "stopped: games"
    assert json.loads(runner.invoke(cli, ["status", "--json", "--no-lag"]).output)[0]["running"] is False


def test_run_to_the_end_of_the_topics(kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prefix, lines = _games_on_kafka("run", 2, 3, kafka_bootstrap, tmp_path, monkeypatch)
    res = CliRunner().invoke(cli, ["run", "games", "--spec", str(ROOT / "pipelines.yaml"), "--to-end", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output.strip().splitlines()[-1])
    assert out["events_in"] == len(lines) and out["dead_letters"] == 3
    assert out["dead_letter"] == f"{prefix}.dead-letter"  # a Kafka run keeps the spec's Kafka dead-letter topic
