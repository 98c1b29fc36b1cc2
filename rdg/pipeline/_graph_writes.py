"""One owner per vertex: pipelines hand their writes to graph writers through a Kafka topic.

Longer than most modules: the graph writers' protocol end to end (owner partitioning, producer, consumer, batching, offsets).

Several pipelines, each with several processes, share account, profile and device vertices.
Two processes that read, then write, the same vertex race: both see it missing and both add
it. So on a graph server no pipeline writes the graph itself. Its sink produces every write to
the topic ``graph_writes_topic``, in the partition that owns it (:func:`rdg.graph.owner`: the
vertex itself, an edge's out-vertex; :func:`rdg.graph.owner_partition` picks the partition),
and an edge once more to the partition of its in-vertex, so that vertex's owner creates it.

The graph writers are one Kafka consumer group (``rdg deploy`` runs them as the deployment
``graph-writer``): Kafka gives each partition to exactly one of them at a time, so one writer
at a time creates or changes a vertex and the edges that leave it. A writer upserts with
``owns`` (its partitions): it never creates another writer's vertex; an edge whose in-vertex
is not there yet waits (``deferred``) and is tried again until that vertex's owner made it.
Offsets are committed only up to the oldest write not yet applied, so a killed writer's
successor replays from there, and the upserts' idempotence makes the replay harmless.

>>> from rdg.graph import EdgeWrite
>>> e = EdgeWrite("used", ("profile", "profile_id", "p1"), ("device", "device_id", "d1"), ts=1)
>>> routes(e, 8) == sorted({owner_partition(("profile", "p1"), 8), owner_partition(("device", "d1"), 8)})
True
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from rdg.config import Settings
from rdg.errors import ConfigError, ServerError
from rdg.graph import EdgeWrite, compact, from_wire, owner, owner_partition, to_wire
from rdg.pipeline._metrics import Metrics
from rdg.pipeline._steps import DeadLetter, Write

__all__ = ["GraphWriter", "WritesProducer", "ensure_topic", "group_of", "routes", "run_writer_process",
           "topic_partitions"]

log = logging.getLogger("rdg.pipeline")

PER_MESSAGE = 500
"""Most writes in one message of ``graph_writes_topic`` (a JSON list of writes)."""


def group_of(topic: str) -> str:
    """The graph writers' consumer group: one per topic (and so one per graph).

    >>> group_of("rdg.graph-writes")
    'rdg-graph-writer.rdg.graph-writes'
    """
    return f"rdg-graph-writer.{topic}"


def routes(write: Write, partitions: int) -> list[int]:
    """The partitions a write goes to: its owner's, and for an edge its in-vertex's too."""
    parts = {owner_partition(owner(write), partitions)}
    if isinstance(write, EdgeWrite):
        parts.add(owner_partition((write.to_vertex[0], write.to_vertex[2]), partitions))
    return sorted(parts)


def ensure_topic(settings: Settings, *, timeout: float = 30.0) -> int:
    """Create ``graph_writes_topic`` if it is missing; return its partition count.

    Raises:
        ServerError: Kafka did not answer within ``timeout`` seconds.
    """
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = settings.graph_writes_topic
    admin = AdminClient(settings.kafka_config())
    try:
        if topic_partitions(settings, timeout=timeout, admin=admin):
            return _settled(settings, admin, timeout)
        futures = admin.create_topics([NewTopic(topic, settings.graph_writes_partitions, 1)])
        try:
            futures[topic].result(timeout)
        except KafkaException as err:
            if "TOPIC_ALREADY_EXISTS" not in str(err):
                raise
            return _settled(settings, admin, timeout)
        return _settled(settings, admin, timeout, want=settings.graph_writes_partitions)
    except KafkaException as err:
        raise ServerError(f"Kafka at {settings.kafka_bootstrap} could not create the topic {topic}: {err}",
                          hint="check kafka_bootstrap (`rdg stack status`)") from err


def _settled(settings: Settings, admin: Any, timeout: float, want: int | None = None) -> int:
    """The partition count once metadata shows all of it (``want``, for a topic we just made) or
    stops changing: every producer and writer must route with the same count."""
    deadline = time.monotonic() + timeout
    seen: list[int] = []
    while True:
        seen.append(topic_partitions(settings, timeout=timeout, admin=admin))
        if want is not None and seen[-1] == want:
            return want
        if want is None and len(seen) >= 3 and seen[-1] == seen[-2] == seen[-3] and seen[-1] > 0:
            return seen[-1]
        if time.monotonic() > deadline:
            raise ServerError(f"Kafka at {settings.kafka_bootstrap} did not settle the partitions of "
                              f"{settings.graph_writes_topic} (saw {seen[-5:]})")
        time.sleep(0.1)


def topic_partitions(settings: Settings, *, timeout: float = 10.0, admin: Any = None) -> int:
    """How many partitions ``graph_writes_topic`` has (0 if it does not exist).

    Raises:
        ServerError: Kafka did not answer within ``timeout`` seconds.
    """
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    admin = admin or AdminClient(settings.kafka_config())
    try:  # all topics: asking for this one by name would make a broker that auto-creates topics create it
        meta = admin.list_topics(timeout=timeout).topics.get(settings.graph_writes_topic)
    except KafkaException as err:
        raise ServerError(f"Kafka at {settings.kafka_bootstrap} did not answer within {timeout:.0f}s: {err}",
                          hint="start it with `rdg stack up`, or check kafka_bootstrap") from err
    if meta is None or meta.error is not None:
        return 0
    return len(meta.partitions)


OPEN_TIMEOUT_S = 60.0
"""Longest wait for a connection to the graph before the attempt counts as failed (and is retried)."""


def _open_within(opener: Callable[[], Any], seconds: float) -> Any:
    """``opener()``, or :class:`ServerError` if it has not returned within ``seconds``."""
    done: list[Any] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            done.append(opener())
        except BaseException as err:  # noqa: BLE001 - handed to the caller
            failed.append(err)

    worker = threading.Thread(target=run, name="rdg-graph-open", daemon=True)
    worker.start()
    worker.join(seconds)
    if failed:
        raise failed[0]
    if not done:
        raise ServerError(f"no connection to the graph within {seconds:.0f}s")
    return done[0]


class WritesProducer:
    """Produces a pipeline's writes to the graph writers (``send`` returns once Kafka has them)."""

    def __init__(self, settings: Settings) -> None:
        from confluent_kafka import Producer

        self.topic = settings.graph_writes_topic
        self.partitions = topic_partitions(settings)
        if not self.partitions:
            raise ConfigError(f"the Kafka topic {self.topic} does not exist",
                              hint="`rdg deploy` creates it; or create it with as many partitions as writers you want")
        self._producer = Producer(settings.kafka_config(**{"linger.ms": "5", "enable.idempotence": "true",
                                                            "compression.type": "lz4"}))
        self._errors: list[str] = []

    def send(self, writes: Sequence[Write]) -> int:
        """Produce ``writes`` (repeats dropped) and wait until Kafka acknowledged all; returns messages sent.

        Writes for one partition travel together, up to :data:`PER_MESSAGE` per message (a
        message per write cost Kafka and both sides more than the graph writes themselves).

        Raises:
            ServerError: Kafka refused a message (the caller retries the whole batch).
        """
        by_part: dict[int, list[dict[str, Any]]] = {}
        for w in compact(writes):
            wire = to_wire(w)
            for part in routes(w, self.partitions):
                by_part.setdefault(part, []).append(wire)
        sent = 0
        for part, wires in sorted(by_part.items()):
            for i in range(0, len(wires), PER_MESSAGE):
                self._produce(json.dumps(wires[i:i + PER_MESSAGE], separators=(",", ":")).encode(), part)
                sent += 1
        while self._producer.flush(10) > 0:
            log.warning("graph writes: waiting for Kafka to take %d messages", len(self._producer))
        if self._errors:
            errors, self._errors = self._errors, []
            raise ServerError(f"Kafka refused {len(errors)} graph writes: {errors[0]}")
        return sent

    def _produce(self, value: bytes, partition: int) -> None:
        while True:
            try:
                self._producer.produce(self.topic, value, partition=partition, on_delivery=self._delivered)
                return
            except BufferError:  # the local queue is full: let it drain
                self._producer.poll(0.1)

    def _delivered(self, err: Any, _msg: Any) -> None:
        if err is not None:
            self._errors.append(str(err))

    def close(self) -> None:
        """Flush what is left."""
        self._producer.flush(10)


