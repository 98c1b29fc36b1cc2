"""Retries, backoff and bisecting in the graph handle, with a scripted fake backend (unit test)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from rdg.errors import RetryableError, ServerBusyError, ServerError
from rdg.graph import Graph, VertexWrite
from rdg.graph._plan import Plan


class FakeBackend:
    name = "fake"
    g = None
    default_batch_size = 8
    parallel = 1
    read_requests = 1

    def __init__(self, fail_first: int = 0, poison: str | None = None, down: bool = False) -> None:
        self.fail_first, self.poison, self.down = fail_first, poison, down
        self.applied: list[Any] = []
        self.calls = 0

    def begin(self) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...

    def read_state(self, co: Any) -> tuple[dict, dict]:
        self.calls += 1
        if self.down:
            raise RetryableError("connection refused")
        if self.calls <= self.fail_first:
            raise ServerBusyError("TemporaryBackendException")
        if self.poison and any(v.key_value == self.poison for v in co.vertices.values()):
            raise ServerError("Value [x] is not an instance of the expected data type")
        return {}, {}

    def apply(self, ops: Plan) -> int:
        self.applied.extend(nv.props for nv in ops.new_vertices)
        return 1


def writes(n: int) -> list[VertexWrite]:
    return [VertexWrite("device", "device_id", f"d{i}", {"os": "x"}, ts=1) for i in range(n)]


def test_transient_errors_are_retried_with_backoff(caplog: pytest.LogCaptureFixture) -> None:
    sleeps: list[float] = []
    backend = FakeBackend(fail_first=2)
    graph = Graph(backend, sleep=sleeps.append, backoff_s=0.1)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="rdg.graph"):
        result = graph.upsert(writes(3))
    assert result.failed == [] and len(backend.applied) == 3
    assert sleeps == [0.1, 0.2]
    assert "retry 1/4" in caplog.text


def test_a_bad_element_is_isolated_by_bisecting() -> None:
    backend = FakeBackend(poison="d5")
    graph = Graph(backend, sleep=lambda s: None)  # type: ignore[arg-type]
    batch = writes(8)
    result = graph.upsert(batch)
    assert [w for w, _ in result.failed] == [batch[5]]
    assert "expected data type" in result.failed[0][1]
    assert sorted(p["device_id"] for p in backend.applied) == sorted(f"d{i}" for i in range(8) if i != 5)


def test_a_server_that_stays_down_raises_after_the_retries() -> None:
    backend = FakeBackend(down=True)
    graph = Graph(backend, retries=2, sleep=lambda s: None)  # type: ignore[arg-type]
    with pytest.raises(ServerError, match="giving up after 3 attempts"):
        graph.upsert(writes(2))
    assert backend.calls == 3


def test_batches_are_split_by_batch_size() -> None:
    backend = FakeBackend()
    result = Graph(backend, batch_size=4, sleep=lambda s: None).upsert(writes(10))  # type: ignore[arg-type]
    assert result.requests == 6 and result.vertices == 10  # 3 batches x (read + write)
