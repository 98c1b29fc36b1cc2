"""Turn a batch of writes into the few changes the graph needs (pure Python, no I/O).

Two steps, both backend-neutral:

1. :func:`coalesce` folds a batch by element identity: per property the newest event time wins
   (on a tie the first write seen wins), an edge collects the ids of the events it saw, and
   every edge endpoint becomes a key-only vertex so it exists before the edge.
2. :func:`plan` compares the coalesced batch with the state read from the graph and emits only
   what changes. Replaying a batch therefore plans nothing, which is what makes upserts
   idempotent.

Stored layout (same on every backend): a vertex holds its key, ``_key`` (the key's name), its properties, ``_ts_<prop>``
(event time of each property), ``_ts`` (newest event time seen) and ``_src`` (the source of that
event). An edge holds its properties with ``_ts_<prop>``, ``first_seen``, ``last_seen``,
``count``, ``_src`` and ``_eids``: a JSON list of the last :data:`EVENT_ID_WINDOW` event ids
counted on it, so a replayed event does not bump ``count``.

>>> from rdg.graph._model import VertexWrite, EdgeWrite
>>> batch = [VertexWrite("member", "member_id", "m1", {"tier": "gold"}, ts=2),
...          VertexWrite("member", "member_id", "m1", {"tier": "free"}, ts=1)]
>>> co = coalesce(batch)
>>> co.vertices[("member", "m1")].props["tier"].value
'gold'
>>> ops = plan(co, {}, {})
>>> ops.new_vertices[0].props["tier"], ops.new_vertices[0].props["_ts_tier"]
('gold', 2)
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from rdg.graph._model import EdgeWrite, VertexWrite

__all__ = [
    "EDGE_RESERVED",
    "EVENT_ID_WINDOW",
    "Coalesced",
    "CoEdge",
    "CoVertex",
    "EdgeState",
    "Plan",
    "Stamped",
    "VertexState",
    "check_name",
    "coalesce",
    "plan",
]

EVENT_ID_WINDOW = 256
"""How many recent event ids an edge remembers to keep ``count`` exact under replay."""

EDGE_RESERVED = frozenset({"first_seen", "last_seen", "count"})
"""Edge property names the graph layer maintains itself."""

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_INT_MIN, _INT_MAX = -(2**62), 2**62 - 1  # the embedded store's integer range (JanusGraph's is wider)


def check_name(name: object, what: str) -> str | None:
    """Why ``name`` is not a usable label or property name, or ``None`` if it is.

    >>> check_name("member_id", "property")
    >>> check_name("drop()", "label")
    "label 'drop()' must match ^[A-Za-z_][A-Za-z0-9_]*$"
    """
    if not isinstance(name, str) or not _NAME.match(name):
        return f"{what} {name!r} must match ^[A-Za-z_][A-Za-z0-9_]*$"
    return None


def _check_value(name: str, value: Any) -> tuple[Any, str | None]:
    """The stored form of ``value`` and an error, if it cannot be stored."""
    if isinstance(value, bool) or isinstance(value, str) or isinstance(value, float):
        return value, None
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            return value, f"property {name!r}: integer {value} is outside [-2**62, 2**62-1]"
        return value, None
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        return int(value.timestamp() * 1000), None
    return value, (f"property {name!r}: {type(value).__name__} values cannot be stored; "
                   "use a string, number, boolean or datetime")


@dataclass(frozen=True)
class Stamped:
    """A property value with the event time and source that wrote it."""

    value: Any
    ts: int
    source: str


@dataclass
class CoVertex:
    """One vertex after coalescing a batch."""

    label: str
    key: str
    key_value: Any
    props: dict[str, Stamped] = field(default_factory=dict)
    ts: int | None = None
    source: str = ""
    writes: list[VertexWrite | EdgeWrite] = field(default_factory=list)

    @property
    def identity(self) -> tuple[str, Any]:
        return (self.label, self.key_value)


@dataclass
class CoEdge:
    """One edge after coalescing a batch: its events, time span and properties."""

    label: str
    from_vertex: tuple[str, str, Any]
    to_vertex: tuple[str, str, Any]
    props: dict[str, Stamped] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)
    first_seen: int = 0
    last_seen: int = 0
    source: str = ""
    writes: list[VertexWrite | EdgeWrite] = field(default_factory=list)

    @property
    def identity(self) -> tuple[str, str, Any, str, Any]:
        return (self.label, self.from_vertex[0], self.from_vertex[2], self.to_vertex[0], self.to_vertex[2])


@dataclass
class Coalesced:
    """A batch folded by identity, plus the writes refused before reaching the graph."""

    vertices: dict[tuple[str, Any], CoVertex] = field(default_factory=dict)
    edges: dict[tuple[str, str, Any, str, Any], CoEdge] = field(default_factory=dict)
    failed: list[tuple[VertexWrite | EdgeWrite, str]] = field(default_factory=list)


def _stamp(props: dict[str, Stamped], name: str, value: Any, ts: int, source: str) -> None:
    old = props.get(name)
    if old is None or ts > old.ts:
        props[name] = Stamped(value, ts, source)


def _validate(w: VertexWrite | EdgeWrite) -> tuple[dict[str, Any], str | None]:
    if isinstance(w, VertexWrite):
        for name, what in ((w.label, "vertex label"), (w.key, "key property")):
            if err := check_name(name, what):
                return {}, err
        _, err = _check_value(w.key, w.key_value)
        if err or w.key_value is None or isinstance(w.key_value, float):
            return {}, err or f"key {w.key!r} needs a string or integer value, not {w.key_value!r}"
    elif isinstance(w, EdgeWrite):
        if err := check_name(w.label, "edge label"):
            return {}, err
        for end in (w.from_vertex, w.to_vertex):
            if not (isinstance(end, tuple) and len(end) == 3):
                return {}, f"edge endpoint {end!r} must be (label, key_property, key_value)"
            for name, what in ((end[0], "vertex label"), (end[1], "key property")):
                if err := check_name(name, what):
                    return {}, err
            if end[2] is None or isinstance(end[2], (float, bool)) or not isinstance(end[2], (str, int)):
                return {}, f"endpoint key {end[1]!r} needs a string or integer value, not {end[2]!r}"
    else:
        return {}, f"expected VertexWrite or EdgeWrite, got {type(w).__name__}"
    if not isinstance(w.ts, int) or isinstance(w.ts, bool):
        return {}, f"ts must be epoch milliseconds (int), not {w.ts!r}"
    clean: dict[str, Any] = {}
    for name, value in (w.properties or {}).items():
        if err := check_name(name, "property"):
            return {}, err
        if name.startswith("_"):
            return {}, f"property {name!r}: names starting with '_' are reserved for rdg"
        if isinstance(w, EdgeWrite) and name in EDGE_RESERVED:
            return {}, f"edge property {name!r} is maintained by rdg; rename it"
        if isinstance(w, VertexWrite) and name == w.key:
            continue
        if value is None:  # "no value in this event": nothing to write
            continue
        value, err = _check_value(name, value)
        if err:
            return {}, err
        clean[name] = value
    return clean, None


def _event_id(w: EdgeWrite) -> str:
    return w.event_id or w.source or f"ts:{w.ts}"


def coalesce(writes: Iterable[VertexWrite | EdgeWrite]) -> Coalesced:
    """Fold writes by identity, newest event time per property; refuse malformed writes.

    >>> from rdg.graph._model import EdgeWrite
    >>> e = lambda ts, eid: EdgeWrite("used", ("member", "member_id", "m1"), ("device", "device_id", "d1"),
    ...                               ts=ts, event_id=eid)
    >>> co = coalesce([e(5, "a"), e(3, "b"), e(5, "a")])
    >>> edge = next(iter(co.edges.values()))
    >>> edge.first_seen, edge.last_seen, sorted(edge.events)
    (3, 5, ['a', 'b'])
    >>> sorted(co.vertices)  # endpoints exist before the edge
    [('device', 'd1'), ('member', 'm1')]
    """
    out = Coalesced()

    def vertex(label: str, key: str, key_value: Any) -> CoVertex:
        found = out.vertices.get((label, key_value))
        if found is None:
            found = out.vertices[(label, key_value)] = CoVertex(label, key, key_value)
        return found

    for w in writes:
        props, err = _validate(w)
        if err:
            out.failed.append((w, err))
            continue
        if isinstance(w, VertexWrite):
            v = vertex(w.label, w.key, w.key_value)
            if v.key != w.key:
                out.failed.append((w, f"vertex label {w.label!r} is keyed by {v.key!r} elsewhere in this batch"))
                continue
            v.writes.append(w)
            if v.ts is None or w.ts > v.ts:
                v.ts, v.source = w.ts, w.source
            for name, value in props.items():
                _stamp(v.props, name, value, w.ts, w.source)
            continue
        ident = w.identity
        edge = out.edges.get(ident)
        if edge is None:
            edge = out.edges[ident] = CoEdge(w.label, w.from_vertex, w.to_vertex, first_seen=w.ts,
                                             last_seen=w.ts, source=w.source)
        edge.writes.append(w)
        edge.events.setdefault(_event_id(w), w.ts)
        if w.ts < edge.first_seen:
            edge.first_seen = w.ts
        if w.ts > edge.last_seen:
            edge.last_seen, edge.source = w.ts, w.source
        for name, value in props.items():
            _stamp(edge.props, name, value, w.ts, w.source)
        for end in (w.from_vertex, w.to_vertex):
            v = vertex(*end)
            v.writes.append(w)
            if v.ts is None:  # key-only endpoint: stamped with the edge's time if it is new
                v.source = w.source
    for v in out.vertices.values():
        if v.ts is None:
            v.ts = min((w.ts for w in v.writes), default=0)
    return out


@dataclass
class VertexState:
    """A vertex as read from the graph: its backend id and its flat properties."""

    id: Any
    props: dict[str, Any]


@dataclass
class EdgeState:
    """An edge as read from the graph: its flat properties and (where the backend has one) id."""

    props: dict[str, Any]
    id: Any = None


@dataclass
class NewVertex:
    """Create a vertex; ``ref`` names it for edges created in the same request."""

    ref: str
    label: str
    props: dict[str, Any]


@dataclass
class SetProps:
    """Set properties on an existing vertex (``id``)."""

    id: Any
    props: dict[str, Any]


@dataclass
class NewEdge:
    """Create an edge; an endpoint is an existing vertex id or a :class:`NewVertex` ref."""

    label: str
    from_end: tuple[str, Any]
    to_end: tuple[str, Any]
    props: dict[str, Any]
    from_vertex: tuple[str, str, Any] | None = None
    """The endpoint as (label, key, key value), for backends that look endpoints up by key."""
    to_vertex: tuple[str, str, Any] | None = None


@dataclass
class SetEdgeProps:
    """Set properties on the existing edge (from_id)-[label]->(to_id)."""

    label: str
    from_id: Any
    to_id: Any
    props: dict[str, Any]
    edge_id: Any = None


@dataclass
class Plan:
    """Everything one request must change; empty when the batch was already applied."""

    new_vertices: list[NewVertex] = field(default_factory=list)
    set_vertices: list[SetProps] = field(default_factory=list)
    new_edges: list[NewEdge] = field(default_factory=list)
    set_edges: list[SetEdgeProps] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.new_vertices) + len(self.set_vertices) + len(self.new_edges) + len(self.set_edges)


def _lww(props: dict[str, Stamped], existing: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name, st in props.items():
        old_ts = existing.get(f"_ts_{name}")
        if old_ts is None or st.ts > old_ts:
            changes[name] = st.value
            changes[f"_ts_{name}"] = st.ts
    return changes


def plan(co: Coalesced, vertices: dict[tuple[str, Any], VertexState],
         edges: dict[tuple[str, str, Any, str, Any], EdgeState]) -> Plan:
    """The changes that bring the graph (``vertices``/``edges`` as read) up to the batch ``co``."""
    out = Plan()
    ends: dict[tuple[str, Any], tuple[str, Any]] = {}
    for n, (ident, v) in enumerate(sorted(co.vertices.items(), key=lambda kv: repr(kv[0]))):
        state = vertices.get(ident)
        if state is None:
            ref = f"n{n}"
            props: dict[str, Any] = {v.key: v.key_value, "_key": v.key}
            for name, st in sorted(v.props.items()):
                props[name] = st.value
                props[f"_ts_{name}"] = st.ts
            props["_ts"] = v.ts
            props["_src"] = v.source
            out.new_vertices.append(NewVertex(ref, v.label, props))
            ends[ident] = ("ref", ref)
            continue
        ends[ident] = ("id", state.id)
        changes = _lww(v.props, state.props)
        has_own = any(isinstance(w, VertexWrite) for w in v.writes)
        old_ts = state.props.get("_ts")
        if has_own and v.ts is not None and (old_ts is None or v.ts > old_ts):
            changes["_ts"] = v.ts
            changes["_src"] = v.source
        if changes:
            out.set_vertices.append(SetProps(state.id, changes))
    for ident, e in sorted(co.edges.items(), key=lambda kv: repr(kv[0])):
        from_end = ends[(e.from_vertex[0], e.from_vertex[2])]
        to_end = ends[(e.to_vertex[0], e.to_vertex[2])]
        ordered = [eid for eid, _ in sorted(e.events.items(), key=lambda kv: kv[1])]
        estate = edges.get(ident)
        if estate is None:
            props = {}
            for name, st in sorted(e.props.items()):
                props[name] = st.value
                props[f"_ts_{name}"] = st.ts
            props.update(first_seen=e.first_seen, last_seen=e.last_seen, count=len(ordered),
                         _src=e.source, _eids=json.dumps(ordered[-EVENT_ID_WINDOW:]))
            out.new_edges.append(NewEdge(e.label, from_end, to_end, props, e.from_vertex, e.to_vertex))
            continue
        old = estate.props
        changes = _lww(e.props, old)
        try:
            seen = json.loads(old.get("_eids") or "[]")
        except ValueError:
            seen = []
        known = set(seen)
        fresh = [eid for eid in ordered if eid not in known]
        if fresh:
            changes["count"] = int(old.get("count") or 0) + len(fresh)
            changes["_eids"] = json.dumps((seen + fresh)[-EVENT_ID_WINDOW:])
        if old.get("first_seen") is None or e.first_seen < old["first_seen"]:
            changes["first_seen"] = e.first_seen
        if old.get("last_seen") is None or e.last_seen > old["last_seen"]:
            changes["last_seen"] = e.last_seen
            changes["_src"] = e.source
        if changes:
            out.set_edges.append(SetEdgeProps(e.label, from_end[1], to_end[1], changes, estate.id))
    return out


def chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    """Split ``items`` into runs of at most ``size``.

    >>> chunks([1, 2, 3], 2)
    [[1, 2], [3]]
    """
    return [items[i:i + size] for i in range(0, len(items), max(1, size))]
