"""Compile one pipeline of the spec into ONE Bytewax dataflow.

``source -> decode -> normalize -> enrich -> graph_map -> shard -> dedup (a window per shard that
closes ``window`` after its first write) -> compact -> upsert``; every step's bad events leave through one ``errors``
branch into the ``dead_letter`` sink. Step ids are ``<pipeline>.<step>`` (the flow id is the
pipeline name). ``upsert`` writes the embedded graph itself; for a graph server it hands the
writes to the graph writers (one owner per vertex: ``rdg.pipeline._graph_writes``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.operators import StatefulLogic

from rdg.config import Settings
from rdg.graph import EdgeLabel, GraphModel, VertexLabel, compact
from rdg.pipeline._metrics import Metrics
from rdg.pipeline._sinks import DeadLetterSink, GraphOpener, GraphSink, GraphWritesSink
from rdg.pipeline._sources import JsonlSource, kafka_to_raw, patient_kafka_source
from rdg.pipeline._steps import DeadLetter, PipelineSteps, shard_of
from rdg.spec import DeadLetterSpec, GraphSpec, PipelinesSpec

__all__ = ["CompiledPipeline", "WindowBatcher", "compile_pipeline", "default_dead_letter", "default_opener",
           "pipeline_dir", "to_graph_model", "writes_through_writers"]


class WindowBatcher(StatefulLogic[Any, list[Any], tuple[list[Any], float | None]]):
    """Collect items for at most ``window`` after the FIRST one (or ``max_size`` items), then emit.

    Bytewax's own ``collect`` restarts its timeout on every item (an inactivity timeout), so a
    steady stream would never be flushed until ``max_size``; a dedup window must close on time.

    >>> b = WindowBatcher(timedelta(seconds=60), 2, None)
    >>> b.on_item("a"), b.on_item("b")
    (([], False), ((['a', 'b'],), True))
    """

    def __init__(self, window: timedelta, max_size: int, resume: tuple[list[Any], float | None] | None) -> None:
        self.window = window.total_seconds()
        self.max_size = max_size
        self.acc, self.deadline = (list(resume[0]), resume[1]) if resume else ([], None)

    def on_item(self, value: Any) -> tuple[Any, bool]:
        if not self.acc:
            self.deadline = time.time() + self.window
        self.acc.append(value)
        if len(self.acc) >= self.max_size:
            return (self.acc,), StatefulLogic.DISCARD
        return [], StatefulLogic.RETAIN

    def on_notify(self) -> tuple[Any, bool]:
        return ((self.acc,) if self.acc else ()), StatefulLogic.DISCARD

    def on_eof(self) -> tuple[Any, bool]:
        return ((self.acc,) if self.acc else ()), StatefulLogic.DISCARD

    def notify_at(self) -> datetime | None:
        return datetime.fromtimestamp(self.deadline, timezone.utc) if self.deadline is not None else None

    def snapshot(self) -> tuple[list[Any], float | None]:
        return (list(self.acc), self.deadline)  # writes are frozen records: a shallow copy is enough


def to_graph_model(graph: GraphSpec) -> GraphModel:
    """The graph layer's model for the spec's ``graph`` section.

    >>> from rdg.spec import GraphSpec, GraphVertexSpec
    >>> to_graph_model(GraphSpec({"device": GraphVertexSpec("device", "device_id")})).vertex("device").key
    'device_id'
    """
    return GraphModel(
        vertices=tuple(VertexLabel(v.label, v.key, dict(v.properties), v.ttl_seconds)  # type: ignore[arg-type]
                       for v in graph.vertices.values()),
        edges=tuple(EdgeLabel(e.label, e.from_label, e.to_label, dict(e.properties), e.ttl_seconds)  # type: ignore[arg-type]
                    for e in graph.edges.values()),
    )


def pipeline_dir(settings: Settings, name: str) -> Path:
    """Where a pipeline keeps its recovery db, pid, metrics, log and default dead letters."""
    return Path(settings.state_dir) / "pipelines" / name


def default_dead_letter(settings: Settings, name: str) -> DeadLetterSpec:
    """The dead-letter output when the spec names none: a JSONL file in the pipeline's folder."""
    return DeadLetterSpec("file", str(pipeline_dir(settings, name) / "dead-letter.jsonl"))


def writes_through_writers(settings: Settings) -> bool:
    """Whether pipelines hand their writes to the graph writers: yes for a graph server.

    >>> writes_through_writers(Settings(gremlin_url="ws://127.0.0.1:8182/gremlin"))
    True
    >>> writes_through_writers(Settings())  # the embedded graph serialises its writers itself
    False
    """
    return settings.gremlin_url.startswith(("ws://", "wss://"))


