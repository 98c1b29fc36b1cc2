"""The device-fleet simulator: many devices, real gateways, a real prefetch API, one trigger.

Longer than most modules: a benchmark harness (processes, ports, timing, the report); moving it out of the package is an open renovation item.

Processes (all on this machine): the NATS server you point at; one prefetch API
(``rdg live api``) over a small embedded graph of members; ``gateways`` gateway processes
(``rdg live gateway``); ``workers`` device-fleet processes. Each fleet process holds its share
of the devices as small objects, multiplexed over a few WebSocket connections per gateway
(``conns`` in all; with ``conns == devices`` every device has its own socket). A real device
would hold one socket each; on 2 cores Python cannot keep 100,000 sockets busy, so the
multiplexing is what lets the fan-out reach every simulated device, and the report says so.

Timeline of one run (one mode):

1. The event is created (scheduled, far ahead). Devices connect and get the snapshot.
2. Browse: with prefetch, every device fetches its member's recommendations from the API at a
   random moment in a ``browse_s`` window (like members opening the app before the event).
   In ``naive`` mode nobody prefetches.
3. Trigger: the coordinator starts the event (the operator's early start). One broadcast goes
   out; each device flips to its prefetched content. A device without content (all of them in
   naive mode) fetches it then, and counts as updated when the response arrives.
4. Report: trigger-to-update latency of every device (receive/fetch time minus the ``ts`` in
   the broadcast), and the API's request rate over time (its own per-100 ms counter).
"""

from __future__ import annotations

import asyncio
import json
import math
import multiprocessing as mp
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rdg.errors import EnvironmentMissingError, RdgError, ServerError
from rdg.stack import free_ports, launch

__all__ = ["SimConfig", "SimResult", "build_member_graph", "compare", "plot_simulation", "simulate"]

GENRES = ("football", "drama", "comedy", "tennis")


@dataclass
class SimConfig:
    """One simulator run. Defaults suit ``--quick``."""

    devices: int = 5000
    """Simulated devices in all."""
    gateways: int = 2
    """Gateway processes."""
    workers: int = 2
    """Device-fleet processes."""
    conns: int | None = None
    """WebSocket connections in all (devices are spread over them); default min(devices, 100 per worker)."""
    members: int = 500
    """Distinct members (device i belongs to member i % members)."""
    browse_s: float = 5.0
    """Window in which devices prefetch (prefetch mode only)."""
    lead_s: float = 1.0
    """Pause between the end of browsing and the trigger."""
    naive: bool = False
    """Devices do not prefetch; each fetches when the event starts."""
    late_fraction: float = 0.0
    """Share of devices that did not browse before the event (they fetch at kick-off, like members
    opening the app as it starts). Prefetch mode only; 0 by default."""
    fetch_concurrency: int = 64
    """Open HTTP requests per fleet process."""
    max_age_s: float = 300.0
    """Base cache lifetime the API gives responses."""
    jitter: float = 0.2
    """Jitter of that lifetime."""
    nats_url: str = "nats://127.0.0.1:4222"
    graph_path: str | None = None
    """Embedded graph of members; built in a temporary folder if ``None``."""
    timeout_s: float = 300.0
    """Give up waiting for devices after this long."""
    seed: int = 1

    def __post_init__(self) -> None:
        if self.devices < 1 or self.gateways < 1 or self.workers < 1 or self.members < 1:
            raise RdgError("devices, gateways, workers and members must all be at least 1")
        if not 0 <= self.late_fraction <= 1:
            raise RdgError(f"late_fraction must be between 0 and 1, not {self.late_fraction}")
        if self.conns is None:
            self.conns = min(self.devices, 100 * self.workers)
        if not self.workers * self.gateways <= self.conns <= self.devices:
            msg = f"conns must be between workers x gateways ({self.workers * self.gateways}) and devices"
            raise RdgError(msg, hint="raise --conns or lower --workers/--gateways")


