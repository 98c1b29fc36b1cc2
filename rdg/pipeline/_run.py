"""Run a pipeline in this process (bounded over a file, or following Kafka), and preview events.

``run_pipeline`` is what ``rdg run`` calls, and the workflow engine's ``pipeline`` step shells
out to ``rdg run PIPELINE --spec FILE --events FILE``: it returns when the events are done.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from rdg.config import Settings
from rdg.pipeline._dataflow import compile_pipeline, default_dead_letter, default_opener, to_graph_model
from rdg.pipeline._metrics import Metrics
from rdg.pipeline._sinks import GraphOpener
from rdg.pipeline._sources import expand_files
from rdg.pipeline._steps import DeadLetter, PipelineSteps, RawEvent
from rdg.spec import DeadLetterSpec, PipelinesSpec, load_pipelines

__all__ = ["PreviewItem", "RunResult", "init_graph_schema", "preview", "run_pipeline", "load_spec"]


def load_spec(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> PipelinesSpec:
    """Load and validate the spec (default ``./pipelines.yaml``); makes ``flows/`` importable.

    Raises:
        SpecError: With every lint.
    """
    spec_path = Path(path or "pipelines.yaml")
    folder = str(spec_path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # flows/ sits beside pipelines.yaml
    return load_pipelines(spec_path, env=os.environ if env is None else env)


@dataclass
class RunResult:
    """What a bounded run did."""

    pipeline: str
    events_in: int
    written: int
    vertices: int
    edges: int
    dead_letters: int
    filtered: int
    seconds: float
    dead_letter: str = ""
    """Where dead letters went (a file path or a Kafka topic)."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return dict(self.__dict__)


def init_graph_schema(spec: PipelinesSpec, opener: GraphOpener) -> list[str]:
    """Create the spec's graph model in the graph (idempotent); returns the changes made."""
    graph = opener()
    try:
        return list(graph.init_schema(to_graph_model(spec.graph)) or [])
    finally:
        graph.close()


def run_pipeline(spec: PipelinesSpec, name: str, *, settings: Settings, events: str | None = None,
                 to_end: bool = False, opener: GraphOpener | None = None,
                 progress: Callable[[Metrics, float], None] | None = None,
                 progress_every: float = 1.0, dead_letter: DeadLetterSpec | None = None) -> RunResult:
    """Run pipeline ``name`` in the foreground until its input ends (or forever when following Kafka).

    Args:
        spec: The validated spec.
        name: Which pipeline.
        settings: Kafka, graph URL, state folder.
        events: A JSONL file or glob to run over instead of the pipeline's sources (bounded).
        to_end: With Kafka sources, stop at the end of the topics instead of waiting for more.
        opener: Opens the graph (default from settings).
        progress: Called about every ``progress_every`` seconds and once at the end.
        progress_every: Seconds between progress calls.
        dead_letter: Replaces the spec's dead-letter output. A run over ``events`` whose spec
            sends dead letters to Kafka writes them to ``<state_dir>/pipelines/<name>/dead-letter.jsonl``
            instead, so an offline run needs no Kafka.

    Raises:
        NotFoundError: Unknown pipeline or missing events file.
        SpecError: Never here (the spec is already validated).
    """
    from bytewax.testing import run_main

    opener = opener or default_opener(settings)
    if events is not None:
        expand_files(events)  # fail early and clearly on a bad path
    init_graph_schema(spec, opener)
    pipeline = spec.pipeline(name)
    if dead_letter is None and events is not None and (pipeline.dead_letter is None or pipeline.dead_letter.kind == "kafka"):
        dead_letter = default_dead_letter(settings, name)  # an offline run over a file needs no Kafka
    dead_target = (dead_letter or pipeline.dead_letter or default_dead_letter(settings, name)).target
    metrics = Metrics(name)
    compiled = compile_pipeline(spec, name, settings=settings, events=events, opener=opener, tail=not to_end,
                                metrics=metrics, dead_letter=dead_letter)
    start = time.monotonic()
    stop = threading.Event()

    def report() -> None:
        while not stop.wait(progress_every):
            if progress is not None:
                progress(metrics, time.monotonic() - start)

    ticker = threading.Thread(target=report, name="rdg-progress", daemon=True)
    ticker.start()
    try:
        run_main(compiled.flow, epoch_interval=None)
    finally:
        stop.set()
        compiled.close()
    elapsed = time.monotonic() - start
    if progress is not None:
        progress(metrics, elapsed)
    snap = metrics.snapshot()
    return RunResult(name, snap["events_in"], snap["written"], snap["vertices"], snap["edges"], snap["dead_letters"],
                     snap["filtered"], round(elapsed, 3), dead_target)


@dataclass
class PreviewItem:
    """What one sample event becomes."""

    offset: str
    event: dict[str, Any] | None
    """The canonical event after normalize and enrich (``None`` if it failed before)."""
    writes: list[Any]
    dead_letter: DeadLetter | None
    filtered: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        from dataclasses import asdict

        return {
            "offset": self.offset, "event": self.event, "filtered": self.filtered,
            "vertices": [asdict(w) | {"kind": "vertex"} for w in self.writes if hasattr(w, "key_value")],
            "edges": [asdict(w) | {"kind": "edge"} for w in self.writes if hasattr(w, "from_vertex")],
            "dead_letter": self.dead_letter.as_dict() if self.dead_letter else None,
        }


def preview(spec: PipelinesSpec, name: str, events: str, *, settings: Settings, limit: int = 10) -> list[PreviewItem]:
    """Run the first ``limit`` events of ``events`` through decode -> normalize -> enrich -> graph-map.

    Nothing is written anywhere; side tables are loaded as the pipeline would load them.

    Raises:
        NotFoundError: Unknown pipeline or missing events file.
    """
    from rdg.pipeline._tables import open_tables

    pipeline = spec.pipeline(name)
    tables = open_tables(spec, pipeline, settings.kafka_config())
    steps = PipelineSteps(spec, name, tables)
    source = pipeline.sources[0]
    out: list[PreviewItem] = []
    try:
        for path in expand_files(events):
            with path.open("rb") as fh:
                for lineno, line in enumerate(fh, start=1):
                    if len(out) >= limit:
                        return out
                    text = line.rstrip(b"\r\n")
                    if not text.strip():
                        continue
                    raw = RawEvent(source, f"{path.name}:{lineno}", text, position=lineno)
                    normalized = steps.normalize(steps.decode(raw))
                    if normalized is None:
                        out.append(PreviewItem(raw.offset, None, [], None, filtered=True))
                        continue
                    enriched = steps.enrich(normalized)
                    if isinstance(enriched, DeadLetter):
                        out.append(PreviewItem(raw.offset, None, [], enriched))
                        continue
                    event = {k: v for k, v in enriched.items() if k not in ("_pipeline",)}
                    mapped = steps.graph_map(enriched)
                    if isinstance(mapped, DeadLetter):
                        out.append(PreviewItem(raw.offset, event, [], mapped))
                    else:
                        out.append(PreviewItem(raw.offset, event, mapped, None))
    finally:
        for table in tables.values():
            if hasattr(table, "close"):
                table.close()
    return out
