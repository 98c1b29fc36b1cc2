"""Test helpers for code built on rdg, and for rdg's own suite: real servers as pytest fixtures,
an embedded graph, and one way to wait.

Installing rdg registers this module as a pytest plugin (entry point ``pytest11``), so in any
project that has rdg and pytest these fixtures just work:

- ``rdg_nats_url``, ``rdg_kafka_bootstrap``, ``rdg_gremlin_url``: a real NATS (JetStream),
  Kafka (KRaft) or JanusGraph Server (inmemory), each started the first time a test asks for
  it, once per session, on free ports under pytest's temporary folder, and stopped at the end
  (``rdg.stack.start_for_tests``; the first start fetches jars / builds nats-server into
  ``~/.cache/rdg``). With ``RDG_STACK=running`` they use servers already up (``rdg stack up``)
  at ``RDG_NATS_URL``, ``RDG_KAFKA_BOOTSTRAP`` and ``RDG_GREMLIN_URL``. A server that cannot
  start fails the tests that need it; it never skips them.
- ``rdg_graph``: an embedded graph in the test's own folder, closed afterwards.

Waiting: tests wait on a condition, never on a length of time. :func:`wait_until` and
:func:`async_wait_until` poll until it holds or a generous deadline passes, then fail with what
was awaited and the last value seen:

>>> wait_until(lambda: 1 + 1, what="arithmetic")
2
>>> wait_until(lambda: False, timeout=0.05, what="never")
Traceback (most recent call last):
...
AssertionError: timed out after 0.05s waiting for never (last: False)

An example test (``tests/test_mine.py`` in your project)::

    from rdg.graph import GraphModel, VertexLabel, VertexWrite

    def test_a_member_is_written(rdg_graph):
        rdg_graph.init_schema(GraphModel((VertexLabel("member", "member_id"),), ()))
        rdg_graph.upsert([VertexWrite("member", "member_id", "m1", {"plan": "basic"}, ts=1)])
        assert rdg_graph.query("g.V().has('member', 'member_id', m).values('plan')", {"m": "m1"}) == ["basic"]
"""

from __future__ import annotations

import asyncio
import inspect
import os
import re
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator, TypeVar

import pytest

__all__ = ["STARTED", "async_wait_until", "rdg_gremlin_url", "rdg_graph", "rdg_kafka_bootstrap", "rdg_nats_url",
           "wait_until"]

T = TypeVar("T")

STARTED: list[str] = []
"""One line per server this session started: its version and its own ready line (printed at the
end of the run by the plugin, so a CI log shows what ran)."""

_READY = {"nats": re.compile(r"Server is ready"), "kafka": re.compile(r"Kafka Server started"),
          "janusgraph": re.compile(r"Channel started at port")}
_RUNNING_URL = {"nats": ("RDG_NATS_URL", "nats://127.0.0.1:4222"),
                "kafka": ("RDG_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
                "janusgraph": ("RDG_GREMLIN_URL", "ws://127.0.0.1:8182/gremlin")}


def wait_until(condition: Callable[[], T], *, timeout: float = 30.0, every: float = 0.05,
               what: str = "a condition") -> T:
    """Call ``condition`` until it returns something truthy; return that.

    Raises:
        AssertionError: It never did within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        last = condition()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
        time.sleep(every)


async def async_wait_until(condition: Callable[[], Any | Awaitable[Any]], *, timeout: float = 30.0,
                           every: float = 0.05, what: str = "a condition") -> Any:
    """Like :func:`wait_until` for asyncio tests; ``condition`` may be a coroutine function.

    >>> asyncio.run(async_wait_until(lambda: asyncio.sleep(0, result=3), what="a coroutine"))
    3
    """
    deadline = time.monotonic() + timeout
    while True:
        last = condition()
        if inspect.isawaitable(last):
            last = await last
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
        await asyncio.sleep(every)


def _server(name: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if os.environ.get("RDG_STACK") == "running":
        variable, default = _RUNNING_URL[name]
        yield os.environ.get(variable, default)
        return
    from rdg.stack import start_for_tests

    folder = tmp_path_factory.mktemp(f"stack-{name}")
    said: list[str] = []
    with start_for_tests(name, folder, progress=said.append) as url:
        log = (folder / name / "server.log").read_text(errors="replace").splitlines()
        ready = next((line.strip() for line in log if _READY[name].search(line)), "(no ready line in its log)")
        STARTED.append(f"{said[-1]}\n    its log: {ready}")
        yield url


@pytest.fixture(scope="session")
def rdg_nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a real NATS server with JetStream."""
    yield from _server("nats", tmp_path_factory)


@pytest.fixture(scope="session")
def rdg_kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``host:port`` of a real Kafka broker (KRaft, one node)."""
    yield from _server("kafka", tmp_path_factory)


@pytest.fixture(scope="session")
def rdg_gremlin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``ws://host:port/gremlin`` of a real JanusGraph Server (inmemory backend)."""
    yield from _server("janusgraph", tmp_path_factory)


@pytest.fixture
def rdg_graph(tmp_path: Path) -> Iterator[Any]:
    """An embedded graph (``rdg.graph.connect``) in the test's folder, closed afterwards."""
    from rdg.graph import connect

    graph = connect(str(tmp_path / "graph.sqlite"))
    try:
        yield graph
    finally:
        graph.close()


def pytest_report_header() -> str:
    """Say where the servers come from, so a log of the run shows it."""
    if os.environ.get("RDG_STACK") == "running":
        return "rdg stack: RDG_STACK=running, reusing servers already up"
    return "rdg stack: real servers start on free ports, once per session, when a test needs them"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """List the servers this session ran, with their versions and ready lines."""
    if STARTED:
        terminalreporter.section("rdg stack")
        for line in STARTED:
            terminalreporter.write_line(line)
