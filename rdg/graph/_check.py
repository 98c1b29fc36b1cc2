"""Find and merge what racing writers of earlier versions left behind: ``rdg graph check|repair``.

Longer than most modules: finding and merging duplicates on both backends, with doctests for the merge rules.

rdg identifies a vertex by (label, value of the key property named in its ``_key``) and an
edge by (label, from vertex identity, to vertex identity). Writers that looked a vertex up and
created it when absent, without owning it, could both create it; edge writers that added an
edge per event left several edges for one identity. :func:`check` reads the graph (or a dump)
and reports, with counts and examples:

* ``duplicate_vertices``: identities held by more than one vertex;
* ``duplicate_edges``: edge identities held by more than one edge;
* ``unkeyed_vertices``: vertices without a usable key (no ``_key``, or no value for it);
* ``dangling_edges``: edges with an endpoint that has no key (or is not there at all).

:func:`repair` merges duplicates, then says what it did. Unkeyed vertices and the edges that
touch them have no identity to merge by; repair leaves them and reports them.

Merging a vertex identity keeps the copy with the lowest id and, per property, the value that
:func:`rdg.graph._plan.wins` (last write wins by ``_ts_<prop>``, ties by value); ``_ts`` and
``_src`` come from the newest event (``_ts``, then the greater ``_src``). Every edge of a
dropped copy is re-created on the kept vertex with all its properties, then the copies are
dropped. Merging an edge identity keeps one edge:

* user properties by :func:`~rdg.graph._plan.wins`, ``first_seen`` the earliest,
  ``last_seen`` and ``_src`` from the newest event;
* ``_eids`` the union of the copies' event ids (oldest copy first, by ``last_seen``), trimmed
  to the last :data:`~rdg.graph._plan.EVENT_ID_WINDOW`;
* ``count = sum(copy counts) - (sum(len(copy _eids)) - len(union of _eids))``: the copies'
  counts minus the events seen on more than one copy. When every copy's ``_eids`` still holds
  all its events (``count == len(_eids)``) this is exactly the number of distinct events; when
  a copy counted more events than its window holds, events shared outside the windows cannot be
  seen, so the count may be too high by those.

Each merge is one transaction (one request on JanusGraph, built as bytecode; a SQLite
transaction on the embedded graph), so an interrupted repair leaves a consistent graph and
running it again finishes the job. A second repair finds nothing and changes nothing. Run it
while no writer is writing the labels it repairs.

>>> dump = {"vertices": [
...     {"label": "member", "key": "member_id", "id": "m1", "properties": {"_key": "member_id", "member_id": "m1"}},
...     {"label": "member", "key": "member_id", "id": "m1", "properties": {"_key": "member_id", "member_id": "m1"}}],
...     "edges": []}
>>> report = check(dump)
>>> report.clean, report.duplicate_vertices, report.extra_vertices
(False, 1, 1)
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

from gremlin_python.process.graph_traversal import __

from rdg.errors import ConfigError, ConflictError, RdgError, ServerError
from rdg.graph._dump import flat
from rdg.graph._plan import EDGE_RESERVED, EVENT_ID_WINDOW, check_name, chunks, wins

if TYPE_CHECKING:  # pragma: no cover
    from rdg.graph._handle import Graph

__all__ = ["KINDS", "CheckReport", "RepairReport", "check", "repair"]

KINDS = ("duplicate_vertices", "duplicate_edges", "unkeyed_vertices", "dangling_edges")
"""What :func:`check` looks for, in the order it reports them."""

_READ_CHUNK = 400  # ids per g.V(...) lookup of endpoints outside the labels read
_MOVES_PER_REQUEST = 200  # edges re-created per JanusGraph request when a copy has many

VertexIdent = tuple[str, Any]
EdgeIdent = tuple[str, VertexIdent, VertexIdent]


# -- reports -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckReport:
    """What :func:`check` found; :attr:`clean` when nothing.

    ``examples`` maps each of :data:`KINDS` to at most the requested number of cases, each a
    JSON-ready dict (ids as text).
    """

    vertices: int
    """Vertices read (of the labels asked for, or all)."""
    edges: int
    """Edges read (touching those vertices, or all)."""
    duplicate_vertices: int = 0
    """Vertex identities (label, key value) held by more than one vertex."""
    extra_vertices: int = 0
    """Vertices beyond one per identity: what :func:`repair` drops."""
    duplicate_edges: int = 0
    """Edge identities (label, from, to) held by more than one edge."""
    extra_edges: int = 0
    """Edges beyond one per identity (after the vertices are merged): what :func:`repair` drops."""
    unkeyed_vertices: int = 0
    """Vertices without ``_key`` or without a single value for their key property."""
    dangling_edges: int = 0
    """Edges with an endpoint that is unkeyed or not there."""
    labels: tuple[str, ...] | None = None
    """The vertex labels read (``None``: every label)."""
    backend: str | None = None
    """``embedded``, ``janusgraph`` or ``None`` for a dump."""
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        """Nothing found of any kind."""
        return not (self.duplicate_vertices or self.duplicate_edges or self.unkeyed_vertices or self.dangling_edges)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, with ``clean``."""
        out = asdict(self)
        out["labels"] = list(self.labels) if self.labels is not None else None
        out["clean"] = self.clean
        return out


