"""One device-fleet process: its share of the devices, multiplexed over a few WebSocket links.

Run by the coordinator (:mod:`rdg.sim._run`) as a ``multiprocessing`` child (spawn context);
devices ``index, index + workers, ...`` are this process's. It connects them, releases
``ready``, prefetches on ``go_browse`` (unless naive), measures every flip of the trigger, and
puts its numbers on ``results`` once ``stop`` is set. Example (what the coordinator does)::

    ctx = multiprocessing.get_context("spawn")
    ctx.Process(target=fleet_main, args=(cfg, 0, ["ws://127.0.0.1:8765/"], "http://127.0.0.1:8080",
                                         "sim-final", ready, go_browse, browse_at, planned, done,
                                         stop, results)).start()
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from rdg.sim._config import SimConfig

__all__ = ["PLANNED", "fleet_main"]

PLANNED = 1_000_000_000
"""Added to the shared ``planned`` counter by each worker once it has planned its prefetches."""


def fleet_main(cfg: SimConfig, index: int, gateway_urls: list[str], api_url: str, event_id: str,
               ready: Any, go_browse: Any, browse_at: Any, planned: Any, done: Any, stop: Any,
               results: Any) -> None:
    """The process target: run this worker's share of the fleet until ``stop``."""
    asyncio.run(_fleet(cfg, index, gateway_urls, api_url, event_id, ready, go_browse, browse_at, planned, done,
                       stop, results))


async def _fleet(cfg: SimConfig, index: int, gateway_urls: list[str], api_url: str, event_id: str,
                 ready: Any, go_browse: Any, browse_at: Any, planned: Any, done: Any, stop: Any,
                 results: Any) -> None:
    import aiohttp

    from rdg.live import Device, DeviceLink

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
                planned.value += len(plan) + PLANNED  # marks "this worker has planned"
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
