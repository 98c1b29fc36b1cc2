"""The coordinator: start the servers and the fleet, browse, trigger, measure, clean up.

Processes (all on this machine): the NATS server ``cfg.nats_url`` points at; one prefetch API
over a small embedded graph of members and ``cfg.gateways`` gateways (both
``python -m rdg.sim._serve``, logs in the run's temporary folder); ``cfg.workers`` fleet
processes (:mod:`rdg.sim._fleet`). Timeline of one run (one mode):

1. The event is created (scheduled, far ahead). Devices connect and get the snapshot.
2. Browse: with prefetch, every device fetches its member's recommendations from the API at a
   random moment in a ``browse_s`` window (like members opening the app before the event).
   In ``naive`` mode nobody prefetches.
3. Trigger: the coordinator starts the event (the operator's early start). One broadcast goes
   out; each device flips to its prefetched content. A device without content (all of them in
   naive mode) fetches it then, and counts as updated when the response arrives.
4. Report: trigger-to-update latency of every device (receive/fetch time minus the ``ts`` in
   the broadcast), and the API's request rate over time (its own per-100 ms counter).

Example (needs a NATS server with JetStream)::

    from rdg.sim import SimConfig, compare, simulate
    res = simulate(SimConfig(devices=2000, nats_url="nats://127.0.0.1:4222"))
    print(res.update_p99_ms, res.origin_peak_rps_at_start)
    both = compare(SimConfig(devices=2000))  # prefetch, then naive, same member graph
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from rdg.errors import ServerError
from rdg.sim._config import SimConfig, SimResult, build_member_graph, pct
from rdg.sim._fleet import PLANNED, fleet_main
from rdg.stack import free_ports, launch

__all__ = ["compare", "simulate"]


def _start_server(kind: str, options: list[str], nats_url: str, log_path: Path) -> subprocess.Popen[bytes]:
    """A gateway or the prefetch API in its own process (:mod:`rdg.sim._serve`), output to ``log_path``."""
    log_path.write_bytes(b"")
    env = {**os.environ, "RDG_NATS_URL": nats_url}
    return launch([sys.executable, "-m", "rdg.sim._serve", kind, *options], log=log_path, env=env)


async def _wait_http(url: str, proc: subprocess.Popen[bytes], log_path: Path, timeout: float = 60.0) -> None:
    import httpx

    deadline = time.time() + timeout
    async with httpx.AsyncClient() as client:
        while time.time() < deadline:
            if proc.poll() is not None:
                raise ServerError(f"{url} exited early: {log_path.read_text()[-2000:]}")
            try:
                if (await client.get(url, timeout=1.0)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise ServerError(f"{url} did not come up in {timeout:.0f}s", hint=f"see {log_path}")


async def _run(cfg: SimConfig, workdir: Path) -> SimResult:
    import httpx

    from rdg.bus import connect
    from rdg.live import EventStore, LiveNames, new_event

    t_setup = time.time()
    namespace = f"sim{uuid.uuid4().hex[:8]}"
    names = LiveNames(namespace)
    graph_path = cfg.graph_path
    if graph_path is None:
        graph_path = str(workdir / "members.sqlite")
        build_member_graph(graph_path, cfg.members, seed=cfg.seed)
    nc = await connect(cfg.nats_url, name="rdg-live-sim")
    store = await EventStore.open(nc, names)
    event_id = "sim-final"
    now = time.time()
    await store.create(new_event(event_id, title="Simulated final", start=now + 3600, end=now + 7200,
                                 tags={"genre": "football"}, related_titles=["t-football-0", "t-football-1"]))
    procs: list[subprocess.Popen[bytes]] = []
    fleet: list[Any] = []
    ctx = mp.get_context("spawn")
    try:
        api_port, *gw_ports = free_ports(1 + cfg.gateways)
        log = workdir / "api.log"
        procs.append(_start_server("api", ["--port", str(api_port), "--namespace", namespace, "--graph", graph_path,
                                           "--max-age", str(cfg.max_age_s), "--jitter", str(cfg.jitter)],
                                   cfg.nats_url, log))
        api_url = f"http://127.0.0.1:{api_port}"
        for k, port in enumerate(gw_ports):
            procs.append(_start_server("gateway", ["--port", str(port), "--namespace", namespace], cfg.nats_url,
                                       workdir / f"gateway{k}.log"))
        await _wait_http(f"{api_url}/healthz", procs[0], log)
        for k, port in enumerate(gw_ports):
            await _wait_http(f"http://127.0.0.1:{port}/healthz", procs[1 + k], workdir / f"gateway{k}.log")
        gateway_urls = [f"ws://127.0.0.1:{p}/" for p in gw_ports]

        ready = ctx.Semaphore(0)
        go_browse, stop = ctx.Event(), ctx.Event()
        browse_at = ctx.Value("d", 0.0)
        planned = ctx.Value("q", 0)
        results = ctx.Queue()
        dones = [ctx.Value("i", 0, lock=False) for _ in range(cfg.workers)]
        for index in range(cfg.workers):
            proc = ctx.Process(target=fleet_main, daemon=True,
                               args=(cfg, index, gateway_urls, api_url, event_id, ready, go_browse, browse_at,
                                     planned, dones[index], stop, results))
            proc.start()
            fleet.append(proc)
        for _ in range(cfg.workers):
            while not await asyncio.to_thread(ready.acquire, True, 1.0):
                if any(p.exitcode not in (None, 0) for p in fleet) or time.time() - t_setup > cfg.timeout_s:
                    raise ServerError("a fleet process failed while connecting its devices")
        setup_s = time.time() - t_setup

        browse_at.value = time.time()
        go_browse.set()
        await asyncio.sleep((0 if cfg.naive else cfg.browse_s) + cfg.lead_s)
        if not cfg.naive:  # let the last prefetches land (a slow API stretches the window)
            async with httpx.AsyncClient() as client:
                for _ in range(int(cfg.timeout_s * 10)):
                    workers_planned, wanted = divmod(planned.value, PLANNED)
                    stats = (await client.get(f"{api_url}/v1/stats")).json()
                    if workers_planned == cfg.workers and sum(n for _, n in stats["counts"]) >= wanted:
                        break
                    await asyncio.sleep(0.1)
            # a clear gap, so the tail of browsing cannot fall in the 1 s before the start we measure
            await asyncio.sleep(cfg.lead_s + 1.0)

        started = await store.transition(event_id, "start", by="simulator")
        trigger = started.ts
        deadline = time.time() + cfg.timeout_s
        while sum(d.value for d in dones) < cfg.devices and time.time() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # keep counting origin requests a little after the last update
        async with httpx.AsyncClient() as client:
            stats = (await client.get(f"{api_url}/v1/stats")).json()
            fanout = [(await client.get(f"http://127.0.0.1:{p}/healthz")).json()["fanout_ms_last"] for p in gw_ports]
        await store.transition(event_id, "end", by="simulator")
        stop.set()
        parts = [await asyncio.to_thread(results.get, True, 120) for _ in range(cfg.workers)]
    finally:
        stop_all = [p for p in procs if p.poll() is None]
        for p in stop_all:
            p.terminate()
        for p in stop_all:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        for proc in fleet:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
        js = nc.jetstream()
        for drop in (js.delete_key_value(names.bucket), js.delete_stream(names.stream)):
            try:
                await drop
            except Exception:  # noqa: BLE001 - best effort clean-up
                pass
        await nc.close()

    latencies = [x for part in parts for x in part["latencies"]]
    series = [((t_ms / 1000) - trigger, n) for t_ms, n in stats["counts"]]
    window = 10  # 100 ms buckets in a 1 s sliding window
    by_bucket = {int(round(t_ms / 100)): n for t_ms, n in stats["counts"]}
    t0 = int(trigger * 10)

    def peak(lo: int, hi: int) -> float:
        return max((sum(by_bucket.get(b, 0) for b in range(s, s + window)) for s in range(lo, hi)), default=0)

    keys = sorted(by_bucket) or [t0]
    return SimResult(
        mode="naive" if cfg.naive else "prefetch", devices=cfg.devices, updated=len(latencies),
        latencies_ms=latencies, update_p50_ms=pct(latencies, 50), update_p99_ms=pct(latencies, 99),
        update_max_ms=max(latencies, default=math.nan), misses=sum(p["misses"] for p in parts),
        fetch_errors=sum(p["fetch_errors"] for p in parts), origin_series=series,
        origin_peak_rps_at_start=float(peak(t0 - 10, t0 + 100)),
        origin_peak_rps=float(peak(keys[0] - window, keys[-1] + 1)),
        origin_requests=sum(n for _, n in stats["counts"]),
        offered_peak_rps_at_start=float(_offered_peak(parts, trigger)), connections=sum(p["connections"] for p in parts),
        gateway_fanout_ms=max(fanout),
        setup_s=setup_s)


def _offered_peak(parts: list[dict[str, Any]], trigger: float) -> int:
    """Most requests issued in any 1 s window starting between 1 s before and 10 s after the trigger."""
    import bisect

    times = sorted(t for part in parts for t in part["request_times"] if trigger - 1 <= t <= trigger + 11)
    best = 0
    for i, t in enumerate(times):
        best = max(best, bisect.bisect_left(times, t + 1.0) - i)
    return best


def simulate(cfg: SimConfig) -> SimResult:
    """Run one mode of the simulator (see the module docstring) and return what it measured."""
    with tempfile.TemporaryDirectory(prefix="rdg-live-sim-") as tmp:
        return asyncio.run(_run(cfg, Path(tmp)))


def compare(cfg: SimConfig) -> dict[str, Any]:
    """Run prefetch then naive with the same settings (one shared member graph); both results and the ratio."""
    from dataclasses import replace

    with tempfile.TemporaryDirectory(prefix="rdg-live-graph-") as tmp:
        graph = cfg.graph_path or os.path.join(tmp, "members.sqlite")
        if cfg.graph_path is None:
            build_member_graph(graph, cfg.members, seed=cfg.seed)
        pre = simulate(replace(cfg, naive=False, graph_path=graph))
        naive = simulate(replace(cfg, naive=True, graph_path=graph))
    ratio = pre.origin_peak_rps_at_start / naive.origin_peak_rps_at_start if naive.origin_peak_rps_at_start else math.nan
    return {"prefetch": pre, "naive": naive, "origin_peak_ratio": ratio}