@dataclass(frozen=True)
class RepairReport:
    """What :func:`repair` merged (or, with ``dry_run``, would merge) and what it left."""

    dry_run: bool
    vertices_merged: int = 0
    """Vertex identities whose copies were merged into one."""
    vertices_dropped: int = 0
    """Copies dropped after merging."""
    edges_moved: int = 0
    """Edges of dropped copies re-created on the kept vertex."""
    edges_merged: int = 0
    """Edge identities whose copies were merged into one."""
    edges_dropped: int = 0
    """Edge copies dropped after merging."""
    unkeyed_vertices: int = 0
    """Left as found: no identity to merge by (see ``rdg graph check``)."""
    dangling_edges: int = 0
    """Left as found: an endpoint is unkeyed or not there."""
    labels: tuple[str, ...] | None = None
    merges: list[dict[str, Any]] = field(default_factory=list)
    """One entry per merged identity: kind, label, identity, kept id, dropped ids, changed properties."""

    @property
    def changed(self) -> bool:
        """Whether anything was (or, on a dry run, would be) merged."""
        return bool(self.vertices_merged or self.edges_merged)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, with ``changed``."""
        out = asdict(self)
        out["labels"] = list(self.labels) if self.labels is not None else None
        out["changed"] = self.changed
        return out


# -- what was read -------------------------------------------------------------------------------
@dataclass
class _V:
    id: Any
    label: str
    props: dict[str, Any]
    ident: VertexIdent | None = None
    why_unkeyed: str = ""


@dataclass
class _E:
    id: Any
    label: str
    from_id: Any
    to_id: Any
    props: dict[str, Any]
    from_ref: VertexIdent | None = None
    to_ref: VertexIdent | None = None
    why_dangling: str = ""

    @property
    def ident(self) -> EdgeIdent | None:
        if self.from_ref is None or self.to_ref is None:
            return None
        return (self.label, self.from_ref, self.to_ref)


@dataclass
class _Snapshot:
    vertices: list[_V]
    edges: list[_E]
    by_id: dict[Any, _V]


def _sort_id(value: Any) -> tuple[int, int, str]:
    """A total order on backend ids of any type (ints, JanusGraph relation ids, ...)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (0, value, "")
    return (1, 0, str(value))


def _text_id(value: Any) -> Any:
    return value if isinstance(value, (int, str)) else str(value)


def _identify(v: _V) -> None:
    key = v.props.get("_key")
    if not isinstance(key, str) or not key:
        v.why_unkeyed = "no _key"
        return
    value = v.props.get(key)
    if value is None:
        v.why_unkeyed = f"no value for its key {key!r}"
    elif isinstance(value, (list, dict, set, float, bool)):
        v.why_unkeyed = f"key {key!r} holds {value!r}, not one string or integer"
    else:
        v.ident = (v.label, value)


def _wrap(err: Exception, what: str, backend: str) -> RdgError:
    if isinstance(err, RdgError):
        return err
    return ServerError(f"graph {backend}: {what} failed: {type(err).__name__}: {err}",
                       hint="check that the graph is reachable (`rdg stack status`) and try again")


def _labels(labels: Sequence[str] | None) -> tuple[str, ...] | None:
    if not labels:
        return None
    for label in labels:
        if err := check_name(label, "label"):
            raise ConfigError(err, hint="pass vertex labels as they are stored (see `rdg graph schema`)")
    return tuple(sorted(set(labels)))


