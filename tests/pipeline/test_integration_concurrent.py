"""One graph under concurrent writers, on real Kafka and a fresh JanusGraph (inmemory, berkeleyje).

All three example pipelines, deployed at once with two Bytewax processes each and two graph
writers, over a corpus whose accounts, profiles and devices appear in every vertical (with
repeats, shuffled order, equal event times and malformed events), must build exactly the graph
an independent oracle computes; then again after a pipeline is killed with SIGKILL mid-stream
and deployed again while the others run, and after a graph writer is killed.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from rdg.config import Settings
from rdg.errors import RetryableError
from rdg.graph import check, connect
from rdg.pipeline import load_spec
from rdg.pipeline import WRITER, deploy, status, stop
from tests.pipeline.corpus import actual, diff, make_corpus, oracle
from tests.pipeline.kafka_topics import read_json_topic
from tests.pipeline.private_graph import PrivateJanusGraph
from rdg.testing import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
SOURCES = {"playback": "playback.cdc", "live_viewing": "live.requests", "games": "games.sessions"}


@pytest.fixture(params=["inmemory", "berkeleyje"])
def janusgraph(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh JanusGraph Server of this test's own, so the whole graph can be compared."""
    server = PrivateJanusGraph(tmp_path_factory.mktemp(f"janus-{request.param}"), backend=request.param)
    server.up()
    try:
        yield server.url
    finally:
        server.down()


def _topics(bootstrap: str, prefix: str) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    names = [f"{prefix}.{t}" for t in SOURCES.values()] + [f"{prefix}.dead-letter"]
    for future in admin.create_topics([NewTopic(t, 3, 1) for t in names]).values():
        future.result(30)


def _produce(bootstrap: str, prefix: str, lines: dict[str, list[str]], *, pause_every: int = 0) -> None:
    """Round-robin over the three pipelines' topics (and their 3 partitions), so all run at once."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": "5"})
    queues = {name: list(ls) for name, ls in lines.items()}
    sent = 0
    while any(queues.values()):
        for name, queue in queues.items():
            if queue:
                producer.produce(f"{prefix}.{SOURCES[name]}", queue.pop(0).encode(), partition=sent % 3)
                sent += 1
                if pause_every and sent % pause_every == 0:
                    producer.flush(10)
                    time.sleep(0.05)  # paces the load generator: the stream still runs when the kills land
    producer.flush(30)


def _workers_of(folder: Path) -> list[int]:
    """Pids of the worker processes of one deployment (from /proc)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"rdg.pipeline._worker" in cmd and str(folder).encode() in cmd:
                pids.append(int(proc.name))
    return pids


def test_all_pipelines_at_once_build_exactly_one_graph(janusgraph: str, kafka_bootstrap: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = f"cc{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("RDG_TOPIC_PREFIX", prefix)  # the spec's topics: ${RDG_TOPIC_PREFIX:-rdg}.*
    monkeypatch.setenv("RDG_DATA", str(ROOT / "rdg" / "data"))
    settings = Settings(state_dir=str(tmp_path / "state"), gremlin_url=janusgraph, kafka_bootstrap=kafka_bootstrap,
                        graph_writes_topic=f"{prefix}.graph-writes", graph_writes_partitions=4)
    corpus = make_corpus(300, seed=11)
    expected = oracle(corpus)
    _topics(kafka_bootstrap, prefix)
    spec = load_spec(ROOT / "pipelines.yaml")
    first = {name: lines[: len(lines) // 3] for name, lines in corpus.lines.items()}
    rest = {name: lines[len(lines) // 3:] for name, lines in corpus.lines.items()}
    _produce(kafka_bootstrap, prefix, first)
    try:
        started = {r.pipeline: r for r in deploy(spec, settings=settings, processes=2, writers=2)}
        assert set(started) == {WRITER, *SOURCES}
        wait_until(lambda: all(row.written > 0 for row in status(settings, list(SOURCES), with_lag=False)),
                   timeout=180, what="every pipeline to hand on its first writes")
        producer = threading.Thread(target=_produce, args=(kafka_bootstrap, prefix, rest), kwargs={"pause_every": 50})
        producer.start()
        time.sleep(1.0)  # paces the fault injection: kill mid-stream (whenever it lands, the graph must come out the same)
        os.killpg(started["playback"].pid, signal.SIGKILL)  # one pipeline: supervisor and both workers
        writer_folder = Path(started[WRITER].folder)
        victims = _workers_of(writer_folder)
        assert victims, "no graph writer process found"
        os.kill(victims[0], signal.SIGKILL)  # one graph writer; its supervisor restarts the writers
        wait_until(lambda: not status(settings, ["playback"], with_lag=False)[0].running, timeout=30,
                   what="the killed pipeline to be gone")
        again = {r.pipeline: r for r in deploy(spec, ["playback"], settings=settings, processes=2, writers=2)}
        assert not again["playback"].already_running and again[WRITER].already_running
        producer.join()

        with connect(janusgraph) as graph:
            last: list[Any] = []

            def same() -> bool:
                try:
                    last[:] = [actual(graph)]
                except RetryableError:  # berkeleyje: a read may time out on a lock the writers hold
                    return False
                return last[0] == expected

            try:
                wait_until(same, timeout=420, every=3.0, what="the graph to equal the oracle")
            except AssertionError:
                lines = diff(expected, last[0]) if last else ["(no dump of the graph succeeded)"]
                pytest.fail("the graph differs from the oracle:\n" + "\n".join(lines))
            report = check(graph)
            assert report.clean, report.as_dict()
        letters = read_json_topic(kafka_bootstrap, f"{prefix}.dead-letter", 3)
        by_pipeline: dict[str, set[str]] = {}
        for letter in letters:
            by_pipeline.setdefault(letter["pipeline"], set()).add(letter["offset"])
        assert {name: len(offsets) for name, offsets in by_pipeline.items()} == expected.dead_letters
        rows = {row.pipeline: row for row in status(settings)}
        assert rows[WRITER].running and rows[WRITER].restarts >= 1 and rows[WRITER].dead_letters == 0
        wait_until(lambda: status(settings, [WRITER])[0].lag == 0, timeout=60, what="the writers' lag to reach 0")
    finally:
        stop(settings=settings)
