"""The main job on the real stack: Kafka -> `rdg deploy` (Bytewax) -> JanusGraph.

Each test works under its own id prefix and its own topics, so it can share the servers with
other tests; the graph is read back per id and compared with what the test computes itself
from the events it produced (tests/pipeline/expected.py).
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from rdg.config import Settings
from rdg.pipeline import generate, load_spec
from rdg.pipeline import deploy, status, stop
from tests.pipeline.expected import expected_games, with_prefix
from tests.pipeline.kafka_topics import read_json_topic
from tests.pipeline.private_graph import PrivateJanusGraph
from rdg.testing import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]


class Stack:
    """One test's topics, settings and helpers."""

    def __init__(self, bootstrap: str, gremlin: str, state: Path) -> None:
        self.prefix = f"it{uuid.uuid4().hex[:8]}"
        self.bootstrap = bootstrap
        self.settings = Settings(state_dir=str(state), gremlin_url=gremlin, kafka_bootstrap=bootstrap,
                                 graph_writes_topic=f"{self.prefix}.graph-writes", graph_writes_partitions=4)
        self.topic = f"{self.prefix}.games.sessions"
        self.dead_topic = f"{self.prefix}.dead-letter"
        from confluent_kafka.admin import AdminClient, NewTopic

        admin = AdminClient({"bootstrap.servers": bootstrap})
        futures = admin.create_topics([NewTopic(t, 2, 1) for t in (self.topic, self.dead_topic)])
        for f in futures.values():
            f.result(30)

    def produce(self, lines: list[str], *, pause: float = 0.0) -> None:
        from confluent_kafka import Producer

        producer = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": "5"})
        for i, line in enumerate(lines):
            producer.produce(self.topic, line.encode(), partition=i % 2)
            if pause:
                producer.flush(10)
                time.sleep(pause)  # paces the load generator (a slow stream the test can kill mid-way)
        producer.flush(30)

    def dead_letters(self) -> list[dict[str, Any]]:
        return read_json_topic(self.bootstrap, self.dead_topic, 2, timeout=20)

    def status(self, name: str = "games") -> Any:
        (row,) = status(self.settings, [name])
        return row