@dataclass
class SimResult:
    """What one run measured."""

    mode: str
    devices: int
    updated: int
    latencies_ms: list[float] = field(repr=False)
    update_p50_ms: float
    update_p99_ms: float
    update_max_ms: float
    misses: int
    fetch_errors: int
    origin_series: list[tuple[float, int]] = field(repr=False)
    """(seconds relative to the trigger, requests in that 100 ms bucket) at the API."""
    origin_peak_rps_at_start: float
    """Highest requests/s over a sliding 1 s window from 1 s before to 10 s after the trigger."""
    origin_peak_rps: float
    """The same over the whole run."""
    origin_requests: int
    offered_peak_rps_at_start: float
    """Requests/s the devices *wanted* to make (client side, when each decided to fetch) in the same
    window: the herd the origin would have to absorb; the served rate above is capped by capacity."""
    connections: int
    gateway_fanout_ms: float
    """Longest time a gateway spent writing the trigger message to all its connections."""
    setup_s: float

    def summary(self) -> dict[str, Any]:
        """Everything but the long series, plus latency percentiles and requests per second."""
        out = asdict(self)
        out.pop("latencies_ms")
        out.pop("origin_series")
        out["update_percentiles_ms"] = {f"p{q:g}": round(_pct(self.latencies_ms, q), 1)
                                        for q in (10, 50, 90, 99, 99.9, 100)}
        per_s: dict[int, int] = {}
        for t, n in self.origin_series:
            per_s[math.floor(t)] = per_s.get(math.floor(t), 0) + n
        out["origin_rps_by_second"] = sorted(per_s.items())
        return out


