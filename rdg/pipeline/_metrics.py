"""Per-process counters of a running pipeline, and the file ``rdg status`` reads them from.

>>> m = Metrics("games")
>>> m.count_in(3); m.count_written(2, 1, 1); m.count_dead(1)
>>> m.snapshot()["events_in"], m.snapshot()["written"], m.snapshot()["dead_letters"]
(3, 3, 1)
>>> m.progress_line(elapsed=2.0)
'games: in 3 (2/s) | written 3 | dead-lettered 1 | filtered 0'
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

__all__ = ["Metrics", "MetricsWriter", "read_metrics"]


class Metrics:
    """Counters for one pipeline in one process (thread-safe enough: each update is one bytecode op
    on an int under the GIL, guarded by a lock where it is a read-modify-write of a dict)."""

    def __init__(self, pipeline: str) -> None:
        self.pipeline = pipeline
        self.started_at = time.time()
        self.events_in = 0
        self.filtered = 0
        self.vertices = 0
        self.edges = 0
        self.requests = 0
        self.upsert_s = 0.0
        """Seconds spent inside ``graph.upsert`` (to tell pipeline time from graph time)."""
        self.dead_letters = 0
        self.retries = 0
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self.offsets: dict[str, int] = {}
        """``topic:partition`` -> next offset to read (for lag)."""
        self.last_write_at: float | None = None
        self.first_in_at: float | None = None
        """When the first event was read (``perf_counter``; startup excluded from rates)."""
        self.freshness_ms: deque[float] = deque(maxlen=20_000)
        """Event time -> written (visible), in ms, for the most recent edge writes."""
        self._lock = threading.Lock()

    def count_in(self, n: int = 1) -> None:
        """``n`` raw events entered the pipeline."""
        with self._lock:
            if self.first_in_at is None:
                self.first_in_at = time.perf_counter()
            self.events_in += n

    def count_filtered(self, n: int = 1) -> None:
        """``n`` events were dropped by a ``where`` condition."""
        with self._lock:
            self.filtered += n

    def count_written(self, vertices: int, edges: int, requests: int, seconds: float = 0.0) -> None:
        """One upsert finished (in ``seconds``)."""
        with self._lock:
            self.upsert_s += seconds
            self.vertices += vertices
            self.edges += edges
            self.requests += requests
            self.last_write_at = time.time()

    def observe_freshness(self, event_times_ms: list[int]) -> None:
        """Record how long ago (now - event time) the events behind a finished write happened."""
        now = time.time() * 1000
        with self._lock:
            self.freshness_ms.extend(now - ts for ts in event_times_ms)

    def freshness(self) -> dict[str, float | None]:
        """p50 / p99 / max of event time -> written, over the recent writes (ms)."""
        with self._lock:
            data = sorted(self.freshness_ms)
        if not data:
            return {"p50_ms": None, "p99_ms": None, "max_ms": None, "samples": 0}
        pick = lambda q: round(data[min(len(data) - 1, int(q * len(data)))], 1)  # noqa: E731
        return {"p50_ms": pick(0.5), "p99_ms": pick(0.99), "max_ms": round(data[-1], 1), "samples": len(data)}

    def count_dead(self, n: int = 1) -> None:
        """``n`` events went to the dead-letter output."""
        with self._lock:
            self.dead_letters += n

    def error(self, text: str, *, retry: bool = False) -> None:
        """Remember the last error (and count a retry)."""
        with self._lock:
            self.last_error = text
            self.last_error_at = time.time()
            if retry:
                self.retries += 1

    def seen_offset(self, topic: str, partition: int, offset: int) -> None:
        """A Kafka message at ``offset`` was read."""
        key = f"{topic}:{partition}"
        with self._lock:
            if offset + 1 > self.offsets.get(key, -1):
                self.offsets[key] = offset + 1

    def committed(self, topic: str, partition: int, next_offset: int) -> None:
        """Everything before ``next_offset`` is applied and committed (the graph writers' lag)."""
        with self._lock:
            self.offsets[f"{topic}:{partition}"] = next_offset

    def snapshot(self) -> dict[str, Any]:
        """Every counter as a JSON-ready dict."""
        with self._lock:
            snap = {
                "pipeline": self.pipeline, "pid": os.getpid(), "started_at": self.started_at,
                "updated_at": time.time(), "events_in": self.events_in, "filtered": self.filtered,
                "written": self.vertices + self.edges, "vertices": self.vertices, "edges": self.edges,
                "requests": self.requests, "upsert_s": round(self.upsert_s, 3), "dead_letters": self.dead_letters, "retries": self.retries,
                "last_error": self.last_error, "last_error_at": self.last_error_at, "offsets": dict(self.offsets),
                "last_write_at": self.last_write_at,
            }
        snap["freshness"] = self.freshness()
        return snap

    def progress_line(self, elapsed: float | None = None) -> str:
        """One human line: in, written, dead-lettered, rate."""
        snap = self.snapshot()
        elapsed = elapsed if elapsed is not None else max(time.time() - self.started_at, 1e-6)
        rate = snap["events_in"] / elapsed if elapsed > 0 else 0.0
        return (f"{self.pipeline}: in {snap['events_in']} ({rate:,.0f}/s) | written {snap['written']} | "
                f"dead-lettered {snap['dead_letters']} | filtered {snap['filtered']}")


class MetricsWriter:
    """Writes a :class:`Metrics` snapshot to a JSON file every ``interval`` seconds (atomic rename)."""

    def __init__(self, metrics: Metrics, path: Path, interval: float = 1.0) -> None:
        self.metrics = metrics
        self.path = path
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rdg-metrics", daemon=True)

    def start(self) -> "MetricsWriter":
        """Start writing in the background."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.write()  # replace a dead predecessor's file at once
        self._thread.start()
        return self

    def write(self) -> None:
        """Write one snapshot now."""
        tmp = self.path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(self.metrics.snapshot()))
        os.replace(tmp, self.path)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.write()
            except OSError:
                pass

    def stop(self) -> None:
        """Write a last snapshot and stop."""
        self._stop.set()
        self._thread.join(timeout=2)
        try:
            self.write()
        except OSError:
            pass


def read_metrics(folder: Path) -> list[dict[str, Any]]:
    """Every ``metrics-*.json`` snapshot in ``folder`` (one per process), as :meth:`Metrics.snapshot`
    made it; a deployed pipeline's folder is :func:`pipeline_dir` ``(settings, name)``.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "metrics-0.json").write_text(json.dumps(Metrics("games").snapshot()))
    >>> [(snap["pipeline"], snap["events_in"]) for snap in read_metrics(folder)]
    [('games', 0)]
    """
    out = []
    for path in sorted(folder.glob("metrics-*.json")):
        try:
            out.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return out
