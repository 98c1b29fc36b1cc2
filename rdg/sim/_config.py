"""What one simulator run is told (:class:`SimConfig`) and what it measured (:class:`SimResult`),
plus the small member graph the prefetch API reads.

>>> cfg = SimConfig(devices=1000, gateways=2, workers=2)
>>> cfg.conns  # default: min(devices, 100 per fleet process)
200
>>> SimConfig(devices=0)
Traceback (most recent call last):
...
rdg.errors.RdgError: devices, gateways, workers and members must all be at least 1
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass, field
from typing import Any

from rdg.errors import RdgError

__all__ = ["GENRES", "SimConfig", "SimResult", "build_member_graph", "pct"]

GENRES = ("football", "drama", "comedy", "tennis")
"""Genres of the member graph's titles; member ``p<j>`` favours ``GENRES[j % 4]``."""


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
        out["update_percentiles_ms"] = {f"p{q:g}": round(pct(self.latencies_ms, q), 1)
                                        for q in (10, 50, 90, 99, 99.9, 100)}
        per_s: dict[int, int] = {}
        for t, n in self.origin_series:
            per_s[math.floor(t)] = per_s.get(math.floor(t), 0) + n
        out["origin_rps_by_second"] = sorted(per_s.items())
        return out


def pct(values: list[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank); NaN for no values.

    >>> pct([3.0, 1.0, 2.0, 4.0], 50), pct([], 99)
    (2.0, nan)
    """
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
