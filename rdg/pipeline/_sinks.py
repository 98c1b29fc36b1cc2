"""Sinks: graph writes (straight into the graph, or to the graph writers), and dead letters.

All are Bytewax ``DynamicSink``\\ s: every worker writes its own items. :class:`GraphSink`
upserts the embedded graph itself (SQLite serialises its writers); :class:`GraphWritesSink`
hands writes for a graph server to the graph writers through Kafka (one owner per vertex, see
``rdg.pipeline._graph_writes``). Both retry a failed batch with exponential backoff (a clear
log line each time) until the graph or Kafka comes back, so nothing is lost; writes the graph
rejects go to the dead-letter output.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable

from bytewax.outputs import DynamicSink, StatelessSinkPartition

from rdg.config import Settings
from rdg.errors import ConfigError, RdgError, StorageError
from rdg.graph import EdgeWrite, VertexWrite, compact, why_invalid
from rdg.pipeline._metrics import Metrics
from rdg.pipeline._steps import DeadLetter, Write
from rdg.spec import DeadLetterSpec

__all__ = ["STORAGE_ATTEMPTS", "DeadLetterSink", "DeadLetterWriter", "GraphSink", "GraphWritesSink",
           "open_dead_letter"]

STORAGE_ATTEMPTS = 4
"""Tries of a batch that fails with a lasting storage fault (:class:`rdg.errors.StorageError`) before
the sink gives up with that error; transient faults (a server away) are retried for ever."""

log = logging.getLogger("rdg.pipeline")

GraphOpener = Callable[[], Any]
"""Returns a graph handle with ``upsert(writes) -> UpsertResult`` and ``close()``."""


class DeadLetterWriter:
    """Appends dead letters to a JSONL file or produces them to a Kafka topic."""

    def __init__(self, spec: DeadLetterSpec, kafka_config: dict[str, str] | None = None) -> None:
        self.spec = spec
        self._lock = threading.Lock()
        if spec.kind == "file":
            path = Path(spec.target)
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = path.open("a", encoding="utf-8")
            self._producer = None
        else:
            from confluent_kafka import Producer

            if not kafka_config:
                raise ConfigError("a Kafka dead-letter topic needs kafka_bootstrap")
            self._fh = None
            self._producer = Producer({**kafka_config, "linger.ms": "20"})

    def write(self, letters: list[DeadLetter]) -> None:
        """Write ``letters`` durably (flushes before returning)."""
        if not letters:
            return
        with self._lock:
            if self._fh is not None:
                for letter in letters:
                    self._fh.write(json.dumps(letter.as_dict(), default=str) + "\n")
                self._fh.flush()
            else:
                assert self._producer is not None
                for letter in letters:
                    self._producer.produce(self.spec.target, json.dumps(letter.as_dict(), default=str).encode(),
                                           key=letter.offset.encode())
                while self._producer.flush(10) > 0:
                    log.warning("dead-letter topic %s: waiting for Kafka to take %s messages", self.spec.target,
                                len(self._producer))

    def close(self) -> None:
        """Flush and close."""
        if self._fh is not None:
            self._fh.close()
        elif self._producer is not None:
            self._producer.flush(10)


def open_dead_letter(spec: DeadLetterSpec, kafka_config: dict[str, str] | None) -> DeadLetterWriter:
    """A writer for ``spec``."""
    return DeadLetterWriter(spec, kafka_config)


class _DeadLetterPartition(StatelessSinkPartition[DeadLetter]):
    def __init__(self, writer: DeadLetterWriter, metrics: Metrics | None) -> None:
        self._writer = writer
        self._metrics = metrics

    def write_batch(self, items: list[DeadLetter]) -> None:
        self._writer.write(items)
        if self._metrics is not None:
            self._metrics.count_dead(len(items))
            self._metrics.error(f"dead letter: {items[-1].reason} at {items[-1].offset}")

    def close(self) -> None:
        self._writer.close()


class DeadLetterSink(DynamicSink[DeadLetter]):
    """Bytewax sink of :class:`DeadLetter` items."""

    def __init__(self, spec: DeadLetterSpec, kafka_config: dict[str, str] | None, metrics: Metrics | None) -> None:
        self.spec = spec
        self.kafka_config = kafka_config
        self.metrics = metrics

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _DeadLetterPartition:
        return _DeadLetterPartition(open_dead_letter(self.spec, self.kafka_config), self.metrics)


class _GraphPartition(StatelessSinkPartition[list[Write]]):
    def __init__(self, opener: GraphOpener, dead: DeadLetterSpec, kafka_config: dict[str, str] | None,
                 metrics: Metrics | None, pipeline: str, max_backoff: float) -> None:
        self._opener = opener
        self._graph: Any = None
        self._dead_spec = dead
        self._kafka_config = kafka_config
        self._dead: DeadLetterWriter | None = None
        self._metrics = metrics
        self._pipeline = pipeline
        self._max_backoff = max_backoff

    def _upsert(self, writes: list[Write]) -> Any:
        delay = 0.2
        lasting = 0  # failures in a row that trying again will not fix
        while True:
            try:
                if self._graph is None:
                    self._graph = self._opener()
                return self._graph.upsert(writes)
            except Exception as err:  # noqa: BLE001 - any driver failure: back off and try again
                if isinstance(err, (StorageError, ConfigError)):
                    lasting += 1
                    if lasting >= STORAGE_ATTEMPTS:
                        raise RdgError(f"{self._pipeline}: {self._what} gave up after {lasting} tries: {err}",
                                       hint=getattr(err, "hint", None)) from err
                text = f"{self._what} of {len(writes)} writes failed: {type(err).__name__}: {err}; retrying in {delay:.1f}s"
                log.warning("%s: %s", self._pipeline, text)
                if self._metrics is not None:
                    self._metrics.error(text, retry=True)
                if self._graph is not None:
                    try:
                        self._graph.close()
                    except Exception:  # noqa: BLE001 - it is already broken
                        pass
                    self._graph = None
                time.sleep(delay)
                delay = min(delay * 2, self._max_backoff)

    _what = "graph upsert"

    def write_batch(self, items: list[list[Write]]) -> None:
        writes = compact([w for batch in items for w in batch])
        if not writes:
            return
        started = time.perf_counter()
        result = self._upsert(writes)
        if self._metrics is not None:
            self._metrics.count_written(result.vertices, result.edges, result.requests, time.perf_counter() - started)
            self._metrics.observe_freshness([w.ts for w in writes if not isinstance(w, VertexWrite)])
        self._dead_letters(result.failed)

    def _dead_letters(self, failed: list[tuple[Write, str]]) -> None:
        if not failed:
            return
        if self._dead is None:
            self._dead = open_dead_letter(self._dead_spec, self._kafka_config)
        letters = [DeadLetter(self._pipeline, "upsert", reason, w.source, w.source.partition("@")[2],
                              {"write": repr(w)}) for w, reason in failed]
        self._dead.write(letters)
        if self._metrics is not None:
            self._metrics.count_dead(len(letters))

    def close(self) -> None:
        if self._graph is not None:
            self._graph.close()
        if self._dead is not None:
            self._dead.close()


class GraphSink(DynamicSink[list[Write]]):
    """Bytewax sink of write batches: each batch is coalesced once more and upserted in one call.

    Args:
        opener: Opens the graph (called lazily on each worker, and again after a failure).
        dead_letter: Where writes the graph rejects for good go.
        kafka_config: librdkafka config for a Kafka dead-letter topic.
        metrics: Counts what was written.
        pipeline: For dead letters and log lines.
        max_backoff: Longest wait between retries, in seconds.
    """

    def __init__(self, opener: GraphOpener, dead_letter: DeadLetterSpec, kafka_config: dict[str, str] | None,
                 metrics: Metrics | None, pipeline: str, *, max_backoff: float = 5.0) -> None:
        self.opener = opener
        self.dead_letter = dead_letter
        self.kafka_config = kafka_config
        self.metrics = metrics
        self.pipeline = pipeline
        self.max_backoff = max_backoff

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _GraphPartition:
        return _GraphPartition(self.opener, self.dead_letter, self.kafka_config, self.metrics, self.pipeline,
                               self.max_backoff)


class _Handed:
    """What :class:`_WritesPartition` reports back, shaped like an upsert result."""

    def __init__(self, vertices: int, edges: int, requests: int) -> None:
        self.vertices, self.edges, self.requests = vertices, edges, requests
        self.failed: list[tuple[Write, str]] = []


class _WritesPartition(_GraphPartition):
    """Hands writes to the graph writers; bad ones are dead-lettered here, with their offset."""

    _what = "handing graph writes to Kafka"

    def write_batch(self, items: list[list[Write]]) -> None:
        writes = [w for batch in items for w in batch]
        bad = [(w, reason) for w in writes if (reason := why_invalid(w)) is not None]
        if bad:
            refused = {id(w) for w, _ in bad}
            writes = [w for w in writes if id(w) not in refused]
        if writes:
            started = time.perf_counter()
            handed = self._upsert(writes)
            if self._metrics is not None:
                self._metrics.count_written(handed.vertices, handed.edges, handed.requests, time.perf_counter() - started)
        self._dead_letters(bad)


class _Producer:
    """The graph handle's ``upsert``/``close`` over a :class:`WritesProducer` (so the retry loop is shared)."""

    def __init__(self, settings: Settings) -> None:
        from rdg.pipeline._graph_writes import WritesProducer

        self._producer = WritesProducer(settings)

    def upsert(self, writes: list[Write]) -> _Handed:
        sent = self._producer.send(writes)
        edges = sum(1 for w in writes if isinstance(w, EdgeWrite))
        return _Handed(len(writes) - edges, edges, sent)

    def close(self) -> None:
        self._producer.close()


class GraphWritesSink(GraphSink):
    """Bytewax sink of write batches for a graph server: produced to the graph writers' topic.

    Args:
        settings: Kafka and ``graph_writes_topic``.
        dead_letter: Where writes the graph would refuse go (checked here, before Kafka).
        kafka_config: librdkafka config for a Kafka dead-letter topic.
        metrics: Counts what was handed on.
        pipeline: For dead letters and log lines.
        max_backoff: Longest wait between retries while Kafka is away, in seconds.
    """

    def __init__(self, settings: Settings, dead_letter: DeadLetterSpec, kafka_config: dict[str, str] | None,
                 metrics: Metrics | None, pipeline: str, *, max_backoff: float = 5.0) -> None:
        super().__init__(lambda: _Producer(settings), dead_letter, kafka_config, metrics, pipeline,
                         max_backoff=max_backoff)

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _WritesPartition:
        return _WritesPartition(self.opener, self.dead_letter, self.kafka_config, self.metrics, self.pipeline,
                                self.max_backoff)
