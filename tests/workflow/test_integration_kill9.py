"""``kill -9`` of worker processes, many times, in the middle of a 1,000-step run.

Guarantee under test: every step's completion is recorded exactly once, by the worker that held
the step's current fence, and the run succeeds. A step whose worker dies is redelivered after
the lease and run again elsewhere (at least once execution); the test's step is idempotent-aware
(its side effect is keyed by the step's identity and created at most once), so the ledger holds
exactly one entry per step. The test keeps that ledger itself, on disk.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from rdg.spec import parse_workflow_text
from rdg.testing import async_wait_until
from rdg.workflow import Engine, RunStatus, StepStatus, Store, start_run

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]
STEPS = 1000
LEASE = 1.5

WORKFLOW = """
id: ledgered
params:
  ledger: {type: string}
  size: {type: int, default: 1000}
steps:
  - id: each
    type: foreach
    over: "range(params.size)"
    concurrency: 32
    steps:
      - id: work
        type: python
        callable: tests.workflow.steps:ledger
        params: {work_s: 0.05}
        retry: {platform: 50}
"""


def _has_run_steps(ledger: Path, pid: str) -> bool:
    log = ledger / "executions.log"
    return log.exists() and any(line.endswith(f" {pid}") for line in log.read_text().splitlines())


def _worker(nats_url: str, prefix: str, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "rdg", "--set", f"nats_url={nats_url}", "worker", "--namespace", prefix,
         "--concurrency", "8", "--lease", str(LEASE)],
        cwd=ROOT, stdout=open(log, "ab"), stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


async def test_kill_9_workers_many_times_every_step_completes_exactly_once(nats_url: str, tmp_path: Path) -> None:
    prefix = f"k{uuid.uuid4().hex[:10]}"
    store = await Store.open(nats_url, namespace=prefix, lease=LEASE)
    (tmp_path / "ledger").mkdir()
    sub = await store.pull("tasks", "workers")  # create the work queue consumer with our lease as ack wait
    await sub.unsubscribe()
    engine = Engine(store, reconcile_interval=2.0)
    engine_task = asyncio.create_task(engine.run())
    logs = tmp_path / "workers.log"
    workers = [_worker(nats_url, prefix, logs), _worker(nats_url, prefix, logs)]
    kills = 0
    try:
        await store.push_definition(parse_workflow_text(WORKFLOW, "ledgered.yaml"))
        handle = await start_run(store, "ledgered", {"ledger": str(tmp_path), "size": STEPS})
        rng = random.Random(7)
        while (await handle.status()) is RunStatus.IN_PROGRESS and kills < 25:
            await asyncio.sleep(rng.uniform(0.25, 0.6))  # paces the kills (not synchronisation)

            # Kill only a worker that is running steps: on a busy machine a fresh worker may still
            # be importing when its turn comes, and a kill then proves nothing. A worker that
            # ended by itself (it could not connect in time) is started again.
            async def a_busy_worker() -> tuple[str, int] | None:
                if (await handle.status()) is not RunStatus.IN_PROGRESS:
                    return ("run ended", -1)
                for i, proc in enumerate(workers):
                    if proc.poll() is not None:
                        workers[i] = _worker(nats_url, prefix, logs)
                busy = [i for i, proc in enumerate(workers) if _has_run_steps(tmp_path, str(proc.pid))]
                return ("victim", rng.choice(busy)) if busy else None

            why, victim = await async_wait_until(a_busy_worker, timeout=90, what="a worker that runs steps")
            if why == "run ended":
                break
            os.kill(workers[victim].pid, signal.SIGKILL)  # no goodbye: in-flight steps are orphaned
            workers[victim].wait()
            kills += 1
            workers[victim] = _worker(nats_url, prefix, logs)
        run = await handle.wait(timeout=180)
        assert run.status is RunStatus.SUCCEEDED, run.reason
        assert kills >= 5

        each = await handle.step("each")
        assert each.outputs == {"total": STEPS, "ok": STEPS, "failed": 0}

        # The ledger: exactly one side effect per step.
        entries = sorted(p.name for p in (tmp_path / "ledger").iterdir())
        expected = sorted(f"{run.id}.each.1-1.{i}.work" for i in range(STEPS))
        assert entries == expected

        # Each step's recorded completion is unique and came from the holder of its current fence.
        takeovers = 0
        for i in range(STEPS):
            rec, _ = await store.get_step(f"{run.id}.each.1-1.{i}", "work")
            assert rec.status is StepStatus.SUCCEEDED
            assert rec.outputs["fence"] == rec.fence
            takeovers += rec.platform_retries
        executions = (tmp_path / "executions.log").read_text().splitlines()
        assert len({line.split()[0] for line in executions}) == STEPS
        print(f"kills={kills} takeovers={takeovers} executions={len(executions)} steps={STEPS}")
        assert takeovers >= 1 and len(executions) >= STEPS  # kills did land mid-step, and were absorbed
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        engine.stop()
        await asyncio.gather(engine_task, return_exceptions=True)
        await store.destroy()
        await store.close()
