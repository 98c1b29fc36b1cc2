"""Sources: JSONL files (a path or a glob, resumable by line) and Kafka topics, as RawEvents.

>>> import tempfile, os
>>> d = tempfile.mkdtemp(); p = os.path.join(d, "a.jsonl")
>>> _ = open(p, "w").write('{"x": 1}\\n\\n{"x": 2}\\n')
>>> part = JsonlSource("clicks", p).build_part("s", JsonlSource("clicks", p).list_parts()[0], None)
>>> [(r.offset.endswith(":1"), r.value) for r in part.next_batch()]
[(True, b'{"x": 1}'), (False, b'{"x": 2}')]
"""

from __future__ import annotations

import glob
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from rdg.errors import NotFoundError
from rdg.pipeline._metrics import Metrics
from rdg.pipeline._steps import DeadLetter, RawEvent

__all__ = ["JsonlSource", "expand_files", "kafka_to_raw"]


def expand_files(pattern: str, base: Path | None = None) -> list[Path]:
    """The files a path or glob names, sorted; relative patterns also tried under ``base``.

    Raises:
        NotFoundError: Nothing matches.
    """
    found = sorted(glob.glob(pattern))
    if not found and base is not None and not os.path.isabs(pattern):
        found = sorted(glob.glob(str(base / pattern)))
    if not found:
        raise NotFoundError(f"no file matches {pattern!r}", hint="check the path (globs like data/*.jsonl work)")
    return [Path(f) for f in found]


class _JsonlPartition(StatefulSourcePartition[RawEvent, int]):
    def __init__(self, source: str, path: Path, resume: int | None, batch: int, metrics: Metrics | None) -> None:
        self._source = source
        self._path = path
        self._fh = path.open("rb")
        self._line = 0
        self._batch = batch
        self._metrics = metrics
        for _ in range(resume or 0):
            if not self._fh.readline():
                break
            self._line += 1

    def next_batch(self) -> list[RawEvent]:
        out = []
        name = self._path.name
        while len(out) < self._batch:
            line = self._fh.readline()
            if not line:
                if not out:
                    raise StopIteration
                break
            self._line += 1
            text = line.rstrip(b"\r\n")
            if not text.strip():
                continue
            out.append(RawEvent(self._source, f"{name}:{self._line}", text, position=self._line))
        if self._metrics is not None:
            self._metrics.count_in(len(out))
        return out

    def snapshot(self) -> int:
        return self._line

    def close(self) -> None:
        self._fh.close()


class JsonlSource(FixedPartitionedSource[RawEvent, int]):
    """Read JSONL files (one partition per file); bounded: ends at the end of the files.

    Args:
        source: The source name events are tagged with (normalize's per-source rules use it).
        pattern: A path or a glob.
        base: Folder to resolve relative patterns against if they match nothing as given.
        metrics: Counts events in.
    """

    def __init__(self, source: str, pattern: str, *, base: Path | None = None, batch: int = 500,
                 metrics: Metrics | None = None) -> None:
        self.source = source
        self.files = expand_files(pattern, base)
        self.batch = batch
        self.metrics = metrics

    def list_parts(self) -> list[str]:
        return [str(f) for f in self.files]

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _JsonlPartition:
        return _JsonlPartition(self.source, Path(for_part), resume_state, self.batch, self.metrics)


def kafka_to_raw(source: str, metrics: Metrics | None, pipeline: str) -> Any:
    """A mapper from Bytewax Kafka items (messages or errors) to :class:`RawEvent` or :class:`DeadLetter`."""
    from bytewax.connectors.kafka import KafkaError

    def mapper(item: Any) -> RawEvent | DeadLetter:
        if isinstance(item, KafkaError):
            msg = item.msg
            offset = f"{msg.topic}:{msg.partition}:{msg.offset}"
            if metrics is not None:
                metrics.count_in()
                metrics.error(f"kafka: {item.err}")
            return DeadLetter(pipeline, "source", f"Kafka error: {item.err}", f"{pipeline}@{offset}", offset, msg.value)
        if metrics is not None:
            metrics.count_in()
            metrics.seen_offset(item.topic, item.partition, item.offset)
        return RawEvent(source, f"{item.topic}:{item.partition}:{item.offset}", item.value, item.key, item.topic,
                        item.partition, item.offset)

    return mapper


IDLE_WAIT = timedelta(milliseconds=20)
"""How long a Kafka partition that had nothing waits before it is polled again."""


def patient_kafka_source(brokers: list[str], topics: list[str], **options: Any) -> Any:
    """Bytewax's ``KafkaSource`` that, after a poll found nothing, waits :data:`IDLE_WAIT`.

    Bytewax polls each partition every millisecond even when it is idle, so every deployed
    pipeline process kept a fifth to a third of a core busy doing nothing, taken from the graph
    server on a small machine. A busy partition is polled again at once, as before.
    """
    from bytewax.connectors.kafka import KafkaSource

    class PatientKafkaSource(KafkaSource):
        def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> Any:
            return _Patient(super().build_part(step_id, for_part, resume_state))

    return PatientKafkaSource(brokers, topics, **options)


class _Patient(StatefulSourcePartition[Any, Any]):
    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._awake: datetime | None = None

    def next_batch(self) -> list[Any]:
        batch = self._inner.next_batch()
        self._awake = None if batch else datetime.now(timezone.utc) + IDLE_WAIT
        return batch

    def next_awake(self) -> datetime | None:
        return self._awake

    def snapshot(self) -> Any:
        return self._inner.snapshot()

    def close(self) -> None:
        self._inner.close()