def _read(graph: Graph, labels: tuple[str, ...] | None) -> _Snapshot:
    """Vertices of ``labels`` (or all), every edge touching them, and the far endpoints."""
    g = graph.g
    try:
        vrows = ((g.V().has_label(*labels) if labels else g.V())
                 .project("id", "l", "p").by(__.id_()).by(__.label()).by(__.value_map()).to_list())
        erows = ((g.V().has_label(*labels).both_e() if labels else g.E())
                 .project("id", "l", "f", "t", "p").by(__.id_()).by(__.label()).by(__.out_v().id_())
                 .by(__.in_v().id_()).by(__.value_map()).to_list())
        vertices = [_V(r["id"], r["l"], flat(r["p"])) for r in vrows]
        by_id = {v.id: v for v in vertices}
        seen: set[str] = set()
        edges = []
        for r in erows:
            if str(r["id"]) in seen:  # an edge between two vertices read comes twice from both_e()
                continue
            seen.add(str(r["id"]))
            edges.append(_E(r["id"], r["l"], r["f"], r["t"], flat(r["p"])))
        far = sorted({i for e in edges for i in (e.from_id, e.to_id) if i not in by_id}, key=_sort_id)
        for part in chunks(far, _READ_CHUNK):
            for r in g.V(*part).project("id", "l", "p").by(__.id_()).by(__.label()).by(__.value_map()).to_list():
                by_id[r["id"]] = _V(r["id"], r["l"], flat(r["p"]))
    except Exception as err:  # noqa: BLE001 - driver and embedded errors alike
        raise _wrap(err, "read for check", graph.backend) from err
    for v in by_id.values():
        _identify(v)
    for e in edges:
        _resolve(e, by_id.get(e.from_id), by_id.get(e.to_id))
    vertices.sort(key=lambda v: _sort_id(v.id))
    edges.sort(key=lambda e: _sort_id(e.id))
    return _Snapshot(vertices, edges, by_id)


def _resolve(e: _E, a: _V | None, b: _V | None) -> None:
    e.from_ref = a.ident if a is not None else None
    e.to_ref = b.ident if b is not None else None
    for end, v in (("from", a), ("to", b)):
        if v is None:
            e.why_dangling = f"{end} vertex {_text_id(e.from_id if end == 'from' else e.to_id)} is not there"
            return
        if v.ident is None:
            e.why_dangling = f"{end} vertex {_text_id(v.id)} ({v.label}) has {v.why_unkeyed}"
            return


def _from_dump(dump: Mapping[str, Any], labels: tuple[str, ...] | None = None) -> _Snapshot:
    """A snapshot from ``Graph.dump()`` output: backend ids are not in a dump, so ids are positions."""
    vertices = [_V(f"#{i}", v["label"], dict(v.get("properties") or {}))
                for i, v in enumerate(dump.get("vertices") or []) if labels is None or v["label"] in labels]
    for v in vertices:
        _identify(v)
    edges = []
    for i, e in enumerate(dump.get("edges") or []):
        if labels is not None and e["from"][0] not in labels and e["to"][0] not in labels:
            continue
        edge = _E(f"#e{i}", e["label"], None, None, dict(e.get("properties") or {}))
        for end in ("from", "to"):
            label, value = e[end]
            ref = None if label == "?" or value is None else (label, value)
            setattr(edge, f"{end}_ref", ref)
            if ref is None and not edge.why_dangling:
                edge.why_dangling = (f"{end} vertex is not in the dump" if label == "?"
                                     else f"{end} vertex ({label}) has no key")
        edges.append(edge)
    return _Snapshot(vertices, edges, {v.id: v for v in vertices})


def _groups(items: Sequence[Any], ident: Any) -> dict[Any, list[Any]]:
    """Items grouped by identity (``None`` left out), only identities with several items."""
    out: dict[Any, list[Any]] = {}
    for it in items:
        key = ident(it)
        if key is not None:
            out.setdefault(key, []).append(it)
    return {k: v for k, v in sorted(out.items(), key=lambda kv: repr(kv[0])) if len(v) > 1}


