"""Side tables for enrichment: CSV/JSONL files, and compacted Kafka topics kept as keyed state.

A file table is read once. A Kafka table is read to its end before the pipeline starts, then a
background consumer applies updates as they arrive (a ``null`` value deletes the key), so
metadata changes reach events without a restart. Every process holds the whole table (tables
are small, events are many), so the event stream never has to be re-keyed for the join.

>>> import tempfile, os
>>> d = tempfile.mkdtemp(); p = os.path.join(d, "titles.csv")
>>> _ = open(p, "w").write("title_id,name\\nt1,Dark\\n")
>>> from rdg.spec import TableSpec
>>> load_file_table(TableSpec("titles", "file", "title_id", path=p))["t1"]["name"]
'Dark'
"""

from __future__ import annotations

import csv
import json
import logging
import threading
import time
from pathlib import Path
from typing import Any, Mapping

from rdg.errors import ConfigError, NotFoundError, ServerError
from rdg.spec import PipelineSpec, PipelinesSpec, TableSpec

__all__ = ["KafkaTable", "load_file_table", "open_tables"]

log = logging.getLogger("rdg.pipeline")


def load_file_table(spec: TableSpec, base: Path | None = None) -> dict[str, dict[str, Any]]:
    """Read a CSV or JSONL table into ``{key: row}``.

    Raises:
        NotFoundError: The file does not exist.
        ConfigError: A row has no key column, or a JSONL line is not a JSON object.
    """
    path = Path(spec.path or "")
    if not path.is_absolute() and base is not None and not path.exists():
        path = base / path
    if not path.exists():
        raise NotFoundError(f"table '{spec.name}': file {path} does not exist", hint="fix tables.<name>.file")
    rows: dict[str, dict[str, Any]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        if spec.format == "csv":
            for i, row in enumerate(csv.DictReader(fh), start=2):
                if not row.get(spec.key):
                    raise ConfigError(f"{path}:{i}: row has no '{spec.key}' (the table key)")
                rows[str(row[spec.key])] = dict(row)
        else:
            for i, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError as err:
                    raise ConfigError(f"{path}:{i}: not a JSON object: {err}") from err
                if not isinstance(row, dict) or row.get(spec.key) is None:
                    raise ConfigError(f"{path}:{i}: row has no '{spec.key}' (the table key)")
                rows[str(row[spec.key])] = row
    return rows


class KafkaTable(dict):
    """A compacted Kafka topic as a live ``{key: row}`` dict (the message key, or the row's key field).

    Args:
        spec: The table spec (``kafka`` kind).
        config: librdkafka settings (bootstrap servers and client options).
    """

    def __init__(self, spec: TableSpec, config: Mapping[str, str]) -> None:
        super().__init__()
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

        self.spec = spec
        self._stop = threading.Event()
        conf = {"group.id": f"rdg-table-{spec.name}", "enable.auto.commit": "false",
                "enable.partition.eof": "true", **config}
        self._consumer = Consumer(conf)
        try:
            meta = self._consumer.list_topics(spec.topic, timeout=10)
        except Exception as err:  # noqa: BLE001 - driver error types vary
            raise ServerError(f"table '{spec.name}': cannot reach Kafka: {err}", hint="check kafka_bootstrap") from err
        topic = meta.topics.get(spec.topic)
        if topic is None or topic.error is not None or not topic.partitions:
            raise NotFoundError(f"table '{spec.name}': Kafka topic '{spec.topic}' does not exist",
                                hint=f"create it (compacted): rdg stack topic {spec.topic}")
        parts = [TopicPartition(spec.topic, p, OFFSET_BEGINNING) for p in topic.partitions]
        self._consumer.assign(parts)
        self._pending_eof = set(topic.partitions)
        deadline = time.monotonic() + 60
        while self._pending_eof and time.monotonic() < deadline:
            self._poll(0.2)
        self._thread = threading.Thread(target=self._follow, name=f"rdg-table-{spec.name}", daemon=True)
        self._thread.start()

    def _poll(self, timeout: float) -> None:
        from confluent_kafka import KafkaError

        for msg in self._consumer.consume(500, timeout):
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    self._pending_eof.discard(msg.partition())
                else:
                    log.warning("table %s: %s", self.spec.name, err)
                continue
            key = msg.key().decode("utf-8", "replace") if msg.key() is not None else None
            value = msg.value()
            if value is None:
                if key is not None:
                    self.pop(key, None)
                continue
            try:
                row = json.loads(value)
            except ValueError:
                log.warning("table %s: skipping a message that is not JSON at offset %s", self.spec.name, msg.offset())
                continue
            if not isinstance(row, dict):
                continue
            k = key if key is not None else row.get(self.spec.key)
            if k is not None:
                self[str(k)] = row

    def _follow(self) -> None:
        while not self._stop.is_set():
            try:
                self._poll(0.5)
            except Exception as err:  # noqa: BLE001 - keep following; log why
                log.warning("table %s: %s (retrying)", self.spec.name, err)
                time.sleep(1)

    def close(self) -> None:
        """Stop following the topic."""
        self._stop.set()
        self._thread.join(timeout=5)
        self._consumer.close()


def open_tables(spec: PipelinesSpec, pipeline: PipelineSpec, kafka_config: Mapping[str, str]) -> dict[str, Any]:
    """Load every table ``pipeline`` joins (file tables relative to the spec's folder too).

    What :class:`PipelineSteps` takes as ``tables`` to run its enrich steps outside a dataflow.

    >>> import tempfile, os
    >>> from rdg.spec import load_pipelines_text
    >>> d = tempfile.mkdtemp()
    >>> _ = open(os.path.join(d, "titles.csv"), "w").write("title_id,name\\nt1,Dark\\n")
    >>> spec = load_pipelines_text('''
    ... graph: {vertices: {title: {key: title_id, properties: {name: string}}}}
    ... sources: {plays: {file: plays.jsonl}}
    ... tables: {titles: {file: titles.csv, key: title_id, columns: [title_id, name]}}
    ... pipelines:
    ...   plays:
    ...     source: plays
    ...     normalize: {fields: {title_id: title, ts: {path: at, type: timestamp}}}
    ...     enrich: [{table: titles, on: title_id, fields: {title_name: name}}]
    ...     vertices: [{label: title, key: "{title_id}", properties: {name: "{title_name}"}}]
    ... ''', os.path.join(d, "pipelines.yaml"), env={})
    >>> open_tables(spec, spec.pipeline("plays"), {})["titles"]["t1"]["name"]
    'Dark'

    Args:
        spec: The whole validated spec (its file's folder is where relative table files are).
        pipeline: The pipeline whose enrich steps name the tables.
        kafka_config: Client settings for Kafka tables (``Settings.kafka_config()``); ``{}`` when
            every table is a file.

    Returns:
        Table name -> the table (``key -> row``); a Kafka table keeps following its topic until closed.
    """
    base = Path(spec.file).resolve().parent
    out: dict[str, Any] = {}
    for step in pipeline.enrich:
        if step.kind != "table" or step.table in out:
            continue
        table = spec.tables[step.table or ""]
        out[table.name] = load_file_table(table, base) if table.kind == "file" else KafkaTable(table, kafka_config)
    return out
