"""The checker checked on a real JanusGraph: racing naive upserts leave duplicates, `check` finds
them, `repair` merges them into exactly what one serial ``graph.upsert`` builds."""

from __future__ import annotations

import random
import threading
import time
import zlib
from typing import Any, Iterator

import pytest
from gremlin_python.driver.protocol import GremlinServerError

from rdg.graph import EdgeWrite, VertexWrite, check, connect, repair
from tests.graph.test_check import Space, generate, naive_upsert, naive_vertex, view

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

WRITERS = 4


def _lists(writes: list[Any], seed: int) -> list[list[Any]]:
    """Each writer's share, in member order so that all of them reach the same vertices together.

    A vertex's own writes go to one writer (naive writers racing on one vertex's properties lose
    updates, which no repair can bring back); edge events go round-robin, a quarter of them
    replayed by a second writer; every writer creates the endpoints it needs.
    """
    rnd = random.Random(seed)
    out: list[list[Any]] = [[] for _ in range(WRITERS)]
    n = 0
    for w in writes:
        if isinstance(w, VertexWrite):
            out[zlib.crc32(repr(w.identity).encode()) % WRITERS].append(w)
            continue
        n += 1
        out[n % WRITERS].append(w)
        if rnd.random() < 0.25:
            out[(n + 1 + rnd.randrange(WRITERS - 1)) % WRITERS].append(w)

    def order(w: Any) -> tuple[Any, ...]:
        member = w.key_value if isinstance(w, VertexWrite) and w.label.endswith("member") else \
            w.from_vertex[2] if isinstance(w, EdgeWrite) else w.key_value
        return (member, w.ts)

    return [sorted(part, key=order) for part in out]


def _race(url: str, parts: list[list[Any]], seed: int) -> None:
    """Every writer on its own connection. First each looks up (and creates when absent) every
    vertex it will need, all released together per vertex, as writers that start at once on the
    same stream do; then each writes its share."""
    barrier = threading.Barrier(len(parts))
    ends = sorted({(w.label, w.key, w.key_value) for part in parts for w in part if isinstance(w, VertexWrite)}
                  | {end for part in parts for w in part if isinstance(w, EdgeWrite)
                     for end in (w.from_vertex, w.to_vertex)}, key=repr)
    errors: list[BaseException] = []

    def writer(i: int, part: list[Any]) -> None:
        rnd = random.Random(seed * 100 + i)
        try:
            with connect(url) as g:
                for end in ends:
                    barrier.wait(timeout=60)
                    naive_vertex(g.g, *end)
                for w in part:
                    for attempt in range(5):
                        try:
                            naive_upsert(g.g, w, rnd, janus=True)
                            break
                        except GremlinServerError:  # lock or schema contention between the racers
                            if attempt == 4:
                                raise
                            time.sleep(0.05 * (attempt + 1))  # backoff of the writer's retry loop, not a wait
        except BaseException as err:  # noqa: BLE001 - reported by the main thread
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(i, part), name=f"naive-{i}") for i, part in enumerate(parts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=400)
    assert not any(t.is_alive() for t in threads), "a naive writer hung"
    assert not errors, errors


@pytest.fixture
def janus(gremlin_url: str) -> Iterator[tuple[Any, list[Space]]]:
    spaces: list[Space] = []
    graph = connect(gremlin_url)
    try:
        yield graph, spaces
    finally:
        labels = [label for s in spaces for label in s.labels]
        if labels:
            graph.g.V().has_label(*labels).drop().iterate()
        graph.close()


def test_racing_naive_upserts_are_found_and_repaired_to_the_oracle(janus: tuple[Any, list[Space]], gremlin_url: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("rdg.graph._check._MOVES_PER_REQUEST", 3)  # a busy copy's edges move in several requests
    graph, spaces = janus
    oracle = Space()
    spaces.append(oracle)
    for attempt in range(4):
        raced = Space()
        spaces.append(raced)
        writes = generate(raced, seed=attempt)
        graph.init_schema(raced.model())  # keys, labels and indexes exist before the race
        _race(gremlin_url, _lists(writes, attempt), attempt)
        found = check(graph, labels=raced.labels)
        if found.duplicate_vertices and found.duplicate_edges:
            break
    else:
        pytest.fail(f"four races left no duplicate vertex: {found.as_dict()}")
    assert found.extra_vertices >= found.duplicate_vertices > 0
    assert found.duplicate_edges > 0 and found.unkeyed_vertices == 0 and found.dangling_edges == 0
    assert check(graph, labels=oracle.labels).vertices == 0  # labels keep tests apart

    dry = repair(graph, labels=raced.labels, dry_run=True)
    assert (dry.vertices_merged, dry.edges_merged) == (found.duplicate_vertices, found.duplicate_edges)
    done = repair(graph, labels=raced.labels)
    assert (done.vertices_merged, done.vertices_dropped, done.edges_merged, done.edges_dropped) == \
        (dry.vertices_merged, dry.vertices_dropped, dry.edges_merged, dry.edges_dropped)
    after = check(graph, labels=raced.labels)
    assert after.clean, after.as_dict()

    # the oracle: the same writes, one serial upsert, on labels of its own
    same = [VertexWrite(w.label.replace(raced.prefix, oracle.prefix), w.key.replace(raced.prefix, oracle.prefix),
                        w.key_value, w.properties, w.ts, w.source) if isinstance(w, VertexWrite) else
            EdgeWrite(w.label.replace(raced.prefix, oracle.prefix),
                      tuple(x.replace(raced.prefix, oracle.prefix) for x in w.from_vertex),  # type: ignore[arg-type]
                      tuple(x.replace(raced.prefix, oracle.prefix) for x in w.to_vertex),  # type: ignore[arg-type]
                      w.properties, w.ts, w.event_id, w.source) for w in writes]
    graph.init_schema(oracle.model())
    assert graph.upsert(same).failed == []
    got, want = view(graph, raced, writes), view(graph, oracle, same)
    assert got["per_label"] == want["per_label"]
    assert got["edges"].keys() == want["edges"].keys()
    for ident, props in want["edges"].items():
        assert got["edges"][ident] == props, ident
    assert got == want

    again = repair(graph, labels=raced.labels)
    assert not again.changed and again.merges == []