# -- check ---------------------------------------------------------------------------------------
def _inspect(snap: _Snapshot, examples: int) -> dict[str, Any]:
    vgroups = _groups(snap.vertices, lambda v: v.ident)
    egroups = _groups(snap.edges, lambda e: e.ident)
    unkeyed = [v for v in snap.vertices if v.ident is None]
    dangling = [e for e in snap.edges if e.ident is None]
    ex: dict[str, list[dict[str, Any]]] = {k: [] for k in KINDS}
    for (label, value), copies in list(vgroups.items())[:examples]:
        ex["duplicate_vertices"].append({"label": label, "key": copies[0].props.get("_key"), "value": value,
                                         "copies": len(copies), "ids": [_text_id(v.id) for v in copies]})
    for (label, a, b), copies in list(egroups.items())[:examples]:
        ex["duplicate_edges"].append({"label": label, "from": list(a), "to": list(b), "copies": len(copies),
                                      "counts": [c.props.get("count") for c in copies],
                                      "ids": [_text_id(c.id) for c in copies]})
    for v in unkeyed[:examples]:
        ex["unkeyed_vertices"].append({"label": v.label, "id": _text_id(v.id), "reason": v.why_unkeyed,
                                       "properties": v.props})
    for e in dangling[:examples]:
        ex["dangling_edges"].append({"label": e.label, "id": _text_id(e.id), "reason": e.why_dangling,
                                     "from": list(e.from_ref) if e.from_ref else None,
                                     "to": list(e.to_ref) if e.to_ref else None})
    # Edge copies on different copies of an endpoint are one identity: repair merges them too.
    return {"duplicate_vertices": len(vgroups), "extra_vertices": sum(len(c) - 1 for c in vgroups.values()),
            "duplicate_edges": len(egroups), "extra_edges": sum(len(c) - 1 for c in egroups.values()),
            "unkeyed_vertices": len(unkeyed), "dangling_edges": len(dangling), "examples": ex}


def check(source: Graph | Mapping[str, Any], *, labels: Sequence[str] | None = None,
          examples: int = 5) -> CheckReport:
    """Scan a graph (or a :meth:`Graph.dump`) for duplicates and elements without identity.

    Args:
        source: A connected :class:`~rdg.graph.Graph` or the dict its ``dump()`` returned.
        labels: Only these vertex labels and the edges touching them (default: everything).
        examples: Cases listed per kind.

    Returns:
        The counts per kind and up to ``examples`` cases each.

    Raises:
        ServerError: The graph could not be read.
        ConfigError: A label is not a valid name.

    >>> import os, tempfile
    >>> from rdg.graph import connect, EdgeWrite
    >>> graph = connect(os.path.join(tempfile.mkdtemp(), "g.sqlite"))
    >>> _ = graph.upsert([EdgeWrite("used", ("member", "member_id", "m1"), ("device", "device_id", "d1"), ts=1)])
    >>> check(graph).clean
    True
    >>> graph.close()
    """
    chosen = _labels(labels)
    if isinstance(source, Mapping):
        snap, backend = _from_dump(source, chosen), None
    else:
        snap, backend = _read(source, chosen), source.backend
    found = _inspect(snap, max(0, examples))
    return CheckReport(vertices=len(snap.vertices), edges=len(snap.edges), labels=chosen, backend=backend, **found)


# -- merging (pure) ------------------------------------------------------------------------------
def _pick(cands: list[tuple[Any, Any]]) -> tuple[Any, Any]:
    """The (ts, value) that wins among copies; a value without its ``_ts_`` loses to one with."""
    best = cands[0]
    for ts, value in cands[1:]:
        bts, bvalue = best
        if ts is None and bts is not None:
            continue
        if (ts is not None and bts is None) or wins(ts if ts is not None else 0, value,
                                                     bts if bts is not None else 0, bvalue):
            best = (ts, value)
    return best


def _merge_common(copies: list[dict[str, Any]], *, user: Any, managed: set[str]) -> dict[str, Any]:
    """User properties by :func:`wins` with their ``_ts_``; unknown properties from the first copy having them."""
    out: dict[str, Any] = {}
    names = sorted({k for c in copies for k in c if user(k)})
    for name in names:
        cands = [(c.get(f"_ts_{name}"), c[name]) for c in copies if c.get(name) is not None]
        if not cands:
            continue
        ts, value = _pick(cands)
        out[name] = value
        if ts is not None:
            out[f"_ts_{name}"] = ts
    for c in copies:
        for name, value in c.items():
            if not user(name) and name not in managed and not name.startswith("_ts_") and name not in out:
                out[name] = value
    return out


