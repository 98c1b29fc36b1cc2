"""The per-event steps of a pipeline as plain functions: decode, normalize, enrich, graph-map.

Longer than most modules: the four steps share the event shape, the limits and the dead-letter reasons, and are read together.

Each step takes one item and returns the next item, or a :class:`DeadLetter` saying why the
event cannot go on (a bad event is data, never an exception). The Bytewax dataflow, ``rdg
preview`` and the tests all call these same functions.

>>> from rdg.spec import load_pipelines_text
>>> spec = load_pipelines_text('''
... graph:
...   vertices: {profile: {key: profile_id}, device: {key: device_id, properties: {os: string}}}
...   edges: {used: {from: profile, to: device}}
... sources: {clicks: {file: clicks.jsonl}}
... pipelines:
...   clicks:
...     source: clicks
...     normalize:
...       fields:
...         profile_id: user.id
...         device_id: {path: device.id, required: true}
...         os: {path: device.os, lower: true}
...         ts: {path: at, type: timestamp}
...     vertices: [{label: device, key: "{device_id}", properties: {os: "{os}"}}]
...     edges: [{label: used, from: "{profile_id}", to: "{device_id}"}]
... ''', env={})
>>> steps = PipelineSteps(spec, "clicks")
>>> raw = RawEvent("clicks", "clicks.jsonl:1",
...                b'{"user": {"id": "p1"}, "device": {"id": "d1", "os": "iOS"}, "at": "2024-01-01T00:00:00Z"}')
>>> event = steps.normalize(steps.decode(raw))
>>> event["ts"], event["os"]
(1704067200000, 'ios')
>>> [type(w).__name__ for w in steps.graph_map(steps.enrich(event))]
['VertexWrite', 'EdgeWrite']
>>> steps.normalize(steps.decode(RawEvent("clicks", "clicks.jsonl:2", b'{"user": {"id": "p1"}}'))).reason
"missing required field 'device_id' (path device.id)"
"""

from __future__ import annotations

import importlib
import json
import math
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Union

from rdg.graph import EdgeWrite, VertexWrite
from rdg.spec import FieldSpec, FilterSpec, PipelineSpec, PipelinesSpec, Template

__all__ = ["MAX_DEPTH", "MAX_EVENT_BYTES", "DeadLetter", "PipelineSteps", "RawEvent", "Write", "shard_of", "to_epoch_ms"]

MAX_EVENT_BYTES = 1 << 20
"""The largest event a pipeline decodes (1 MiB); a larger one is a dead letter."""
MAX_DEPTH = 64
"""The deepest nesting of JSON objects and arrays a pipeline accepts; deeper is a dead letter."""

Write = Union[VertexWrite, EdgeWrite]


@dataclass(frozen=True)
class RawEvent:
    """One message as read from a source, before anything is parsed."""

    source: str
    """Source name from the spec."""
    offset: str
    """Where it came from: ``topic:partition:offset`` or ``file:line``."""
    value: bytes | str | None
    key: bytes | None = None
    topic: str | None = None
    partition: int | None = None
    position: int | None = None
    """Numeric offset within ``(topic, partition)`` (for lag)."""


@dataclass(frozen=True)
class DeadLetter:
    """An event that cannot go on, with why and where it came from."""

    pipeline: str
    step: str
    reason: str
    source: str
    offset: str
    raw: Any = None
    ts: int = field(default_factory=lambda: int(time.time() * 1000))

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (what the dead-letter output holds)."""
        raw = self.raw
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", "replace")
        return {"pipeline": self.pipeline, "step": f"{self.pipeline}.{self.step}", "reason": self.reason,
                "source": self.source, "offset": self.offset, "raw": raw, "ts": self.ts}


def to_epoch_ms(value: Any, unit: str | None = None) -> int:
    """UTC epoch milliseconds from an ISO-8601 string, epoch seconds/ms, or a datetime.

    Naive times are taken as UTC. Numbers below 10^11 are seconds unless ``unit`` says.

    >>> to_epoch_ms("2024-01-01T01:00:00+01:00"), to_epoch_ms(1704067200), to_epoch_ms("1704067200000")
    (1704067200000, 1704067200000, 1704067200000)

    Raises:
        ValueError: Not a time.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a time")
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return int(dt.timestamp() * 1000)
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text)
        except ValueError:
            if text.endswith(("Z", "z")):
                text = text[:-1] + "+00:00"
            try:
                dt = datetime.fromisoformat(text)
            except ValueError as err:
                raise ValueError(f"{value!r} is not an ISO-8601 time or epoch number") from err
            return to_epoch_ms(dt)
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a time")
        if unit == "s" or (unit is None and abs(value) < 1e11):
            return int(round(value * 1000))
        return int(value)
    raise ValueError(f"{value!r} is not a time")


