"""``rdg workflow ...``, ``rdg engine`` and ``rdg worker`` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner

from rdg.cli import cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "workflows" / "hello.yaml"


def test_validate_ok_and_bad_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\nsteps:\n  - {id: a, type: noop, depends_on: [b]}\n  - {id: c, type: nope}\n")
    runner = CliRunner()
    ok = runner.invoke(cli, ["workflow", "validate", str(EXAMPLE)])
    assert ok.exit_code == 0 and "ok (hello, 4 steps)" in ok.output
    res = runner.invoke(cli, ["workflow", "validate", str(EXAMPLE), str(bad)])
    assert res.exit_code == 1
    assert f"{bad}:3:38: step 'a' depends on unknown step 'b'" in res.output
    assert f"{bad}:4:" in res.output
    res = runner.invoke(cli, ["workflow", "validate", "--json", str(bad)])
    assert res.exit_code == 1 and json.loads(res.stdout)[0]["lints"][0]["kind"] == "bad_reference"


def test_help_has_examples() -> None:
    runner = CliRunner()
    for args in (["workflow", "--help"], ["workflow", "start", "--help"], ["engine", "--help"],
                 ["worker", "--help"], ["workflow", "restart", "--help"]):
        res = runner.invoke(cli, args)
        assert res.exit_code == 0 and "Example" in res.output, args


def _rdg(nats_url: str, prefix: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "rdg", "--set", f"nats_url={nats_url}", *args, "--namespace", prefix],
                          cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture
def processes(nats_url: str, tmp_path: Path) -> Iterator[str]:
    """`rdg engine` and `rdg worker` as real processes under a fresh prefix; stopped with SIGTERM."""
    prefix = f"c{uuid.uuid4().hex[:10]}"
    log = open(tmp_path / "procs.log", "ab")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    base = [sys.executable, "-m", "rdg", "--set", f"nats_url={nats_url}"]
    procs = [subprocess.Popen(base + ["engine", "--namespace", prefix, "--reconcile-interval", "1"], cwd=ROOT, env=env,
                              stdout=log, stderr=subprocess.STDOUT),
             subprocess.Popen(base + ["worker", "--namespace", prefix, "--concurrency", "4"], cwd=ROOT, env=env,
                              stdout=log, stderr=subprocess.STDOUT)]
    yield prefix
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert all(p.returncode == 0 for p in procs), (tmp_path / "procs.log").read_text()[-2000:]
    import asyncio

    from rdg.workflow import Store

    async def clean() -> None:
        store = await Store.open(nats_url, namespace=prefix)
        await store.destroy()
        await store.close()

    asyncio.run(clean())


@pytest.mark.integration
@pytest.mark.timeout(180)
def test_the_cli_drives_runs_end_to_end(nats_url: str, processes: str, tmp_path: Path) -> None:
    prefix = processes
    hold = tmp_path / "hold.yaml"
    hold.write_text("id: hold\ntriggers: {signals: [go]}\nparams:\n  who: {type: string, default: nobody}\n"
                    "steps:\n  - {id: gate, type: sleep, seconds: 30}\n  - {id: after, type: noop, depends_on: [gate]}\n")
    out = _rdg(nats_url, prefix, "workflow", "push", str(EXAMPLE), str(hold)).stdout
    assert "pushed hello version 1" in out and "pushed hold version 1" in out
    listed = json.loads(_rdg(nats_url, prefix, "workflow", "list", "--json").stdout)
    assert [d["id"] for d in listed] == ["hello", "hold"] and listed[1]["signals"] == ["go"]

    run = json.loads(_rdg(nats_url, prefix, "workflow", "start", "hello", "-p", "name=cli", "--wait", "--json",
                          "--timeout", "60").stdout)
    assert run["status"] == "SUCCEEDED"
    status = json.loads(_rdg(nats_url, prefix, "workflow", "status", run["id"], "--json").stdout)
    steps = {s["id"]: s for s in status["steps"]}
    assert steps["greet"]["outputs"]["greeting"] == "hello cli"
    assert steps["each_letter"]["fanout"]["ok"] == len(set("hellocli"))
    table = _rdg(nats_url, prefix, "workflow", "status", run["id"]).stdout
    assert "each_letter" in table and "SUCCEEDED" in table and "└" in table
    assert run["id"] in _rdg(nats_url, prefix, "workflow", "history", "hello").stdout

    held = json.loads(_rdg(nats_url, prefix, "workflow", "start", "hold", "--json", "--run-id", "h1").stdout)
    assert held["status"] == "IN_PROGRESS"
    _rdg(nats_url, prefix, "workflow", "pause", "h1", "--step", "after")
    assert "PAUSED" in _rdg(nats_url, prefix, "workflow", "pause", "h1").stdout
    refused = _rdg(nats_url, prefix, "workflow", "pause", "h1", check=False)
    assert refused.returncode == 1 and "cannot pause a run that is PAUSED" in refused.stderr
    assert "IN_PROGRESS" in _rdg(nats_url, prefix, "workflow", "resume", "h1").stdout
    assert "SKIPPED" in _rdg(nats_url, prefix, "workflow", "skip", "h1", "gate").stdout
    for _ in range(200):  # 'after' is held at its breakpoint
        st = json.loads(_rdg(nats_url, prefix, "workflow", "status", "h1", "--json").stdout)
        if st["steps"][1]["status"] == "PAUSED":
            break
        time.sleep(0.1)
    assert st["steps"][1]["status"] == "PAUSED"
    assert "STOPPED" in _rdg(nats_url, prefix, "workflow", "stop", "h1").stdout
    restarted = json.loads(_rdg(nats_url, prefix, "workflow", "restart", "h1", "--from-beginning", "--json").stdout)
    assert restarted["attempt"] == 2 and restarted["status"] == "IN_PROGRESS"
    assert "FAILED" in _rdg(nats_url, prefix, "workflow", "kill", "h1").stdout

    assert "published" in _rdg(nats_url, prefix, "workflow", "signal", "go", "-p", "who=signal").stdout
    for _ in range(200):
        runs = json.loads(_rdg(nats_url, prefix, "workflow", "history", "hold", "--json").stdout)
        if any(r["trigger"] == "signal:go" for r in runs):
            break
        time.sleep(0.1)
    started = [r for r in runs if r["trigger"] == "signal:go"]
    assert started
    _rdg(nats_url, prefix, "workflow", "stop", started[0]["id"])


@pytest.mark.integration
def test_bad_input_gives_a_clear_error_and_nonzero_exit(nats_url: str, tmp_path: Path) -> None:
    prefix = f"c{uuid.uuid4().hex[:10]}"
    try:
        missing = _rdg(nats_url, prefix, "workflow", "status", "no-such-run", check=False)
        assert missing.returncode == 1 and "no run 'no-such-run'" in missing.stderr
        nowf = _rdg(nats_url, prefix, "workflow", "start", "nope", check=False)
        assert nowf.returncode == 1 and "no workflow 'nope'" in nowf.stderr
        _rdg(nats_url, prefix, "workflow", "push", str(EXAMPLE))
        badp = _rdg(nats_url, prefix, "workflow", "start", "hello", "-p", "nmae=x", check=False)
        assert badp.returncode == 1 and "did you mean 'name'" in badp.stderr
        usage = _rdg(nats_url, prefix, "workflow", "start", "hello", "-p", "novalue", check=False)
        assert usage.returncode == 2 and "NAME=VALUE" in usage.stderr
        cyc = tmp_path / "cyc.yaml"
        cyc.write_text("id: cyc\nsteps:\n  - {id: a, type: noop, depends_on: [a]}\n")
        pushed = _rdg(nats_url, prefix, "workflow", "push", str(cyc), check=False)
        assert pushed.returncode == 1 and "cycle: a -> a" in pushed.stderr
        listed = json.loads(_rdg(nats_url, prefix, "workflow", "list", "--json").stdout)
        assert [d["id"] for d in listed] == ["hello"]  # nothing changed
    finally:
        import asyncio

        from rdg.workflow import Store

        async def clean() -> None:
            store = await Store.open(nats_url, namespace=prefix)
            await store.destroy()
            await store.close()

        asyncio.run(clean())