def _newest(copies: list[dict[str, Any]], ts_name: str) -> tuple[Any, Any]:
    best: tuple[Any, Any] = (None, None)
    for c in copies:
        ts = c.get(ts_name)
        if ts is not None and wins(ts, c.get("_src") or "", best[0], best[1] if best[1] is not None else ""):
            best = (ts, c.get("_src") or "")
    return best


def _merge_vertex(copies: list[dict[str, Any]]) -> dict[str, Any]:
    """The properties one vertex gets from its copies (the first copy is the kept one)."""
    key = copies[0].get("_key")
    out = _merge_common(copies, user=lambda n: not n.startswith("_") and n != key,
                        managed={"_ts", "_src", "_key", key})
    out["_key"] = key
    out[key] = copies[0].get(key)
    ts, src = _newest(copies, "_ts")
    if ts is not None:
        out["_ts"], out["_src"] = ts, src
    return out


def _eids(props: Mapping[str, Any]) -> list[str]:
    try:
        found = json.loads(props.get("_eids") or "[]")
    except (TypeError, ValueError):
        return []
    return [str(x) for x in found] if isinstance(found, list) else []


def _merge_edge(copies: list[dict[str, Any]]) -> dict[str, Any]:
    """The properties one edge gets from its copies; see the module docstring for ``count``.

    >>> a = {"count": 2, "_eids": '["e1", "e2"]', "first_seen": 1, "last_seen": 2, "_src": "s"}
    >>> b = {"count": 2, "_eids": '["e2", "e3"]', "first_seen": 2, "last_seen": 3, "_src": "s"}
    >>> m = _merge_edge([a, b])
    >>> m["count"], m["_eids"], m["first_seen"], m["last_seen"]
    (3, '["e1", "e2", "e3"]', 1, 3)
    >>> _merge_edge([dict(a, count=300), dict(b, count=10)])["count"]  # 300 + 10 - 1 seen twice
    309
    """
    out = _merge_common(copies, user=lambda n: not n.startswith("_") and n not in EDGE_RESERVED,
                        managed={"_src", "_eids", *EDGE_RESERVED})
    windows = [_eids(c) for c in copies]
    ordered = sorted(range(len(copies)), key=lambda i: (
        copies[i].get("last_seen") if copies[i].get("last_seen") is not None else -(2**63),
        str(copies[i].get("_src") or ""), json.dumps(windows[i])))
    merged: dict[str, None] = {}
    for i in ordered:  # oldest copy first; an id seen again moves to its newest place
        for eid in windows[i]:
            merged.pop(eid, None)
            merged[eid] = None
    union = list(merged)
    counts = [max(int(c.get("count") or 0), len(w)) for c, w in zip(copies, windows, strict=True)]
    out["count"] = max(len(union), sum(counts) - (sum(len(w) for w in windows) - len(union)))
    out["_eids"] = json.dumps(union[-EVENT_ID_WINDOW:])
    firsts = [c["first_seen"] for c in copies if c.get("first_seen") is not None]
    if firsts:
        out["first_seen"] = min(firsts)
    last, src = _newest(copies, "last_seen")
    if last is not None:
        out["last_seen"], out["_src"] = last, src
    elif any(c.get("_src") is not None for c in copies):
        out["_src"] = next(c["_src"] for c in copies if c.get("_src") is not None)
    return out


def _changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in new.items() if v is not None and old.get(k) != v}


# -- what to write -------------------------------------------------------------------------------
@dataclass
class _SetVertex:
    id: Any
    props: dict[str, Any]


@dataclass
class _SetEdge:
    id: Any
    label: str
    from_id: Any
    props: dict[str, Any]


@dataclass
class _AddEdge:
    label: str
    from_id: Any
    to_id: Any
    props: dict[str, Any]


@dataclass
class _DropEdges:
    from_id: Any
    """The edges' out-vertex: JanusGraph finds each among its edges (``E()`` only starts traversals)."""
    label: str
    ids: list[Any]


@dataclass
class _DropVertices:
    ids: list[Any]


_Op = _SetVertex | _SetEdge | _AddEdge | _DropEdges | _DropVertices


