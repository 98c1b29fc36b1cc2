"""Workflow engine benchmark: step-to-step overhead, start latency, throughput, a big foreach,
and the same chain on a polling engine (1 s and 100 ms ticks) measured in the same run.

    .venv/bin/python bench/workflow.py --quick --json          # < 60 s
    .venv/bin/python bench/workflow.py --json                  # full: 100,000-iteration foreach

Needs NATS with JetStream (``--nats``, default ``$RDG_NATS_URL`` or nats://127.0.0.1:4222). The
engine runs in this process; workers are two ``rdg worker`` processes. Everything is created
under fresh namespaces and deleted at the end.

Overhead of step i = its start (worker claim) minus the end of step i-1 (worker completion),
both recorded in the step records. In ``--quick`` mode the 1 s polling chain is short (8 steps)
and the 100 ms one 30 steps: their per-step overhead is measured on those and compared per step.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rdg.spec import parse_workflow_data  # noqa: E402
from rdg.workflow import Engine, RunStatus, Store, start_run  # noqa: E402


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def _chain(wf_id: str, n: int) -> dict[str, Any]:
    steps = [{"id": "s0", "type": "noop"}]
    steps += [{"id": f"s{i}", "type": "noop", "depends_on": [f"s{i - 1}"]} for i in range(1, n)]
    return {"id": wf_id, "steps": steps}


class Stack:
    """An engine in this process and worker processes, under one fresh namespace."""

    def __init__(self, nats_url: str, *, poll: float | None, workers: int, concurrency: int) -> None:
        self.nats_url, self.poll, self.n_workers, self.concurrency = nats_url, poll, workers, concurrency
        self.namespace = f"bench{uuid.uuid4().hex[:8]}"
        self.procs: list[subprocess.Popen[bytes]] = []

    async def __aenter__(self) -> "Stack":
        self.store = await Store.open(self.nats_url, namespace=self.namespace, lease=30.0)
        self.engine = Engine(self.store, poll_interval=self.poll, reconcile_interval=30.0, cache_size=5000)
        self.task = asyncio.create_task(self.engine.run())
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        for _ in range(self.n_workers):
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "rdg", "--set", f"nats_url={self.nats_url}", "worker", "--namespace", self.namespace,
                 "--concurrency", str(self.concurrency)], cwd=ROOT, env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        await self.warm()
        return self

    async def warm(self) -> None:
        """One tiny run end to end, so workers are up and every consumer exists."""
        await self.store.push_definition(parse_workflow_data({"id": "warm", "steps": [{"id": "a", "type": "noop"}]}))
        for _ in range(3):
            run = await (await start_run(self.store, "warm")).wait(timeout=60)
            assert run.status is RunStatus.SUCCEEDED

    async def __aexit__(self, *exc: Any) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.engine.stop()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.store.destroy()
        await self.store.close()


async def chain_overheads(stack: Stack, n: int) -> dict[str, float]:
    """Run a chain of ``n`` noop steps; per-step overhead and the whole run's time."""
    wf_id = f"chain{n}"
    spec = parse_workflow_data(_chain(wf_id, n))
    await stack.store.push_definition(spec)
    await stack.store.get_definition(wf_id)  # parse once outside the timing (as a warm engine has)
    t0 = time.time()
    handle = await start_run(stack.store, wf_id)
    run = await handle.wait(timeout=3600, interval=0.2)
    assert run.status is RunStatus.SUCCEEDED, run.reason
    steps = (await handle.describe())["steps"]
    gaps = [(steps[i]["started_at"] - steps[i - 1]["ended_at"]) * 1000 for i in range(1, n)]
    return {"p50": _pct(gaps, 50), "p99": _pct(gaps, 99), "mean": statistics.fmean(gaps),
            "total_s": run.ended_at - t0, "per_step_ms": (run.ended_at - t0) * 1000 / n}


async def start_latency(stack: Stack, runs: int) -> float:
    """Median time from start_run() to the first step running, for a one-step workflow."""
    await stack.store.push_definition(parse_workflow_data({"id": "one", "steps": [{"id": "a", "type": "noop"}]}))
    await stack.store.get_definition("one")
    out = []
    for _ in range(runs):
        t0 = time.time()
        handle = await start_run(stack.store, "one")
        await handle.wait(timeout=60, interval=0.01)
        out.append(((await handle.step("a")).started_at - t0) * 1000)
    return _pct(out, 50)