@dataclass
class _Pending:
    """Writes held back: edges whose in-vertex is not there yet, by partition and offset."""

    writes: dict[int, dict[int, list[Write]]] = field(default_factory=dict)
    since: dict[tuple[int, int], float] = field(default_factory=dict)

    def add(self, part: int, offset: int, write: Write, now: float) -> None:
        self.writes.setdefault(part, {}).setdefault(offset, []).append(write)
        self.since.setdefault((part, offset), now)

    def take(self) -> list[tuple[int, int, Write]]:
        out = [(p, o, w) for p, offs in self.writes.items() for o, ws in offs.items() for w in ws]
        self.writes.clear()
        return out

    def oldest(self, part: int) -> int | None:
        offs = self.writes.get(part)
        return min(offs) if offs else None

    def drop(self, parts: set[int]) -> None:
        for p in parts:
            for o in self.writes.pop(p, {}):
                self.since.pop((p, o), None)

    def __len__(self) -> int:
        return sum(len(ws) for offs in self.writes.values() for ws in offs.values())


class GraphWriter:
    """One member of the graph writers' consumer group: applies its partitions of the topic.

    Args:
        settings: Kafka, the topic, the graph.
        opener: Opens the graph handle (called again after a failure).
        metrics: Counters (``written``, offsets committed for the lag, errors).
        dead: Receives writes the graph refuses for good, and edges whose in-vertex never came.
        group: The consumer group (default: :func:`group_of` the topic).
        max_batch: Most messages per upsert (each up to :data:`PER_MESSAGE` writes).
        window_s: Longest wait for a batch to fill.
        retry_deferred_s: How soon a held-back edge is tried again.
        defer_timeout_s: After this long an edge whose in-vertex never appeared is dead-lettered.
        max_backoff_s: Longest wait between retries while the graph is away.
    """

    def __init__(self, settings: Settings, *, opener: Callable[[], Any], metrics: Metrics,
                 dead: Callable[[list[DeadLetter]], None], group: str | None = None, max_batch: int = 10,
                 window_s: float = 0.05, retry_deferred_s: float = 0.1, defer_timeout_s: float = 120.0,
                 max_backoff_s: float = 5.0) -> None:
        self.settings = settings
        self.topic = settings.graph_writes_topic
        self.opener = opener
        self.metrics = metrics
        self.dead = dead
        self.group = group or group_of(self.topic)
        self.max_batch = max_batch
        self.window_s = window_s
        self.retry_deferred_s = retry_deferred_s
        self.defer_timeout_s = defer_timeout_s
        self.max_backoff_s = max_backoff_s
        self.partitions = 0
        self.assigned: set[int] = set()
        self._next: dict[int, int] = {}
        self._committed: dict[int, int] = {}
        self._pending = _Pending()
        self._graph: Any = None
        self._consumer: Any = None

    # -- ownership ---------------------------------------------------------------------------
    def owns(self, identity: tuple[str, Any]) -> bool:
        """Whether this writer owns the vertex ``identity`` right now."""
        return owner_partition(identity, self.partitions) in self.assigned

    def _on_assign(self, consumer: Any, parts: list[Any]) -> None:
        self.assigned |= {p.partition for p in parts}
        now = topic_partitions(self.settings)
        if now != self.partitions:  # repartitioned under us: ownership follows the new count
            log.warning("graph writer: %s has %d partitions, not %d", self.topic, now, self.partitions)
            self.partitions = now
        log.info("graph writer: now owns partitions %s", sorted(self.assigned))

    def _on_revoke(self, consumer: Any, parts: list[Any]) -> None:
        gone = {p.partition for p in parts}
        self._commit(gone)  # hand over cleanly: the next owner starts after what we applied
        self._forget(gone)

    def _on_lost(self, consumer: Any, parts: list[Any]) -> None:
        self._forget({p.partition for p in parts})  # too late to commit: the next owner replays

    def _forget(self, gone: set[int]) -> None:
        self.assigned -= gone
        self._pending.drop(gone)  # never applied, never committed: the next owner reads them again
        for p in gone:
            self._next.pop(p, None)
            self._committed.pop(p, None)

    # -- the loop ----------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Apply writes until ``stop`` is set; commit what was applied, then leave the group."""
        from confluent_kafka import Consumer

        self.partitions = ensure_topic(self.settings)
        self._consumer = Consumer(self.settings.kafka_config(**{
            "group.id": self.group, "enable.auto.commit": "false", "auto.offset.reset": "earliest",
            "session.timeout.ms": "10000", "max.poll.interval.ms": "300000",
        }))
        self._consumer.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke,
                                 on_lost=self._on_lost)
        last_retry = 0.0
        try:
            while not stop.is_set():
                msgs = self._consumer.consume(num_messages=self.max_batch, timeout=self.window_s)
                batch = self._decode(msgs)
                now = time.monotonic()
                if len(self._pending) and now - last_retry >= self.retry_deferred_s:
                    batch.extend(self._pending.take())
                    last_retry = now
                if batch:
                    self._apply(batch, stop)
                self._commit(set(self.assigned))
        finally:
            try:
                self._commit(set(self.assigned))
            finally:
                self._consumer.close()
                if self._graph is not None:
                    self._graph.close()

    def _decode(self, msgs: list[Any]) -> list[tuple[int, int, Write]]:
        out: list[tuple[int, int, Write]] = []
        for msg in msgs:
            if msg.error() is not None:
                self.metrics.error(f"kafka: {msg.error()}")
                continue
            part, offset = msg.partition(), msg.offset()
            if part not in self.assigned:
                continue
            try:
                wires = json.loads(msg.value())
                if not isinstance(wires, list):
                    raise ValueError(f"expected a JSON list of writes, got {type(wires).__name__}")
                writes = [from_wire(wire) for wire in wires]
            except ValueError as err:
                where = f"{self.topic}:{part}:{offset}"
                self.dead([DeadLetter("graph-writer", "decode", str(err), f"graph-writer@{where}", where,
                                      msg.value()[:2000].decode("utf-8", "replace"))])
                self.metrics.count_dead()
                self._done(part, offset)
                continue
            self.metrics.count_in(len(writes))
            out.extend((part, offset, w) for w in writes)
        return out

    def _done(self, part: int, offset: int) -> None:
        self._next[part] = max(self._next.get(part, 0), offset + 1)

    def _copy(self, part: int, write: Write) -> bool:
        """Whether ``write`` (read from ``part``) is an edge's copy sent to its in-vertex's owner."""
        return isinstance(write, EdgeWrite) and owner_partition(owner(write), self.partitions) != part

    def _apply(self, batch: list[tuple[int, int, Write]], stop: threading.Event) -> None:
        where = {id(w): (p, o) for p, o, w in batch}
        writes: list[Write] = []
        ends: list[Write] = []  # edges' copies: only make their in-vertex exist
        for p, _, w in batch:
            (ends if self._copy(p, w) else writes).append(w)
        started = time.perf_counter()
        delay = 0.2
        while True:
            try:
                if self._graph is None:
                    self._graph = _open_within(self.opener, OPEN_TIMEOUT_S)
                result = self._graph.upsert(writes, owns=self.owns, ends=ends)  # type: ignore[arg-type]
                break
            except Exception as err:  # noqa: BLE001 - the graph is away: wait, keep our partitions, retry
                text = f"graph upsert of {len(writes)} writes failed: {type(err).__name__}: {err}; retrying in {delay:.1f}s"
                log.warning("graph writer: %s", text)
                self.metrics.error(text, retry=True)
                if self._graph is not None:
                    try:
                        self._graph.close()
                    except Exception:  # noqa: BLE001 - already broken
                        pass
                    self._graph = None
                self._wait_in_group(delay)
                if stop.is_set():  # not applied: hold all of it, so the last commit stops before it
                    for p, o, w in batch:
                        if p in self.assigned:
                            self._pending.add(p, o, w, time.monotonic())
                    return
                writes = [w for w in writes if where[id(w)][0] in self.assigned]  # a partition may have moved
                ends = [w for w in ends if where[id(w)][0] in self.assigned]
                delay = min(delay * 2, self.max_backoff_s)
        self.metrics.count_written(result.vertices, result.edges, result.requests, time.perf_counter() - started)
        self.metrics.observe_freshness([w.ts for w in writes if isinstance(w, EdgeWrite)
                                        and self.owns((w.from_vertex[0], w.from_vertex[2]))])
        now = time.monotonic()
        for w in result.deferred:
            part, offset = where[id(w)]
            since = self._pending.since.get((part, offset), now)
            if now - since > self.defer_timeout_s:
                self._dead(w, f"edge held back {self.defer_timeout_s:.0f}s: its in-vertex {w.to_vertex} was never "
                              "created by its owner (is a graph writer stuck?)")
                self._pending.since.pop((part, offset), None)
            else:
                self._pending.add(part, offset, w, since)
        for p, o, _ in batch:
            if p in self.assigned:
                self._done(p, o)  # applied, or held back (then the commit stops at it)
            if self._pending.writes.get(p, {}).get(o) is None:
                self._pending.since.pop((p, o), None)
        for w, reason in result.failed:
            self._dead(w, reason)

    def _dead(self, write: Write, reason: str) -> None:
        pipeline, _, offset = write.source.partition("@")
        self.dead([DeadLetter(pipeline or "graph-writer", "upsert", reason, write.source, offset, {"write": repr(write)})])
        self.metrics.count_dead()

    def _wait_in_group(self, seconds: float) -> None:
        """Wait while staying in the group: paused partitions, polls that serve rebalances.

        A partition assigned during the wait is not paused yet: a message poll returns from it
        is put back (seek), never dropped.
        """
        from confluent_kafka import TopicPartition

        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                assignment = self._consumer.assignment()
                if assignment:
                    self._consumer.pause(assignment)
                msg = self._consumer.poll(min(0.2, max(deadline - time.monotonic(), 0.0)))
                if msg is not None and msg.error() is None:
                    self._consumer.seek(TopicPartition(msg.topic(), msg.partition(), msg.offset()))
        finally:
            assignment = self._consumer.assignment()
            if assignment:
                self._consumer.resume(assignment)

    def _commit(self, parts: set[int]) -> None:
        from confluent_kafka import KafkaException, TopicPartition

        offsets = []
        for p in sorted(parts):
            upto = self._pending.oldest(p)
            if upto is None:
                upto = self._next.get(p)
            if upto is not None and self._committed.get(p) != upto:
                offsets.append(TopicPartition(self.topic, p, upto))
        if not offsets:
            return
        try:
            self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as err:  # e.g. a rebalance in progress: the next commit carries it
            log.info("graph writer: commit deferred (%s)", err)
            return
        for tp in offsets:
            self._committed[tp.partition] = tp.offset
            self.metrics.committed(self.topic, tp.partition, tp.offset)


def run_writer_process(folder: Path, process_id: int, settings: Settings) -> int:
    """One process of the ``graph-writer`` deployment, until SIGTERM (called by ``_worker``)."""
    from rdg.pipeline._dataflow import default_opener
    from rdg.pipeline._metrics import MetricsWriter
    from rdg.pipeline._sinks import open_dead_letter
    from rdg.spec import DeadLetterSpec

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    metrics = Metrics("graph-writer")
    previous = folder / f"metrics-{process_id}.json"
    try:  # offsets a predecessor committed: the lag stays right across a restart
        metrics.offsets.update(json.loads(previous.read_text()).get("offsets", {}))
    except (OSError, ValueError):
        pass
    reporter = MetricsWriter(metrics, previous).start()
    dead = open_dead_letter(DeadLetterSpec("file", str(folder / "dead-letter.jsonl")), None)
    log.info("graph writer %d running (pid %d) on %s", process_id, os.getpid(), settings.graph_writes_topic)
    try:
        GraphWriter(settings, opener=default_opener(settings), metrics=metrics, dead=dead.write).run(stop)
    finally:
        reporter.stop()
        dead.close()
    return 0