@pytest.fixture()
def stack(kafka_bootstrap: str, gremlin_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    s = Stack(kafka_bootstrap, gremlin_url, tmp_path / "state")
    monkeypatch.setenv("RDG_TOPIC_PREFIX", s.prefix)  # the spec's topics: ${RDG_TOPIC_PREFIX:-rdg}.*
    monkeypatch.setenv("RDG_DATA", str(ROOT / "rdg" / "data"))
    yield s
    stop(settings=s.settings)


def _games(results: list[Any]) -> Any:
    """The games pipeline's deploy result (the graph writers are deployed beside it)."""
    (games,) = [r for r in results if r.pipeline == "games"]
    return games


def _spec() -> Any:
    return load_spec(ROOT / "pipelines.yaml")


def read_graph(gremlin_url: str, prefix: str) -> tuple[dict[tuple[str, str], dict[str, Any]],
                                                        dict[tuple[str, str, str], dict[str, Any]]]:
    """Vertices and edges whose ids start with ``prefix`` (game vertices are shared, so only edges to them)."""
    from gremlin_python.process.graph_traversal import __
    from gremlin_python.process.traversal import TextP

    from rdg.graph import connect

    def flat(m: dict[Any, Any]) -> dict[str, Any]:
        return {str(k): (v[0] if isinstance(v, list) and len(v) == 1 else v) for k, v in m.items() if isinstance(k, str)}

    with connect(gremlin_url) as graph:
        g = graph.g
        vertices = {}
        for label, key in (("account", "account_id"), ("profile", "profile_id"), ("device", "device_id")):
            for row in g.V().has(label, key, TextP.starting_with(prefix)).value_map().to_list():
                props = flat(row)
                vertices[(label, props[key])] = {k: v for k, v in props.items() if not k.startswith("_")}
        edges = {}
        for label, key in (("account", "account_id"), ("profile", "profile_id")):
            rows = (g.V().has(label, key, TextP.starting_with(prefix)).out_e()
                    .project("l", "f", "t", "p").by(__.label()).by(__.out_v().values(key))
                    .by(__.in_v().value_map()).by(__.value_map()).to_list())
            for row in rows:
                to = flat(row["t"])
                edges[(row["l"], row["f"], to[to["_key"]])] = flat(row["p"])
    return vertices, edges


def _check(stack: Stack, lines: list[str], gremlin_url: str) -> None:
    want_vertices, want_counts, want_props, _ = expected_games(lines)
    mine = {k: v for k, v in want_vertices.items() if k[0] != "game"}

    def matches() -> bool:
        try:
            _, edges = read_graph(gremlin_url, stack.prefix)
        except Exception:  # noqa: BLE001 - a read racing the writer (berkeleyje deadlock victim): look again
            return False
        return {k: v.get("count") for k, v in edges.items()} == want_counts

    try:
        wait_until(matches, timeout=120, every=0.5, what="the graph to hold every expected edge with its exact count")
    finally:
        print(stack.status())
    vertices, edges = read_graph(gremlin_url, stack.prefix)
    for key, props in mine.items():
        got = vertices[key]
        for name, value in props.items():
            assert got.get(name) == value, (key, name, got)
    assert set(vertices) == set(mine)
    for ident, props in want_props.items():
        for name, value in props.items():
            assert edges[ident].get(name) == value, (ident, name, edges[ident])
        assert edges[ident]["first_seen"] <= edges[ident]["last_seen"]
        assert edges[ident]["_src"].startswith("games@" + stack.topic)  # traced to the source offset


def test_deploy_writes_exactly_the_graph_the_events_describe(stack: Stack, gremlin_url: str) -> None:
    lines = with_prefix(generate(members=10, seed=4)["games"], stack.prefix)
    stack.produce(lines)
    deploy(_spec(), ["games"], settings=stack.settings)
    _check(stack, lines, gremlin_url)
    letters = stack.dead_letters()
    assert len(letters) == 3
    assert {x["step"] for x in letters} == {"games.decode", "games.normalize", "games.enrich"}
    assert all(x["offset"].startswith(stack.topic + ":") and x["reason"] and x["raw"] for x in letters)
    wait_until(lambda: stack.status().lag == 0, timeout=30, every=0.5, what="lag 0")
    row = stack.status()
    assert row.running and row.events_in == len(lines) and row.dead_letters == 3 and row.written > 0


def test_two_processes_with_duplicates_and_shuffled_order_write_the_same_graph(stack: Stack, gremlin_url: str) -> None:
    base = with_prefix(generate(members=10, seed=5)["games"], stack.prefix)
    messy = base + random.Random(3).sample(base, 30)
    random.Random(4).shuffle(messy)
    stack.produce(messy)
    deploy(_spec(), ["games"], settings=stack.settings, processes=2)
    _check(stack, base, gremlin_url)  # the same graph the clean, ordered events describe
    assert stack.status().processes == 2


def test_kill_9_mid_stream_then_deploy_again_loses_nothing_and_counts_nothing_twice(stack: Stack,
                                                                                    gremlin_url: str) -> None:
    lines = with_prefix(generate(members=30, seed=6)["games"], stack.prefix)
    first, rest = lines[: len(lines) // 3], lines[len(lines) // 3:]
    stack.produce(first)
    spec = _spec()
    started = _games(deploy(spec, ["games"], settings=stack.settings, epoch_interval_s=0.5))
    wait_until(lambda: stack.status().written > 0, timeout=60, every=0.5, what="the first writes")
    producer = threading.Thread(target=stack.produce, args=(rest,), kwargs={"pause": 0.01})
    producer.start()
    time.sleep(1.0)  # paces the fault injection: the kill lands while the rest is still being produced
    os.killpg(started.pid, signal.SIGKILL)  # supervisor and workers, mid-stream
    wait_until(lambda: not stack.status().running, timeout=10, every=0.5, what="the pipeline to be dead")
    producer.join()
    again = _games(deploy(spec, ["games"], settings=stack.settings, epoch_interval_s=0.5))
    assert not again.already_running
    _check(stack, lines, gremlin_url)


@pytest.fixture()
def private_janusgraph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateJanusGraph]:
    server = PrivateJanusGraph(tmp_path_factory.mktemp("private-janus"))
    server.up()
    try:
        yield server
    finally:
        server.down()


def test_janusgraph_stopped_mid_stream_is_retried_and_nothing_is_lost(kafka_bootstrap: str, tmp_path: Path,
                                                                      private_janusgraph: PrivateJanusGraph,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    server = private_janusgraph
    stack = Stack(kafka_bootstrap, server.url, tmp_path / "state")
    monkeypatch.setenv("RDG_TOPIC_PREFIX", stack.prefix)
    monkeypatch.setenv("RDG_DATA", str(ROOT / "rdg" / "data"))
    lines = with_prefix(generate(members=20, seed=8)["games"], stack.prefix)
    try:
        stack.produce(lines[:20])
        deploy(_spec(), ["games"], settings=stack.settings)
        wait_until(lambda: stack.status().written > 0, timeout=60, every=0.5, what="the first writes")
        server.down()  # JanusGraph goes away mid-stream
        stack.produce(lines[20:])
        wait_until(lambda: stack.status("graph-writer").retries > 0, timeout=120, every=0.5,
                   what="the graph writer to fail, log and retry")
        time.sleep(2)  # paces the fault injection: JanusGraph stays down a while longer as the writer retries
        server.up()  # and comes back with its data
        _check(stack, lines, server.url)
        assert stack.status().running
        row = stack.status("graph-writer")
        assert row.running and row.retries > 0
        log = (Path(stack.settings.state_dir) / "pipelines" / "graph-writer" / "pipeline.log").read_text()
        assert "retrying in" in log
    finally:
        stop(settings=stack.settings)


def test_a_redeploy_with_another_process_count_is_refused_clearly(stack: Stack) -> None:
    from rdg.errors import IllegalActionError

    spec = _spec()
    deploy(spec, ["games"], settings=stack.settings, processes=1)
    stop(["games"], settings=stack.settings)
    with pytest.raises(IllegalActionError) as err:
        deploy(spec, ["games"], settings=stack.settings, processes=2)
    assert "was deployed with 1 process(es)" in str(err.value) and "--processes 1" in str(err.value)
    again = _games(deploy(spec, ["games"], settings=stack.settings, processes=1))
    assert not again.already_running