_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def _cast(value: Any, spec: FieldSpec) -> Any:
    kind = spec.type
    if kind == "json":
        return value
    if kind == "timestamp":
        return to_epoch_ms(value, spec.unit)
    if isinstance(value, (dict, list)):
        raise ValueError(f"is {type(value).__name__}, expected {kind}")
    if kind == "string":
        text = value if isinstance(value, str) else (json.dumps(value) if isinstance(value, bool) else str(value))
        return text.lower() if spec.lower else text
    if kind in ("int", "long"):
        if isinstance(value, bool):
            raise ValueError(f"{value!r} is not a whole number")
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError(f"{value!r} is not a whole number")
            return int(value)
        try:
            return int(str(value).strip())
        except ValueError:
            raise ValueError(f"{value!r} is not a whole number") from None
    if kind in ("float", "double"):
        if isinstance(value, bool):
            raise ValueError(f"{value!r} is not a number")
        try:
            out = float(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a number") from None
        if not math.isfinite(out):
            raise ValueError(f"{value!r} is not a finite number")
        return out
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"{value!r} is not true or false")
    raise ValueError(f"unknown type {kind}")  # pragma: no cover - the validator rejects it


def _get(record: Any, path: tuple[str, ...]) -> Any:
    cur = record
    for part in path:
        if isinstance(cur, dict):
            cur = cur.get(part)
        elif isinstance(cur, list) and part.lstrip("-").isdigit():
            idx = int(part)
            cur = cur[idx] if -len(cur) <= idx < len(cur) else None
        else:
            return None
        if cur is None:
            return None
    return cur


def _compare(value: Any, other: Any, op: str) -> bool:
    try:
        if op == "gt":
            return value > other
        if op == "gte":
            return value >= other
        if op == "lt":
            return value < other
        return value <= other
    except TypeError:
        return False


