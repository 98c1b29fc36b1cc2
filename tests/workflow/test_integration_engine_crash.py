"""``kill -9`` of the engine between a step's end and the next step's dispatch.

The dangerous window: the engine has recorded step ``b`` as QUEUED in KV (or has not yet read
the event saying ``a`` ended) and dies before the work item reaches the stream. The next engine
must start ``b`` at once, from the state in KV, without waiting for the repair pass (30 s), and
every step must run exactly once. The first engine is a real process that SIGKILLs itself at
the exact point (a test harness below wraps the real Engine); the second is ``rdg engine``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from rdg.spec import parse_workflow_text
from rdg.workflow import RunStatus, StepStatus, Store, Worker, start_run

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[2]

WORKFLOW = """
id: chain
params:
  ledger: {type: string}
steps:
  - {id: a, type: python, callable: "tests.workflow.steps:ledger", params: {work_s: 0.01}}
  - {id: b, type: python, callable: "tests.workflow.steps:ledger", params: {work_s: 0.01}, depends_on: [a]}
  - {id: c, type: python, callable: "tests.workflow.steps:ledger", params: {work_s: 0.01}, depends_on: [b]}
"""

DYING_ENGINE = """
import asyncio, os, signal, sys
from rdg.workflow import Engine, Store
from rdg.workflow import StepEnded

async def main(url, prefix, where):
    store = await Store.open(url, namespace=prefix)
    engine = Engine(store)
    if where == "dispatch":  # b is QUEUED in KV; its work item is never sent
        dispatch = store.dispatch
        async def dying_dispatch(task):
            if task["step"] == "b":
                os.kill(os.getpid(), signal.SIGKILL)
            await dispatch(task)
        store.dispatch = dying_dispatch
    else:  # the event "a ended" arrives and is never handled (nor acknowledged)
        handle = engine.handle
        async def dying_handle(event):
            if isinstance(event, StepEnded) and event.step == "a" and event.rec["status"] == "SUCCEEDED":
                os.kill(os.getpid(), signal.SIGKILL)
            await handle(event)
        engine.handle = dying_handle
    await engine.run()

asyncio.run(main(*sys.argv[1:]))
"""


def _engine_ready(proc: subprocess.Popen[str]) -> float:
    """Wait for ``rdg engine``'s start line; the time it appeared."""
    assert proc.stderr is not None
    for line in proc.stderr:
        if "rdg engine running" in line:
            return time.time()
    raise AssertionError(f"rdg engine ended without starting (exit {proc.wait()})")


@pytest.mark.parametrize("where", ["dispatch", "event"])
async def test_the_next_step_starts_at_once_after_the_engine_is_killed(nats_url: str, tmp_path: Path,
                                                                        where: str) -> None:
    prefix = f"c{uuid.uuid4().hex[:10]}"
    store = await Store.open(nats_url, namespace=prefix, lease=5.0)
    (tmp_path / "ledger").mkdir()
    worker = Worker(store, concurrency=2)
    worker_task = asyncio.create_task(worker.run())
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    script = tmp_path / "dying_engine.py"
    script.write_text(DYING_ENGINE)
    first = subprocess.Popen([sys.executable, str(script), nats_url, prefix, where], cwd=ROOT, env=env)
    second: subprocess.Popen[str] | None = None
    try:
        await store.push_definition(parse_workflow_text(WORKFLOW, "chain.yaml"))
        handle = await start_run(store, "chain", {"ledger": str(tmp_path)})
        assert await asyncio.to_thread(first.wait, 60) == -9  # it died at the chosen point
        b = await handle.step("b")
        assert b.status is (StepStatus.QUEUED if where == "dispatch" else StepStatus.NOT_CREATED)

        second = subprocess.Popen([sys.executable, "-m", "rdg", "--set", f"nats_url={nats_url}", "engine",
                                   "--namespace", prefix], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
        ready = await asyncio.to_thread(_engine_ready, second)
        run = await handle.wait(timeout=60)
        assert run.status is RunStatus.SUCCEEDED, run.reason

        b = await handle.step("b")
        waited = (b.started_at or 0) - ready
        print(f"kill at {where}: step b started {waited:.3f}s after the new engine started")
        assert waited < 10.0, f"step b waited {waited:.1f}s: the repair pass (30 s) did it, not the new engine"
        keys = sorted(p.name for p in (tmp_path / "ledger").iterdir())
        assert keys == [f"{run.id}.{s}" for s in ("a", "b", "c")]  # every step's side effect once
        executions = (tmp_path / "executions.log").read_text().splitlines()
        assert len(executions) == 3, executions  # and every step ran once
        for step in ("a", "b", "c"):
            rec = await handle.step(step)
            assert rec.status is StepStatus.SUCCEEDED and rec.attempt == 1
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        worker.stop()
        await asyncio.gather(worker_task, return_exceptions=True)
        await store.destroy()
        await store.close()