def _pct(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def build_member_graph(path: str, members: int, *, seed: int = 1) -> None:
    """An embedded graph where member ``p<j>`` watched a few titles of a favourite genre."""
    from rdg.graph import EdgeWrite, VertexWrite, connect

    rng = random.Random(seed)
    writes: list[Any] = [VertexWrite("title", "title_id", f"t-{g}-{k}", {"genre": g}, ts=1)
                         for g in GENRES for k in range(5)]
    for j in range(members):
        genre = GENRES[j % len(GENRES)]
        for k in rng.sample(range(5), 2):
            writes.append(EdgeWrite("watched", ("profile", "profile_id", f"p{j}"),
                                    ("title", "title_id", f"t-{genre}-{k}"), ts=1, event_id=f"w{j}-{k}"))
    with connect(path) as graph:
        result = graph.upsert(writes)
    if result.failed:
        raise RdgError(f"could not build the member graph: {result.failed[0][1]}")


# ---------------------------------------------------------------- fleet worker (own process)

def _fleet_main(cfg: SimConfig, index: int, gateway_urls: list[str], api_url: str, event_id: str,
                ready: Any, go_browse: Any, browse_at: Any, planned: Any, done: Any, stop: Any,
                results: Any) -> None:
    asyncio.run(_fleet(cfg, index, gateway_urls, api_url, event_id, ready, go_browse, browse_at, planned, done,
                       stop, results))


async def _fleet(cfg: SimConfig, index: int, gateway_urls: list[str], api_url: str, event_id: str,
                 ready: Any, go_browse: Any, browse_at: Any, planned: Any, done: Any, stop: Any,
                 results: Any) -> None:
    import aiohttp

    from rdg.live._device import Device
    from rdg.live._gateway import DeviceLink

    rng = random.Random(cfg.seed * 1000 + index)
    mine = range(index, cfg.devices, cfg.workers)
    devices = [Device(f"d{i}", f"p{i % cfg.members}") for i in mine]
    n_conns = max(len(gateway_urls), (cfg.conns or 1) // cfg.workers)
    latencies: list[float] = []
    fetch_errors = 0
    request_times: list[float] = []
    queue: asyncio.Queue[tuple[Device, float | None]] = asyncio.Queue()

    misses = 0
    failed = 0  # devices whose fetch after the trigger failed for good (finished, not updated)

    def on_flip(device: Device, msg: dict[str, Any], now: float) -> None:
        nonlocal misses
        if msg["state"] != "live":
            return  # only the trigger (the start) is measured
        if device.showing[event_id][1] is not None:  # what apply() just put on screen
            latencies.append(now * 1000 - msg["ts"])
        else:
            misses += 1
            request_times.append(now)
            queue.put_nowait((device, msg["ts"]))  # nothing prefetched: fetch now (naive, or a miss)

    chunks = [devices[k::n_conns] for k in range(n_conns)]
    links = [DeviceLink(gateway_urls[k % len(gateway_urls)], chunk, on_flip=on_flip).start()
             for k, chunk in enumerate(chunks) if chunk]
    await asyncio.wait_for(asyncio.gather(*(link.connected.wait() for link in links)), cfg.timeout_s)
    ready.release()

    async def report_progress() -> None:  # shared memory once per 20 ms, not once per device
        while True:
            done.value = len(latencies) + failed
            await asyncio.sleep(0.02)

    reporter = asyncio.create_task(report_progress())

    connector = aiohttp.TCPConnector(limit=cfg.fetch_concurrency, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def fetch(device: Device) -> bool:
            nonlocal fetch_errors
            for attempt in range(5):
                try:
                    async with http.get(f"{api_url}/v1/members/{device.member_id}/live") as resp:
                        if resp.status == 200:
                            device.prefetch(await resp.json(content_type=None))
                            return True
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    pass
                fetch_errors += 1
                await asyncio.sleep(0.05 * 2**attempt)
            return False

        async def fetcher() -> None:
            nonlocal failed
            while True:
                device, trigger_ts = await queue.get()
                ok = await fetch(device)
                if trigger_ts is not None:
                    if ok:
                        latencies.append(time.time() * 1000 - trigger_ts)
                    else:
                        failed += 1
                queue.task_done()

        fetchers = [asyncio.create_task(fetcher()) for _ in range(cfg.fetch_concurrency)]
        await asyncio.to_thread(go_browse.wait)
        if not cfg.naive:
            start = browse_at.value
            browsing = [k for k in range(len(devices)) if rng.random() >= cfg.late_fraction]
            plan = sorted((start + rng.uniform(0, cfg.browse_s), k) for k in browsing)
            with planned.get_lock():
                planned.value += len(plan) + 1_000_000_000  # +1e9 marks "this worker has planned"
            for when, k in plan:
                delay = when - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                request_times.append(time.time())
                queue.put_nowait((devices[k], None))
        await asyncio.to_thread(stop.wait)
        for task in [*fetchers, reporter]:
            task.cancel()
        for link in links:
            await link.stop()
    results.put({"index": index, "latencies": latencies, "misses": misses, "fetch_errors": fetch_errors,
                 "connections": len(links), "request_times": request_times})


# ---------------------------------------------------------------- coordinator

def _spawn(args: list[str], nats_url: str, log_path: Path) -> subprocess.Popen[bytes]:
    log_path.write_bytes(b"")
    return launch([sys.executable, "-m", "rdg", "--set", f"nats_url={nats_url}", "live", *args], log=log_path)


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
    from rdg.live._model import new_event
    from rdg.live._store import EventStore, LiveNames

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
        procs.append(_spawn(["api", "--port", str(api_port), "--namespace", namespace, "--graph", graph_path,
                             "--max-age", str(cfg.max_age_s), "--jitter", str(cfg.jitter)], cfg.nats_url, log))
        api_url = f"http://127.0.0.1:{api_port}"
        for k, port in enumerate(gw_ports):
            procs.append(_spawn(["gateway", "--port", str(port), "--namespace", namespace], cfg.nats_url,
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
            proc = ctx.Process(target=_fleet_main, daemon=True,
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
                    workers_planned, wanted = divmod(planned.value, 1_000_000_000)
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
        latencies_ms=latencies, update_p50_ms=_pct(latencies, 50), update_p99_ms=_pct(latencies, 99),
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


def plot_simulation(results: list[SimResult], path: str) -> str:
    """Draw the latency distribution and the origin request rate of each run into one PNG."""
    try:
        import matplotlib
    except ImportError as err:
        raise EnvironmentMissingError("drawing the simulation needs matplotlib",
                                      hint="pip install 'rdg[bench]', or pass --no-png") from err

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.8))
    for res in results:
        lat = sorted(res.latencies_ms)
        if lat:
            ax1.plot(lat, [(i + 1) / len(lat) for i in range(len(lat))],
                     label=f"{res.mode}: p50 {res.update_p50_ms:.0f} ms, p99 {res.update_p99_ms:.0f} ms")
        per_s: dict[int, int] = {}
        for t, n in res.origin_series:
            per_s[math.floor(t)] = per_s.get(math.floor(t), 0) + n
        if per_s:
            for x in range(min(per_s) - 1, max(per_s) + 2):
                per_s.setdefault(x, 0)
        xs = sorted(per_s)
        ax2.plot(xs, [per_s[x] for x in xs], drawstyle="steps-post",
                 label=f"{res.mode}: peak at start {res.origin_peak_rps_at_start:.0f}/s")
    ax1.set_xscale("log")
    ax1.set_xlabel("trigger -> device updated (ms)")
    ax1.set_ylabel("fraction of devices")
    ax1.set_title(f"update latency, {results[0].devices:,} devices")
    ax1.grid(True, alpha=0.3)
    ax1.legend()
    ax2.axvline(0, color="grey", linestyle=":", label="trigger (event starts)")
    ax2.set_xlabel("seconds from the trigger")
    ax2.set_ylabel("requests/s at the prefetch API")
    ax2.set_title("origin load")
    ax2.grid(True, alpha=0.3)
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def result_json(res: SimResult) -> str:
    """One line of JSON with the summary."""
    return json.dumps(res.summary())
