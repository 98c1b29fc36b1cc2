"""Turn a batch of writes into the few changes the graph needs (pure Python, no I/O).

Longer than most modules: the coalescing rules, each with the doctest that pins it.

Two steps, both backend-neutral:

1. :func:`coalesce` folds a batch by identity: per property the write that :func:`wins` is
   kept (the newest event time; on a tie the greater value, so the outcome never depends on
   the order writes arrive in), an edge collects the ids of the events it saw, and every edge
   endpoint becomes a key-only vertex so it exists before the edge.
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
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

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
    "compact",
    "owner",
    "owner_partition",
    "plan",
    "why_invalid",
    "wins",
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


def _rank(value: Any) -> tuple[str, Any]:
    return (type(value).__name__, value)


def wins(ts: int, value: Any, old_ts: int | None, old_value: Any = None) -> bool:
    """THE last-write-wins rule of rdg: does a write (``ts``, ``value``) replace what is there?

    A newer event time wins. On equal event times the greater value wins (values of one type
    compare as themselves, of different types by type name), so every writer, in any order,
    under any concurrency, keeps the same value. Nothing there yet (``old_ts`` None): it wins.
    Every place that merges writes (the graph's batches, ``rdg graph repair``, test oracles)
    calls this function.

    >>> wins(6, "ios", 5, "android"), wins(4, "ios", 5, "android")
    (True, False)
    >>> wins(5, "ios", 5, "android"), wins(5, "android", 5, "ios")  # a tie: the same winner either way
    (True, False)
    >>> wins(5, "same", 5, "same")  # equal: nothing to change
    False
    """
    if old_ts is None:
        return True
    if ts != old_ts:
        return ts > old_ts
    try:
        return _rank(value) > _rank(old_value)
    except TypeError:  # unorderable values of one type (never for stored scalars): compare text
        return repr(value) > repr(old_value)


def owner(write: VertexWrite | EdgeWrite) -> tuple[str, Any]:
    """The vertex that owns a write: itself for a vertex, the out-vertex for an edge.

    Writers that share a graph route every write by its owner, so one writer at a time
    creates and changes a vertex and the edges that leave it.

    >>> owner(EdgeWrite("used", ("profile", "profile_id", "p1"), ("device", "device_id", "d1")))
    ('profile', 'p1')
    """
    if isinstance(write, VertexWrite):
        return write.identity
    return (write.from_vertex[0], write.from_vertex[2])


def owner_partition(identity: tuple[str, Any], partitions: int) -> int:
    """The partition (of ``partitions``) that owns a vertex identity: stable in every process.

    >>> owner_partition(("profile", "p1"), 8) == owner_partition(("profile", "p1"), 8)
    True
    """
    return zlib.crc32(repr(identity).encode()) % max(1, partitions)


Owns = Callable[[tuple[str, Any]], bool]
"""Whether this writer owns a vertex identity (may create and change it and its out-edges)."""


def _stamp(props: dict[str, Stamped], name: str, value: Any, ts: int, source: str) -> None:
    old = props.get(name)
    if old is None or wins(ts, value, old.ts, old.value):
        props[name] = Stamped(value, ts, source)


def _later(ts: int, source: str, old_ts: int | None, old_source: Any) -> bool:
    """Whether ``(ts, source)`` is the newer event (the tie-break of ``_ts``/``_src``, ``last_seen``)."""
    return wins(ts, source, old_ts, old_source if old_source is not None else "")


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


def why_invalid(write: VertexWrite | EdgeWrite) -> str | None:
    """Why the graph would refuse ``write`` (bad names, values or times), or ``None``.

    >>> why_invalid(VertexWrite("member", "member_id", 1.5))
    "key 'member_id' needs a string or integer value, not 1.5"
    >>> why_invalid(VertexWrite("member", "member_id", "m1")) is None
    True
    """
    return _validate(write)[1]


def _event_id(w: EdgeWrite) -> str:
    return w.event_id or w.source or f"ts:{w.ts}"


def coalesce(writes: Iterable[VertexWrite | EdgeWrite], ends: Iterable[EdgeWrite] = ()) -> Coalesced:
    """Fold writes by identity, newest event time per property; refuse malformed writes.

    ``ends`` are edge writes that only make their in-vertex exist (key-only, as any endpoint):
    another writer owns the edge itself (see ``owns`` in :func:`plan`).

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
            if v.ts is None or _later(w.ts, w.source, v.ts, v.source):
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
        eid = _event_id(w)
        edge.events[eid] = min(edge.events.get(eid, w.ts), w.ts)
        if w.ts < edge.first_seen:
            edge.first_seen = w.ts
        if _later(w.ts, w.source, edge.last_seen, edge.source):
            edge.last_seen, edge.source = w.ts, w.source
        for name, value in props.items():
            _stamp(edge.props, name, value, w.ts, w.source)
        for end in (w.from_vertex, w.to_vertex):
            vertex(*end).writes.append(w)
    for e in ends:
        if _validate(e)[1] is None:  # a bad one is refused where its edge is written
            vertex(*e.to_vertex).writes.append(e)
    for v in out.vertices.values():
        if v.ts is None:  # key-only endpoint: stamped with its earliest edge event if it is new
            v.ts, v.source = min(((w.ts, w.source) for w in v.writes), default=(0, ""))
    return out


def compact(writes: Iterable[VertexWrite | EdgeWrite]) -> list[VertexWrite | EdgeWrite]:
    """The same writes without repeats, vertices first: what a pipeline hands on to the graph.

    Writes of one vertex from one event (same ``ts`` and ``source``) become one write; an edge
    write seen again exactly (a replayed event) is dropped. Nothing is merged across events:
    two edge writes with one event id but other times (a CDC row updated twice) both stay, so
    the graph's own :func:`coalesce` still sees every event time (``first_seen``) and value.

    >>> a = VertexWrite("device", "device_id", "d1", {"os": "ios"}, ts=2, source="s@t:0:1")
    >>> b = VertexWrite("device", "device_id", "d1", {"model": "x"}, ts=2, source="s@t:0:1")
    >>> [w.properties for w in compact([a, b, a])]
    [{'os': 'ios', 'model': 'x'}]
    """
    vertices: dict[tuple[Any, ...], VertexWrite] = {}
    edges: dict[tuple[Any, ...], EdgeWrite] = {}
    for w in writes:
        if isinstance(w, VertexWrite):
            key = (w.identity, w.key, w.ts, w.source)
            old = vertices.get(key)
            if old is None:
                vertices[key] = w
                continue
            merged = dict(old.properties)
            for name, value in w.properties.items():
                if name not in merged or wins(w.ts, value, old.ts, merged[name]):
                    merged[name] = value
            vertices[key] = VertexWrite(w.label, w.key, w.key_value, merged, w.ts, w.source)
        else:
            edges.setdefault((w.identity, _event_id(w), w.ts, w.source, repr(sorted(w.properties.items()))), w)
    return [*vertices.values(), *edges.values()]


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
    deferred: list[CoEdge] = field(default_factory=list)
    """Owned edges whose in-vertex is another writer's and does not exist yet: try again later."""

    def __len__(self) -> int:
        return len(self.new_vertices) + len(self.set_vertices) + len(self.new_edges) + len(self.set_edges)


def _lww(props: dict[str, Stamped], existing: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name, st in props.items():
        if wins(st.ts, st.value, existing.get(f"_ts_{name}"), existing.get(name)):
            changes[name] = st.value
            changes[f"_ts_{name}"] = st.ts
    return changes


def plan(co: Coalesced, vertices: dict[tuple[str, Any], VertexState],
         edges: dict[tuple[str, str, Any, str, Any], EdgeState], owns: Owns | None = None) -> Plan:
    """The changes that bring the graph (``vertices``/``edges`` as read) up to the batch ``co``.

    With ``owns`` (several writers sharing a graph, each owning some vertices), only owned
    vertices are created or changed and only edges out of owned vertices are written; an
    owned edge whose in-vertex is someone else's and missing is :attr:`Plan.deferred`, never
    created here, so no vertex is ever created by two writers.

    >>> from rdg.graph._model import EdgeWrite
    >>> co = coalesce([EdgeWrite("used", ("profile", "profile_id", "p1"), ("device", "device_id", "d1"), ts=1)])
    >>> mine = lambda ident: ident[0] == "profile"
    >>> ops = plan(co, {}, {}, owns=mine)
    >>> [v.label for v in ops.new_vertices], len(ops.new_edges), len(ops.deferred)
    (['profile'], 0, 1)
    """
    out = Plan()
    ends: dict[tuple[str, Any], tuple[str, Any]] = {}
    for n, (ident, v) in enumerate(sorted(co.vertices.items(), key=lambda kv: repr(kv[0]))):
        state = vertices.get(ident)
        if owns is not None and not owns(ident):
            if state is not None:  # someone else's: usable as an endpoint, never changed here
                ends[ident] = ("id", state.id)
            continue
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
        if has_own and v.ts is not None and _later(v.ts, v.source, state.props.get("_ts"), state.props.get("_src")):
            changes["_ts"] = v.ts
            changes["_src"] = v.source
        if changes:
            out.set_vertices.append(SetProps(state.id, changes))
    for ident, e in sorted(co.edges.items(), key=lambda kv: repr(kv[0])):
        if owns is not None and not owns((e.from_vertex[0], e.from_vertex[2])):
            continue  # here only so its in-vertex exists: the out-vertex's owner writes the edge
        from_end = ends[(e.from_vertex[0], e.from_vertex[2])]
        to_end = ends.get((e.to_vertex[0], e.to_vertex[2]))
        if to_end is None:
            out.deferred.append(e)
            continue
        ordered = [eid for eid, _ in sorted(e.events.items(), key=lambda kv: (kv[1], kv[0]))]
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
        if _later(e.last_seen, e.source, old.get("last_seen"), old.get("_src")):
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