def default_opener(settings: Settings) -> GraphOpener:
    """Opens ``settings.gremlin_url`` through :func:`rdg.graph.connect`.

    The setting ``graph_request_timeout`` (default 30 s) bounds one Gremlin request of a
    pipeline's writer, so a server that stops answering is noticed and retried, not waited on.
    What :func:`run_pipeline` uses unless given an ``opener``; :func:`init_graph_schema` takes one too.

    >>> import tempfile, os
    >>> opener = default_opener(Settings(gremlin_url=os.path.join(tempfile.mkdtemp(), "graph.sqlite")))
    >>> graph = opener()  # connects now, each call a new connection
    >>> graph.backend
    'embedded'
    >>> graph.close()
    """
    options: dict[str, Any] = {}
    if settings.gremlin_url.startswith(("ws://", "wss://")):
        options["timeout_s"] = settings.graph_request_timeout

    def opener() -> Any:
        from rdg.graph import connect  # the graph layer's entry point

        return connect(settings.gremlin_url, settings=settings, **options)

    return opener


@dataclass
class CompiledPipeline:
    """A built dataflow plus what runs beside it (metrics, side tables to close)."""

    flow: Dataflow
    metrics: Metrics
    steps: PipelineSteps
    tables: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        """Stop background table followers."""
        for table in self.tables.values():
            close = getattr(table, "close", None)
            if close is not None:
                close()


def compile_pipeline(spec: PipelinesSpec, name: str, *, settings: Settings, events: str | None = None,
                     opener: GraphOpener | None = None, tail: bool = True, metrics: Metrics | None = None,
                     tables: dict[str, Any] | None = None,
                     dead_letter: DeadLetterSpec | None = None) -> CompiledPipeline:
    """Build the Bytewax dataflow of pipeline ``name``.

    Args:
        spec: The validated spec.
        name: Pipeline to compile.
        settings: Kafka bootstrap and options, graph URL, state folder.
        events: A JSONL file (or glob) that replaces the pipeline's sources: a bounded run.
        opener: Opens the graph and makes this pipeline write it itself (tests, benchmarks). By
            default the embedded graph is written directly, and a graph server through the
            graph writers (``graph_writes_topic``), so any number of pipelines stay exact.
        tail: For Kafka sources: keep waiting for new messages (``False`` stops at the end).
        metrics: Counters to update (default: a new :class:`Metrics`).
        tables: Side tables already loaded (default: load them now).
        dead_letter: Replaces the spec's dead-letter output (e.g. a file for offline runs).

    Raises:
        NotFoundError: Unknown pipeline, or a file source / table that does not exist.
    """
    from rdg.pipeline._tables import open_tables

    pipeline = spec.pipeline(name)
    metrics = metrics or Metrics(name)
    kafka_config = settings.kafka_config()
    if tables is None:
        tables = open_tables(spec, pipeline, kafka_config)
    steps = PipelineSteps(spec, name, tables)
    base = Path(spec.file).resolve().parent
    flow = Dataflow(name)

    streams = []
    if events is not None:
        first = pipeline.sources[0]
        streams.append(op.input("source", flow, JsonlSource(first, events, metrics=metrics)))
    else:
        for source_name in pipeline.sources:
            src = spec.sources[source_name]
            step = f"source_{source_name}"
            if src.kind == "file":
                streams.append(op.input(step, flow, JsonlSource(source_name, src.path or "", base=base, metrics=metrics)))
            else:
                config = {**settings.kafka_config(), **src.options}
                config.pop("bootstrap.servers")  # given to the source as its brokers
                kafka = op.input(step, flow, patient_kafka_source(settings.kafka_bootstrap.split(","), [src.topic or ""],
                                                                  tail=tail, add_config=config, raise_on_errors=False))
                streams.append(op.map(f"read_{source_name}", kafka, kafka_to_raw(source_name, metrics, name)))
    raw = streams[0] if len(streams) == 1 else op.merge("merge", *streams)

    def normalize(item: Any) -> Any:
        out = steps.normalize(steps.decode(item) if not isinstance(item, DeadLetter) else item)
        if out is None:
            metrics.count_filtered()
        return out

    normalized = op.filter_map("normalize", raw, normalize)
    enriched = op.map("enrich", normalized, steps.enrich)
    mapped = op.map("graph_map", enriched, steps.graph_map)
    split = op.branch("errors", mapped, lambda item: isinstance(item, DeadLetter))
    writes = op.flatten("writes", split.falses)
    shards = pipeline.dedup.shards
    keyed = op.key_on("shard", writes, lambda w: shard_of(w, shards))
    window, max_batch = timedelta(milliseconds=pipeline.dedup.window_ms), pipeline.dedup.max_batch
    batches = op.stateful("dedup", keyed, lambda resume: WindowBatcher(window, max_batch, resume))
    compacted = op.map("compact", batches, lambda kv: compact(kv[1]))
    dead_spec = dead_letter or pipeline.dead_letter or default_dead_letter(settings, name)
    if opener is None and writes_through_writers(settings):
        sink: Any = GraphWritesSink(settings, dead_spec, kafka_config, metrics, name)
    else:
        sink = GraphSink(opener or default_opener(settings), dead_spec, kafka_config, metrics, name)
    op.output("upsert", compacted, sink)
    op.output("dead_letter", split.trues, DeadLetterSink(dead_spec, kafka_config, metrics))
    return CompiledPipeline(flow, metrics, steps, tables)