def _vertex_merges(snap: _Snapshot) -> tuple[list[list[list[_Op]]], list[dict[str, Any]], int]:
    """Per duplicated vertex identity: its atomic units of ops; the report entries; edges moved."""
    groups = _groups(snap.vertices, lambda v: v.ident)
    kept = {v.id: copies[0].id for copies in groups.values() for v in copies[1:]}
    touching: dict[Any, list[_E]] = {}
    for e in snap.edges:
        for end in {e.from_id, e.to_id}:
            if end in kept:
                touching.setdefault(end, []).append(e)
    moved: set[str] = set()
    plans, entries, total = [], [], 0
    for (label, value), copies in groups.items():
        keep = copies[0]
        changes = _changes(keep.props, _merge_vertex([keep.props] + [c.props for c in copies[1:]]))
        moves: list[tuple[_AddEdge, _E]] = []
        for c in copies[1:]:
            for e in touching.get(c.id, []):
                if str(e.id) in moved:
                    continue
                moved.add(str(e.id))
                moves.append((_AddEdge(e.label, kept.get(e.from_id, e.from_id), kept.get(e.to_id, e.to_id),
                                       dict(e.props)), e))
        # Atomic units: each re-creates some edges and drops the originals in the same request,
        # the last one drops the copies; a unit lost to a crash leaves nothing half done.
        units: list[list[_Op]] = [[_SetVertex(keep.id, changes)] if changes else []]
        for n, part in enumerate(chunks(moves, _MOVES_PER_REQUEST)):
            unit = units[0] if n == 0 else []
            unit.extend(add for add, _ in part)
            unit.extend(_DropEdges(e.from_id, e.label, [e.id]) for _, e in part)
            if n:
                units.append(unit)
        units[-1].append(_DropVertices([c.id for c in copies[1:]]))
        plans.append(units)
        total += len(moves)
        entries.append({"kind": "vertex", "label": label, "key": keep.props.get("_key"), "value": value,
                        "kept": _text_id(keep.id), "dropped": [_text_id(c.id) for c in copies[1:]],
                        "edges_moved": len(moves), "changed": changes})
    return plans, entries, total


def _edge_merges(snap: _Snapshot) -> tuple[list[list[list[_Op]]], list[dict[str, Any]], int]:
    """Per duplicated edge identity: one atomic unit; the report entries; edges dropped."""
    plans, entries, dropped = [], [], 0
    for (label, a, b), copies in _groups(snap.edges, lambda e: e.ident).items():
        keep = copies[0]
        changes = _changes(keep.props, _merge_edge([c.props for c in copies]))
        unit: list[_Op] = [_SetEdge(keep.id, label, keep.from_id, changes)] if changes else []
        by_from: dict[Any, list[Any]] = {}
        for c in copies[1:]:
            by_from.setdefault(c.from_id, []).append(c.id)
        unit.extend(_DropEdges(f, label, ids) for f, ids in by_from.items())
        plans.append([unit])
        dropped += len(copies) - 1
        entries.append({"kind": "edge", "label": label, "from": list(a), "to": list(b), "kept": _text_id(keep.id),
                        "dropped": [_text_id(c.id) for c in copies[1:]], "changed": changes})
    return plans, entries, dropped


# -- writing -------------------------------------------------------------------------------------
def _wire(value: Any, janus: bool) -> Any:
    """Integers as Long on JanusGraph, as the write path sends them (no Integer keys by accident)."""
    if janus and isinstance(value, int) and not isinstance(value, bool):
        from gremlin_python.statics import long

        return long(value)
    return value


def _props(t: Any, props: Mapping[str, Any], janus: bool) -> Any:
    for k, v in props.items():
        t = t.property(k, _wire(v, janus))
    return t


def _add_edge(t: Any, op: _AddEdge, janus: bool) -> Any:
    return _props(t.V(_wire(op.from_id, janus)).as_("rdg_from").V(_wire(op.to_id, janus))
                  .add_e(op.label).from_("rdg_from"), op.props, janus)


def _run_janus(graph: Graph, unit: list[_Op]) -> None:
    """One unit as one bytecode traversal: JanusGraph runs a request in one transaction."""
    anchor = next((op.id for op in unit if isinstance(op, _SetVertex)), None)
    if anchor is None:
        anchor = next(op.ids[0] if isinstance(op, _DropVertices) else op.from_id for op in unit)
    t = graph.g.V(_wire(anchor, True))
    for op in unit:
        if isinstance(op, _SetVertex):
            t = t.side_effect(_props(__.V(_wire(op.id, True)), op.props, True))
        elif isinstance(op, _SetEdge):
            t = t.side_effect(_props(__.V(_wire(op.from_id, True)).out_e(op.label).has_id(op.id), op.props, True))
        elif isinstance(op, _AddEdge):
            t = t.side_effect(_add_edge(__, op, True))
        elif isinstance(op, _DropEdges):  # one id per lookup: JanusGraph's vertex-centric hasId takes one
            for eid in op.ids:
                t = t.side_effect(__.V(_wire(op.from_id, True)).out_e(op.label).has_id(eid).drop())
        else:
            t = t.side_effect(__.V(*(_wire(i, True) for i in op.ids)).drop())
    if not t.id_().to_list():
        raise ConflictError(f"vertex {_text_id(anchor)} vanished during the repair",
                            hint="a writer is changing these labels: stop it, then run `rdg graph repair` again")


