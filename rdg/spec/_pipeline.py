"""Typed, frozen models of ``pipelines.yaml``; each remembers where in the file it came from.

The pipeline package only ever sees these models, never raw YAML dicts. Build them with
:func:`rdg.spec.load_pipelines` (which validates) rather than by hand.

>>> f = FieldSpec("ts", ("after", "updated_at"), "timestamp")
>>> f.path_text
'after.updated_at'
>>> parse_duration_ms("250ms"), parse_duration_ms("2s"), parse_duration_ms("1m30s")
(250, 2000, 90000)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from rdg.duration import milliseconds, parse_duration
from rdg.spec._pipeline_template import Template

__all__ = [
    "DeadLetterSpec",
    "DedupSpec",
    "EdgeTemplate",
    "EnrichSpec",
    "FieldSpec",
    "GraphSpec",
    "GraphEdgeSpec",
    "GraphVertexSpec",
    "FilterSpec",
    "NormalizeSpec",
    "PipelineSpec",
    "PipelinesSpec",
    "Position",
    "SourceSpec",
    "TableSpec",
    "VertexTemplate",
    "FIELD_TYPES",
    "SOURCE_FORMATS",
    "FILTER_OPS",
    "parse_duration_ms",
]

Position = tuple[str, int, int]
"""``(file, line, column)`` of the YAML node a model was built from."""

NOWHERE: Position = ("<code>", 0, 0)

FIELD_TYPES = ("string", "int", "long", "float", "double", "boolean", "timestamp", "json")
"""Types a normalized field can be cast to; ``timestamp`` becomes UTC epoch milliseconds."""

SOURCE_FORMATS = ("json", "cdc", "request_log")
"""``json``: the message is the record. ``cdc``: a Debezium-style envelope (``before``,
``after``, ``op``, ``ts_ms``); the record is ``after`` (``before`` for deletes) plus ``_op`` and
``_ts_ms``. ``request_log``: ``{request: {...}, response: {...}, ts}``, with JSON bodies
given as strings decoded in place."""

FILTER_OPS = ("equals", "not_equals", "in", "not_in", "exists", "gt", "gte", "lt", "lte")

def parse_duration_ms(value: Any) -> int:
    """Milliseconds in a duration (:mod:`rdg.duration`'s grammar: ``250ms``, ``2s``, ``1h45m``).
    A bare number is refused: it meant milliseconds here before rdg had one grammar (where it
    means seconds), so an old spec fails loudly instead of waiting 1,000 times longer.

    Raises:
        DurationError: Not a duration, or a number without a unit.
    """
    return milliseconds(parse_duration(value, bare_numbers=False))


@dataclass(frozen=True)
class GraphVertexSpec:
    """A vertex label in the ``graph`` section: its key property, typed properties and TTL."""

    label: str
    key: str
    properties: dict[str, str] = field(default_factory=dict)
    ttl_seconds: int | None = None
    at: Position = NOWHERE


@dataclass(frozen=True)
class GraphEdgeSpec:
    """An edge label in the ``graph`` section: the vertex labels it joins, properties, TTL."""

    label: str
    from_label: str
    to_label: str
    properties: dict[str, str] = field(default_factory=dict)
    ttl_seconds: int | None = None
    at: Position = NOWHERE


@dataclass(frozen=True)
class GraphSpec:
    """The ``graph`` section: every vertex and edge label the pipelines write."""

    vertices: dict[str, GraphVertexSpec] = field(default_factory=dict)
    edges: dict[str, GraphEdgeSpec] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceSpec:
    """Where raw events come from: a Kafka topic or JSONL files (a path or a glob)."""

    name: str
    kind: Literal["kafka", "file"]
    format: str = "json"
    topic: str | None = None
    path: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    """Extra librdkafka options for this source only."""
    at: Position = NOWHERE


@dataclass(frozen=True)
class TableSpec:
    """A side table for enrichment, keyed by one column.

    ``file`` tables (CSV or JSONL) are loaded once at start; ``kafka`` tables read a compacted
    topic into keyed state, so updates apply as they arrive (a ``null`` value deletes a key).
    """

    name: str
    kind: Literal["file", "kafka"]
    key: str
    path: str | None = None
    topic: str | None = None
    format: str = "csv"
    columns: tuple[str, ...] = ()
    """Columns the table declares (what enrich may read); empty means not checked."""
    at: Position = NOWHERE


@dataclass(frozen=True)
class FieldSpec:
    """One field of the canonical event: where it comes from, its type, and what if missing."""

    name: str
    path: tuple[str, ...]
    type: str = "string"
    required: bool = False
    default: Any = None
    unit: str | None = None
    """For ``timestamp`` from numbers: ``ms`` or ``s`` (default: guessed by magnitude)."""
    lower: bool = False
    at: Position = NOWHERE

    @property
    def path_text(self) -> str:
        """The dotted path as written."""
        return ".".join(self.path)


@dataclass(frozen=True)
class FilterSpec:
    """Keep an event only if ``field <op> value`` holds (dropped events are counted, not dead-lettered)."""

    field: str
    op: str
    value: Any = None
    at: Position = NOWHERE


@dataclass(frozen=True)
class NormalizeSpec:
    """Raw record -> canonical event: fields by path, casts, defaults, required, filters."""

    fields: tuple[FieldSpec, ...] = ()
    filters: tuple[FilterSpec, ...] = ()
    per_source: dict[str, tuple[FieldSpec, ...]] = field(default_factory=dict)
    """Field rules that replace same-named ones for events from one source."""

    def fields_for(self, source: str) -> tuple[FieldSpec, ...]:
        """The field rules that apply to events from ``source``."""
        extra = self.per_source.get(source)
        if not extra:
            return self.fields
        names = {f.name for f in extra}
        return tuple(f for f in self.fields if f.name not in names) + extra

    def produced(self) -> set[str]:
        """Every field name normalize can produce (for template checks)."""
        out = {f.name for f in self.fields}
        for extra in self.per_source.values():
            out |= {f.name for f in extra}
        return out


@dataclass(frozen=True)
class EnrichSpec:
    """One enrichment step: a join with a side table, or a Python function from ``flows/``."""

    kind: Literal["table", "function"]
    table: str | None = None
    on: str | None = None
    """Canonical field whose value is looked up in the table's key column."""
    fields: dict[str, str] = field(default_factory=dict)
    """``new_field: table_column`` pairs copied onto the event."""
    required: bool = False
    """If the key is not in the table: dead-letter (True) or leave the fields unset (False)."""
    function: str | None = None
    """``module:function`` (e.g. ``flows.games:enrich_session``): takes and returns a dict."""
    adds: tuple[str, ...] = ()
    """Fields the function adds (declared so templates can be checked)."""
    at: Position = NOWHERE


@dataclass(frozen=True)
class VertexTemplate:
    """A vertex each event yields: label, key template, property templates."""

    label: str
    key: Template
    properties: dict[str, Any] = field(default_factory=dict)
    """``name: Template`` or a literal value."""
    at: Position = NOWHERE


@dataclass(frozen=True)
class EdgeTemplate:
    """An edge each event yields: label, endpoint key templates, property templates."""

    label: str
    from_label: str
    from_key: Template
    to_label: str
    to_key: Template
    properties: dict[str, Any] = field(default_factory=dict)
    at: Position = NOWHERE


@dataclass(frozen=True)
class DedupSpec:
    """Coalesce writes to the same vertex or edge for ``window_ms`` (or ``max_batch`` writes)."""

    window_ms: int = 200
    max_batch: int = 1000
    shards: int = 1
    """Parallel writer shards; writes to one element always use the same shard."""


@dataclass(frozen=True)
class DeadLetterSpec:
    """Where bad events go: a Kafka topic or a JSONL file."""

    kind: Literal["kafka", "file"]
    target: str
    at: Position = NOWHERE


@dataclass(frozen=True)
class PipelineSpec:
    """One pipeline: sources -> normalize -> enrich -> graph-map -> dedup -> upsert."""

    name: str
    sources: tuple[str, ...]
    normalize: NormalizeSpec
    enrich: tuple[EnrichSpec, ...] = ()
    vertices: tuple[VertexTemplate, ...] = ()
    edges: tuple[EdgeTemplate, ...] = ()
    event_id: Template | None = None
    """Stable id of a source event (duplicates share it); default: the source offset."""
    time_field: str = "ts"
    """Canonical field holding the event time (epoch ms); default ``ts``."""
    dedup: DedupSpec = DedupSpec()
    dead_letter: DeadLetterSpec | None = None
    description: str = ""
    at: Position = NOWHERE


@dataclass(frozen=True)
class PipelinesSpec:
    """A whole ``pipelines.yaml``: graph model, sources, tables, pipelines."""

    file: str
    graph: GraphSpec
    sources: dict[str, SourceSpec]
    tables: dict[str, TableSpec]
    pipelines: dict[str, PipelineSpec]

    def pipeline(self, name: str) -> PipelineSpec:
        """The pipeline called ``name``.

        Raises:
            NotFoundError: No such pipeline (the message lists the ones there are).
        """
        from rdg.errors import NotFoundError
        from rdg.spec._lint import did_you_mean

        if name not in self.pipelines:
            hint = did_you_mean(name, self.pipelines) or f"pipelines in {self.file}: {', '.join(self.pipelines)}"
            raise NotFoundError(f"no pipeline named '{name}' in {self.file}", hint=hint)
        return self.pipelines[name]