async def throughput(stack: Stack, runs: int, length: int) -> float:
    """Steps per second with ``runs`` chains of ``length`` noop steps going at once."""
    await stack.store.push_definition(parse_workflow_data(_chain("tput", length)))
    await stack.store.get_definition("tput")
    t0 = time.time()
    handles = [await start_run(stack.store, "tput") for _ in range(runs)]
    ends = [await h.wait(timeout=3600, interval=0.2) for h in handles]
    assert all(r.status is RunStatus.SUCCEEDED for r in ends)
    return runs * length / (max(r.ended_at for r in ends) - t0)


async def foreach(stack: Stack, n: int, concurrency: int) -> dict[str, Any]:
    """A foreach of ``n`` noop iterations; time, rate and this process's memory along the way."""
    await stack.store.push_definition(parse_workflow_data({"id": "fan", "steps": [{
        "id": "each", "type": "foreach", "over": f"range({n})", "concurrency": concurrency,
        "steps": [{"id": "work", "type": "noop"}]}]}))
    t0 = time.time()
    handle = await start_run(stack.store, "fan")
    rss = [round(_rss_mb(), 1)]
    while True:
        run = await handle.record()
        if run.status is not RunStatus.IN_PROGRESS:
            break
        await asyncio.sleep(max(1.0, n / 20000))
        rss.append(round(_rss_mb(), 1))
    assert run.status is RunStatus.SUCCEEDED, run.reason
    elapsed = run.ended_at - t0
    return {"iterations": n, "seconds": round(elapsed, 2), "per_s": round(n / elapsed, 1),
            "rss_mb_start": rss[0], "rss_mb_peak": max(rss), "rss_mb_end": rss[-1],
            "rss_mb_samples": rss[:: max(1, len(rss) // 10)]}


async def main(args: argparse.Namespace) -> dict[str, Any]:
    quick = args.quick
    sizes = {"chain": 1000, "poll1": 8 if quick else 60, "poll100": 30 if quick else 300,
             "tput_runs": 8, "tput_len": 50 if quick else 250, "foreach": 2000 if quick else 100_000}
    t_start = time.time()
    out: dict[str, Any] = {"mode": "quick" if quick else "full", "chain_steps": sizes["chain"]}
    async with Stack(args.nats, poll=None, workers=2, concurrency=8) as stack:
        event = await chain_overheads(stack, sizes["chain"])
        out["start_latency_ms"] = round(await start_latency(stack, 20), 2)
        out["steps_per_s"] = round(await throughput(stack, sizes["tput_runs"], sizes["tput_len"]), 1)
        out["foreach"] = await foreach(stack, sizes["foreach"], 200)
    async with Stack(args.nats, poll=1.0, workers=1, concurrency=4) as stack:
        poll1 = await chain_overheads(stack, sizes["poll1"])
    async with Stack(args.nats, poll=0.1, workers=1, concurrency=4) as stack:
        poll100 = await chain_overheads(stack, sizes["poll100"])
    out.update({
        "step_overhead_p50_ms": round(event["p50"], 2),
        "step_overhead_p99_ms": round(event["p99"], 2),
        "step_overhead_mean_ms": round(event["mean"], 2),
        "chain_total_s": round(event["total_s"], 2),
        "poll_1s_steps": sizes["poll1"],
        "poll_1s_step_overhead_p50_ms": round(poll1["p50"], 1),
        "poll_100ms_steps": sizes["poll100"],
        "poll_100ms_step_overhead_p50_ms": round(poll100["p50"], 1),
        "speedup_vs_poll_1s": round(poll1["p50"] / event["p50"], 1),
        "speedup_vs_poll_100ms": round(poll100["p50"] / event["p50"], 1),
        "speedup_vs_poll_1s_per_step_wall": round(poll1["per_step_ms"] / event["per_step_ms"], 1),
        "goals": {"p50_le_5ms": event["p50"] <= 5, "p99_le_20ms": event["p99"] <= 20,
                  "speedup_ge_100x": poll1["p50"] / event["p50"] >= 100},
        "bench_seconds": round(time.time() - t_start, 1),
    })
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short version (< 60 s)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--nats", default=os.environ.get("RDG_NATS_URL", "nats://127.0.0.1:4222"))
    args = parser.parse_args()
    import logging

    logging.basicConfig(level=logging.ERROR)
    result = asyncio.run(main(args))
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:38} {value}")
