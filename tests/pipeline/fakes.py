"""An in-memory graph that keeps the graph layer's upsert contract (unit tests only)."""

from __future__ import annotations

import threading
from typing import Any

from rdg.graph import EdgeWrite, UpsertResult, VertexWrite, wins


class FakeGraph:
    """Idempotent upserts; last write wins per property (the graph's own rule, :func:`rdg.graph.wins`);
    edge count exact per event_id."""

    def __init__(self, fail_times: int = 0) -> None:
        self.vertices: dict[tuple[str, Any], dict[str, Any]] = {}
        self.prop_ts: dict[tuple[Any, ...], int] = {}
        self.edges: dict[tuple, dict[str, Any]] = {}
        self.calls = 0
        self.fail_times = fail_times
        self.closed = 0
        self._lock = threading.Lock()

    def init_schema(self, model: Any) -> None:
        self.model = model

    def _vertex(self, label: str, key: str, value: Any) -> dict[str, Any]:
        return self.vertices.setdefault((label, value), {key: value})

    def upsert(self, writes: list[VertexWrite | EdgeWrite]) -> UpsertResult:
        with self._lock:
            self.calls += 1
            if self.fail_times > 0:
                self.fail_times -= 1
                raise ConnectionError("graph is down")
            result = UpsertResult(requests=1)
            for w in writes:
                if isinstance(w, VertexWrite):
                    props = self._vertex(w.label, w.key, w.key_value)
                    for k, v in w.properties.items():
                        if wins(w.ts, v, self.prop_ts.get((w.label, w.key_value, k)), props.get(k)):
                            props[k] = v
                            self.prop_ts[(w.label, w.key_value, k)] = w.ts
                    result.vertices += 1
                else:
                    self._vertex(*w.from_vertex)
                    self._vertex(*w.to_vertex)
                    edge = self.edges.setdefault(w.identity, {"events": set(), "first_seen": w.ts, "last_seen": w.ts})
                    edge["events"].add(w.event_id)
                    edge["first_seen"] = min(edge["first_seen"], w.ts)
                    edge["last_seen"] = max(edge["last_seen"], w.ts)
                    for k, v in w.properties.items():
                        if wins(w.ts, v, self.prop_ts.get((w.identity, k)), edge.get(k)):
                            edge[k] = v
                            self.prop_ts[(w.identity, k)] = w.ts
                    result.edges += 1
            return result

    def close(self) -> None:
        self.closed += 1

    def counts(self) -> dict[tuple, int]:
        return {k: len(v["events"]) for k, v in self.edges.items()}
