"""Shared fixtures: real servers, started once per test session.

``nats_url``, ``kafka_bootstrap`` and ``gremlin_url`` each start only their own server (on a
free port, under a temporary folder) the first time a test asks for it, and stop it at the end.
With ``RDG_STACK=running`` they reuse servers already up (``rdg stack up``) at the URLs in
``RDG_NATS_URL``, ``RDG_KAFKA_BOOTSTRAP`` and ``RDG_GREMLIN_URL`` (or the defaults).
A server that cannot start fails the tests that need it; it never skips them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterator

import pytest

_RUNNING = os.environ.get("RDG_STACK") == "running"
FIXTURES = Path(__file__).parent / "fixtures"


def pytest_report_header() -> str:
    """Say where the servers come from, so a log of the run shows it."""
    if _RUNNING:
        return "rdg stack: RDG_STACK=running, reusing servers already up"
    return "rdg stack: real servers start on free ports, once per session, when a test needs them"


_READY = {"nats": re.compile(r"Server is ready"), "kafka": re.compile(r"Kafka Server started"),
          "janusgraph": re.compile(r"Channel started at port")}
_STARTED: list[str] = []
"""What each server said when it became ready, for the end of the log (the version that ran)."""


def _start(name: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from rdg.stack import start_for_tests

    folder = tmp_path_factory.mktemp(f"stack-{name}")
    said: list[str] = []
    with start_for_tests(name, folder, progress=said.append) as url:
        log = (folder / name / "server.log").read_text(errors="replace").splitlines()
        ready = next((line.strip() for line in log if _READY[name].search(line)), "(no ready line in its log)")
        _STARTED.append(f"{said[-1]}\n    its log: {ready}")
        yield url


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """List the servers this session ran, with their versions and ready lines."""
    if _STARTED:
        terminalreporter.section("rdg stack")
        for line in _STARTED:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a real NATS server with JetStream."""
    if _RUNNING:
        yield os.environ.get("RDG_NATS_URL", "nats://127.0.0.1:4222")
        return
    yield from _start("nats", tmp_path_factory)


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``host:port`` of a real Kafka broker (KRaft, one node)."""
    if _RUNNING:
        yield os.environ.get("RDG_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
        return
    yield from _start("kafka", tmp_path_factory)


@pytest.fixture(scope="session")
def gremlin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``ws://host:port/gremlin`` of a real JanusGraph Server (inmemory backend)."""
    if _RUNNING:
        yield os.environ.get("RDG_GREMLIN_URL", "ws://127.0.0.1:8182/gremlin")
        return
    yield from _start("janusgraph", tmp_path_factory)