def _passes(event: Mapping[str, Any], flt: FilterSpec) -> bool:
    value = event.get(flt.field)
    op = flt.op
    if op == "exists":
        return (value is not None) == bool(flt.value if flt.value is not None else True)
    if op == "equals":
        return value == flt.value
    if op == "not_equals":
        return value != flt.value
    if op == "in":
        return value in flt.value
    if op == "not_in":
        return value not in flt.value
    if value is None:
        return False
    return _compare(value, flt.value, op)


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether ``value`` nests lists and dicts more than ``limit`` deep (iterative: no recursion).

    >>> _deeper_than({"a": [1, {"b": 2}]}, 3), _deeper_than({"a": [1, {"b": 2}]}, 2)
    (False, True)
    """
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _decode_json_strings(record: dict[str, Any]) -> None:
    for side in ("request", "response"):
        part = record.get(side)
        if isinstance(part, dict):
            body = part.get("body")
            if isinstance(body, str) and body[:1] in ("{", "["):
                try:
                    part["body"] = json.loads(body)
                except (ValueError, RecursionError):
                    pass


def load_function(dotted: str) -> Callable[[dict[str, Any]], Any]:
    """Import ``module:function`` (e.g. ``flows.games:enrich_session``).

    Raises:
        NotFoundError: The module or the function does not exist.
    """
    from rdg.errors import NotFoundError

    module_name, _, func_name = dotted.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise NotFoundError(f"cannot import '{module_name}' for enrich function {dotted}: {err}",
                            hint="run rdg from the project folder so flows/ is importable") from err
    func = getattr(module, func_name, None)
    if not callable(func):
        raise NotFoundError(f"'{module_name}' has no function '{func_name}'", hint=f"define def {func_name}(event): ...")
    return func


class PipelineSteps:
    """The steps of one pipeline, bound to its spec, side tables and enrich functions.

    Args:
        spec: The whole validated spec.
        name: Which pipeline.
        tables: Side tables by name (``key -> row``), as :func:`open_tables` loads them.
    """

    def __init__(self, spec: PipelinesSpec, name: str, tables: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None) -> None:
        self.spec = spec
        self.pipeline: PipelineSpec = spec.pipeline(name)
        self.name = name
        self.tables = tables or {}
        self._functions = {e.function: load_function(e.function) for e in self.pipeline.enrich if e.function}
        self._formats = {s: spec.sources[s].format for s in self.pipeline.sources}
        self._fields = {s: self.pipeline.normalize.fields_for(s) for s in self.pipeline.sources}
        self._keys = {label: v.key for label, v in spec.graph.vertices.items()}

    def _dead(self, step: str, reason: str, source: str, offset: str, raw: Any) -> DeadLetter:
        return DeadLetter(self.name, step, reason, f"{self.name}@{offset}", offset, raw)

    # -- decode ----------------------------------------------------------------------------
    def decode(self, raw: RawEvent) -> dict[str, Any] | DeadLetter:
        """Parse the message by the source's format into a record (a dict).

        An event larger than :data:`MAX_EVENT_BYTES` or nested deeper than :data:`MAX_DEPTH`
        is a dead letter, never an exception: no single event may stop a pipeline.
        """
        fmt = self._formats.get(raw.source, "json")
        value = raw.value
        if value is not None and len(value) > MAX_EVENT_BYTES:
            return self._dead("decode", f"event of {len(value):,} bytes is over the {MAX_EVENT_BYTES:,}-byte limit",
                              raw.source, raw.offset, value[:1024])
        try:
            if value is None:
                raise ValueError("empty message (null value)")
            text = value.decode("utf-8") if isinstance(value, bytes) else value
            record = json.loads(text)
        except (UnicodeDecodeError, ValueError) as err:
            return self._dead("decode", f"not valid JSON: {err}", raw.source, raw.offset, raw.value)
        except RecursionError:
            record = None
        if record is None or _deeper_than(record, MAX_DEPTH):
            return self._dead("decode", f"JSON nested deeper than {MAX_DEPTH} levels", raw.source, raw.offset,
                              value[:1024] if value is not None else None)
        if not isinstance(record, dict):
            return self._dead("decode", f"expected a JSON object, got {type(record).__name__}", raw.source, raw.offset,
                              raw.value)
        if fmt == "cdc":
            payload = record.get("payload") if isinstance(record.get("payload"), dict) else record
            op = payload.get("op")
            image = payload.get("before") if op == "d" else payload.get("after")
            if op not in ("c", "u", "d", "r") or not isinstance(image, dict):
                return self._dead("decode", "not a CDC envelope: need op (c/u/d/r) and an after (or before for d) object",
                                  raw.source, raw.offset, raw.value)
            record = dict(image)
            record["_op"] = op
            record["_ts_ms"] = payload.get("ts_ms")
            record["_before"] = payload.get("before")
        elif fmt == "request_log":
            if not isinstance(record.get("request"), dict):
                return self._dead("decode", "not a request log: need a 'request' object", raw.source, raw.offset,
                                  raw.value)
            _decode_json_strings(record)
            if _deeper_than(record, MAX_DEPTH):
                return self._dead("decode", f"JSON nested deeper than {MAX_DEPTH} levels (in a body)", raw.source,
                                  raw.offset, raw.value)
        record["_source"] = raw.source
        record["_offset"] = raw.offset
        record["_topic"] = raw.topic
        record["_partition"] = raw.partition
        record["_key"] = raw.key.decode("utf-8", "replace") if isinstance(raw.key, bytes) else raw.key
        return record

    # -- normalize -------------------------------------------------------------------------
    def normalize(self, record: dict[str, Any] | DeadLetter) -> dict[str, Any] | DeadLetter | None:
        """Record -> canonical event; ``None`` when a ``where`` condition drops it."""
        if isinstance(record, DeadLetter):
            return record
        source = record.get("_source", "")
        offset = record.get("_offset", "")
        event: dict[str, Any] = {"_source": source, "_offset": offset, "_pipeline": self.name}
        for spec in self._fields.get(source, self.pipeline.normalize.fields):
            value = _get(record, spec.path)
            if value is None or value == "":
                if spec.default is not None:
                    value = spec.default
                elif spec.required:
                    return self._dead("normalize", f"missing required field '{spec.name}' (path {spec.path_text})",
                                      source, offset, _strip(record))
                else:
                    continue
            try:
                event[spec.name] = _cast(value, spec)
            except ValueError as err:
                return self._dead("normalize", f"field '{spec.name}' (path {spec.path_text}): {err}", source, offset,
                                  _strip(record))
        for flt in self.pipeline.normalize.filters:
            if not _passes(event, flt):
                return None
        time_value = event.get(self.pipeline.time_field)
        if not isinstance(time_value, int):
            return self._dead("normalize", f"no event time: field '{self.pipeline.time_field}' is missing",
                              source, offset, _strip(record))
        if self.pipeline.event_id is not None:
            try:
                event["_event_id"] = str(self.pipeline.event_id.render(event))
            except KeyError as err:
                return self._dead("normalize", f"event_id needs field {err}", source, offset, _strip(record))
        else:
            event["_event_id"] = offset
        return event

    # -- enrich ----------------------------------------------------------------------------
    def enrich(self, event: dict[str, Any] | DeadLetter) -> dict[str, Any] | DeadLetter:
        """Join side tables and call enrich functions, in the order the spec lists them."""
        if isinstance(event, DeadLetter):
            return event
        for step in self.pipeline.enrich:
            if step.kind == "table":
                key = event.get(step.on or "")
                row = None if key is None else self.tables.get(step.table or "", {}).get(str(key))
                if row is None:
                    if step.required:
                        return self._dead("enrich", f"no row in table '{step.table}' for {step.on}={key!r}",
                                          event["_source"], event["_offset"], _strip(event))
                    continue
                for new, col in step.fields.items():
                    if row.get(col) not in (None, ""):
                        event[new] = row[col]
            else:
                func = self._functions[step.function]
                try:
                    out = func(dict(event))
                except Exception as err:  # noqa: BLE001 - user code: its failure is this event's reason
                    return self._dead("enrich", f"{step.function} raised {type(err).__name__}: {err}",
                                      event["_source"], event["_offset"], _strip(event))
                if not isinstance(out, dict):
                    return self._dead("enrich", f"{step.function} returned {type(out).__name__}, expected a dict",
                                      event["_source"], event["_offset"], _strip(event))
                event = out
        return event

    # -- graph-map -------------------------------------------------------------------------
    def graph_map(self, event: dict[str, Any] | DeadLetter) -> list[Write] | DeadLetter:
        """Canonical event -> vertex and edge writes, by the spec's templates."""
        if isinstance(event, DeadLetter):
            return event
        p = self.pipeline
        ts = event[p.time_field]
        source = f"{self.name}@{event['_offset']}"
        out: list[Write] = []
        try:
            for v in p.vertices:
                key = _key(v.key, event, f"vertex '{v.label}' key")
                out.append(VertexWrite(v.label, self._keys[v.label], key, _props(v.properties, event), ts, source))
            for e in p.edges:
                src = _key(e.from_key, event, f"edge '{e.label}' from")
                dst = _key(e.to_key, event, f"edge '{e.label}' to")
                out.append(EdgeWrite(e.label, (e.from_label, self._keys[e.from_label], src),
                                     (e.to_label, self._keys[e.to_label], dst), _props(e.properties, event), ts,
                                     event["_event_id"], source))
        except ValueError as err:
            return self._dead("graph_map", str(err), event["_source"], event["_offset"], _strip(event))
        return out

    def process(self, raw: RawEvent) -> list[Write] | DeadLetter | None:
        """All steps for one raw event (what ``rdg preview`` shows); ``None`` when filtered out."""
        normalized = self.normalize(self.decode(raw))
        if normalized is None:
            return None
        return self.graph_map(self.enrich(normalized))


def _key(template: Template, event: Mapping[str, Any], what: str) -> str:
    try:
        value = template.render(event)
    except KeyError as err:
        raise ValueError(f"{what} needs field {err}, which this event does not have") from None
    return str(value)


def _props(props: Mapping[str, Any], event: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in props.items():
        if isinstance(value, Template):
            try:
                out[name] = value.render(event)
            except KeyError:
                continue
        else:
            out[name] = value
    return out


def _strip(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.startswith("_")}


def shard_of(write: Write, shards: int) -> str:
    """The writer shard of a write: stable across processes (crc32, not ``hash``).

    >>> shard_of(VertexWrite("device", "device_id", "d1"), 1)
    '0'
    """
    if shards <= 1:
        return "0"
    ident = write.identity
    return str(zlib.crc32(repr(ident).encode()) % shards)