def _run_embedded(src: Any, unit: list[_Op]) -> None:
    for op in unit:
        if isinstance(op, _SetVertex):
            _props(src.V(op.id), op.props, False).iterate()
        elif isinstance(op, _SetEdge):
            _props(src.E(op.id), op.props, False).iterate()
        elif isinstance(op, _AddEdge):
            _add_edge(src, op, False).iterate()
        elif isinstance(op, _DropEdges):
            src.E(*op.ids).drop().iterate()
        else:
            src.V(*op.ids).drop().iterate()


@contextmanager
def _transaction(graph: Graph) -> Iterator[Any]:
    """The embedded graph's own transaction (one SQLite transaction: every traversal through
    ``graph.g`` inside it commits with the rest, or not at all)."""
    backend = graph._backend
    backend.begin()
    try:
        yield graph.g
    except BaseException:
        backend.rollback()
        raise
    backend.commit()


def _apply(graph: Graph, plans: list[list[list[_Op]]]) -> None:
    janus = graph.backend == "janusgraph"
    try:
        for units in plans:
            if janus:
                for unit in units:
                    if unit:
                        _run_janus(graph, unit)
            else:  # a whole merge in one SQLite transaction
                with _transaction(graph) as src:
                    for unit in units:
                        _run_embedded(src, unit)
    except Exception as err:  # noqa: BLE001
        raise _wrap(err, "repair write", graph.backend) from err


# -- repair --------------------------------------------------------------------------------------
def repair(graph: Graph, *, labels: Sequence[str] | None = None, dry_run: bool = False) -> RepairReport:
    """Merge duplicate vertices, then duplicate edges, as the module docstring describes.

    Args:
        graph: The graph to repair.
        labels: Only vertices of these labels and the edges touching them (default: everything).
        dry_run: Only report what would be merged; change nothing.

    Returns:
        What was merged (or would be), with one entry per merged identity, and what was left
        (unkeyed vertices, dangling edges).

    Raises:
        ServerError: The graph could not be read or written; merges done so far stay done.
        ConflictError: A vertex being merged vanished (a writer is busy); run it again later.
        ConfigError: A label is not a valid name.

    >>> import os, tempfile
    >>> from rdg.graph import connect
    >>> graph = connect(os.path.join(tempfile.mkdtemp(), "g.sqlite"))
    >>> for tier, ts in (("gold", 5), ("free", 3)):  # two racing writers each created m1
    ...     _ = graph.query("g.addV('member').property('member_id', 'm1').property('_key', 'member_id')"
    ...                     ".property('tier', t).property('_ts_tier', ts)", {"t": tier, "ts": ts}, write=True)
    >>> done = repair(graph)
    >>> done.vertices_merged, done.vertices_dropped
    (1, 1)
    >>> graph.g.V().has("member", "member_id", "m1").values("tier").to_list()
    ['gold']
    >>> repair(graph).changed, check(graph).clean
    (False, True)
    >>> graph.close()
    """
    chosen = _labels(labels)
    snap = _read(graph, chosen)
    vplans, ventries, moved = _vertex_merges(snap)
    if not dry_run and vplans:
        _apply(graph, vplans)
        snap = _read(graph, chosen)  # the moved edges, by id; a dry run groups the same edges by identity
    eplans, eentries, edropped = _edge_merges(snap)
    if not dry_run and eplans:
        _apply(graph, eplans)
    return RepairReport(
        dry_run=dry_run, vertices_merged=len(ventries), vertices_dropped=sum(len(e["dropped"]) for e in ventries),
        edges_moved=moved, edges_merged=len(eentries), edges_dropped=edropped,
        unkeyed_vertices=sum(1 for v in snap.vertices if v.ident is None),
        dangling_edges=sum(1 for e in snap.edges if e.ident is None),
        labels=chosen, merges=ventries + eentries)
