"""Canned questions over the graph model, as bytecode traversals both backends answer the same.

Each question walks the graph one hop per request (``g.V(ids).outE()/inE()`` with the far
vertex projected), then orders, filters and limits in Python, so the embedded graph and
JanusGraph give identical answers. Vertices are named ``label:key`` (e.g. ``device:d1``).

>>> import tempfile, os
>>> from rdg.graph import connect, EdgeWrite
>>> graph = connect(os.path.join(tempfile.mkdtemp(), "g.sqlite"))
>>> _ = graph.upsert([
...     EdgeWrite("has_profile", ("account", "account_id", "a1"), ("profile", "profile_id", "p1"), ts=1, event_id="x"),
...     EdgeWrite("used", ("profile", "profile_id", "p1"), ("device", "device_id", "d1"), ts=5, event_id="y"),
...     EdgeWrite("watched", ("profile", "profile_id", "p1"), ("title", "title_id", "t1"),
...               {"device_id": "d1"}, ts=7, event_id="z")])
>>> [(s.at, s.actor, s.action, s.target) for s in journey(graph, "a1")]
[(1, 'account:a1', 'has_profile', 'profile:p1'), (5, 'profile:p1', 'used', 'device:d1'), (7, 'profile:p1', 'watched', 'title:t1')]
>>> [(n.hop, n.vertex) for n in neighbors(graph, "device", "d1", hops=2, lookback_s=None)]
[(1, 'profile:p1'), (2, 'account:a1'), (2, 'title:t1')]
>>> path(graph, ("account", "a1"), ("title", "t1")).vertices
['account:a1', 'profile:p1', 'title:t1']
>>> graph.close()
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from gremlin_python.process.graph_traversal import __

from rdg.errors import NotFoundError, RdgError
from rdg.graph._dump import flat, vertex_ref
from rdg.spec import did_you_mean

if TYPE_CHECKING:  # pragma: no cover
    from rdg.graph._handle import Graph

__all__ = ["JourneyStep", "Neighbor", "Path", "journey", "neighbors", "path", "resolve"]

DEFAULT_EDGE_LIMIT = 50
"""Edges followed per vertex per hop in :func:`neighbors` (most recent first)."""
DEFAULT_LOOKBACK_S = 90 * 24 * 3600
"""Only edges seen within this many seconds count as neighbors by default (90 days)."""
_CHUNK = 500
_MAX_FRONTIER = 20_000


@dataclass(frozen=True)
class JourneyStep:
    """One thing a member's account or profile did: an edge, with when and how often."""

    at: int
    """``last_seen`` of the edge (epoch ms)."""
    actor: str
    action: str
    target: str
    first_seen: int
    count: int
    properties: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"at": self.at, "actor": self.actor, "action": self.action, "target": self.target,
                "first_seen": self.first_seen, "count": self.count, "properties": self.properties}


@dataclass(frozen=True)
class Neighbor:
    """A vertex near the start, the hop it was found at, and the edge that reached it."""

    hop: int
    vertex: str
    via: str
    """The edge, e.g. ``profile:p1 -used-> device:d1``."""
    last_seen: int
    count: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"hop": self.hop, "vertex": self.vertex, "via": self.via, "last_seen": self.last_seen,
                "count": self.count}


@dataclass(frozen=True)
class Path:
    """A shortest path: the vertices and the edge labels between them (``->``/``<-`` gives direction)."""

    vertices: list[str]
    edges: list[str]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"vertices": self.vertices, "edges": self.edges, "hops": len(self.edges)}

    def __str__(self) -> str:
        parts = [self.vertices[0]]
        for edge, vertex in zip(self.edges, self.vertices[1:]):
            parts.append(edge)
            parts.append(vertex)
        return " ".join(parts)


def _name(label: str, props: dict[str, Any]) -> str:
    ref = vertex_ref(label, props)
    return f"{ref[0]}:{ref[1]}"


def _user_props(props: dict[str, Any]) -> dict[str, Any]:
    skip = {"first_seen", "last_seen", "count"}
    return {k: v for k, v in props.items() if not k.startswith("_") and k not in skip}


def _labels(graph: "Graph") -> dict[str, str]:
    """Known vertex labels -> key property, from the schema and, failing that, from the data."""
    found: dict[str, str] = {}
    try:
        schema = graph.schema()
        for _, lk in (schema.get("indexes") or {}).items():
            pair = lk.get("keys") if isinstance(lk, dict) else lk
            only = lk.get("only") if isinstance(lk, dict) else pair[0]
            if isinstance(lk, dict) and only and pair:
                found[only] = pair[0]
            elif not isinstance(lk, dict) and len(pair) == 2:
                found[pair[0]] = pair[1]
    except RdgError:
        pass
    return found


def resolve(graph: "Graph", label: str, key_value: Any) -> tuple[Any, str]:
    """The backend id and ``label:key`` name of a vertex.

    Raises:
        NotFoundError: No such label (with a did-you-mean) or no vertex with that key.
    """
    keys = _labels(graph)
    key = keys.get(label)
    if key is None:
        sample = graph.g.V().has_label(label).limit(1).values("_key").to_list()
        if not sample:
            known = set(keys) or set(graph.g.V().limit(10_000).label().to_list())
            hint = did_you_mean(label, known) or (f"known labels: {', '.join(sorted(known))}" if known else
                                                  "the graph has no schema yet: run `rdg graph init`")
            raise NotFoundError(f"unknown vertex label {label!r}", hint=hint)
        key = sample[0]
    ids = graph.g.V().has(label, key, key_value).id_().to_list()
    if not ids and isinstance(key_value, str) and key_value.lstrip("-").isdigit():
        ids = graph.g.V().has(label, key, int(key_value)).id_().to_list()
    if not ids:
        raise NotFoundError(f"no {label} with {key}={key_value!r}",
                            hint=f"check the id; `rdg query \"g.V().hasLabel('{label}').limit(5).valueMap()\"` lists some")
    return ids[0], f"{label}:{key_value}"


def _expand(graph: "Graph", ids: Iterable[Any], direction: str) -> list[dict[str, Any]]:
    """Every edge out of (``out``) or into (``in``) the given vertices, with the far vertex."""
    rows: list[dict[str, Any]] = []
    ids = list(ids)
    here, there = (__.out_v, __.in_v) if direction == "out" else (__.in_v, __.out_v)
    step = "out_e" if direction == "out" else "in_e"
    for start in range(0, len(ids), _CHUNK):
        part = ids[start:start + _CHUNK]
        t = getattr(graph.g.V(*part), step)()
        rows.extend(t.project("h", "l", "p", "o", "ol", "op").by(here().id_()).by(__.label()).by(__.value_map())
                    .by(there().id_()).by(there().label()).by(there().value_map()).to_list())
    for row in rows:
        row["p"] = flat(row["p"])
        row["op"] = flat(row["op"])
        row["dir"] = direction
    return rows


def journey(graph: "Graph", member_id: Any, *, label: str = "account", since: int | None = None,
            limit: int = 100, depth: int = 2) -> list[JourneyStep]:
    """A member's path across profiles, devices and verticals, oldest first.

    Walks ``depth`` hops out of the member's vertex (account -> profiles -> what each profile
    used, watched, played...) and lists every edge as a step.

    Args:
        graph: A connected graph.
        member_id: Key value of the member's vertex.
        label: The member's vertex label (default ``account``).
        since: Only steps whose ``last_seen`` is at or after this (epoch ms).
        limit: The most recent ``limit`` steps are returned (still oldest first).
        depth: Hops to walk out of the member (default 2).

    Raises:
        NotFoundError: Unknown label or member.
    """
    if limit < 1 or depth < 1:
        raise RdgError("limit and depth must be at least 1")
    start, start_name = resolve(graph, label, member_id)
    steps: list[JourneyStep] = []
    names = {start: start_name}
    frontier, seen = [start], {start}
    for _ in range(depth):
        nxt = []
        for r in _expand(graph, frontier, "out"):
            names.setdefault(r["o"], _name(r["ol"], r["op"]))
            p = r["p"]
            last = p.get("last_seen", 0)
            if since is None or last >= since:
                steps.append(JourneyStep(last, names[r["h"]], r["l"], names[r["o"]],
                                         p.get("first_seen", last), p.get("count", 1), _user_props(p)))
            if r["o"] not in seen:
                seen.add(r["o"])
                nxt.append(r["o"])
        frontier = nxt
        if not frontier:
            break
    steps.sort(key=lambda s: (s.at, s.actor, s.action, s.target))
    return steps[-limit:]


def neighbors(graph: "Graph", label: str, key_value: Any, *, hops: int = 1, edge_limit: int = DEFAULT_EDGE_LIMIT,
              lookback_s: int | None = DEFAULT_LOOKBACK_S, now_ms: int | None = None) -> list[Neighbor]:
    """Vertices within ``hops`` of one vertex, following edges in both directions.

    Args:
        graph: A connected graph.
        label: The start vertex's label.
        key_value: The start vertex's key value.
        hops: How far to walk (default 1).
        edge_limit: Per vertex and hop, follow only the ``edge_limit`` most recently seen edges.
        lookback_s: Ignore edges not seen in this many seconds (``None``: no window).
        now_ms: "Now" for the lookback window (default: the clock).

    Raises:
        NotFoundError: Unknown label or vertex.
    """
    if hops < 1 or edge_limit < 1:
        raise RdgError("hops and edge-limit must be at least 1")
    start, start_name = resolve(graph, label, key_value)
    cutoff = None
    if lookback_s is not None:
        cutoff = (int(time.time() * 1000) if now_ms is None else now_ms) - lookback_s * 1000
    found: list[Neighbor] = []
    seen = {start}
    names = {start: start_name}
    frontier = [start]
    for hop in range(1, hops + 1):
        rows = _expand(graph, frontier, "out") + _expand(graph, frontier, "in")
        per_vertex: dict[Any, list[dict[str, Any]]] = {}
        for r in rows:
            if cutoff is not None and r["p"].get("last_seen", 0) < cutoff:
                continue
            r["oname"] = _name(r["ol"], r["op"])
            per_vertex.setdefault(r["h"], []).append(r)
        nxt = []
        for vid in sorted(per_vertex, key=lambda v: names.get(v, "")):
            edges = sorted(per_vertex[vid], key=lambda r: (-r["p"].get("last_seen", 0), r["oname"], r["l"]))
            for r in edges[:edge_limit]:
                if r["o"] in seen:
                    continue
                seen.add(r["o"])
                names[r["o"]] = r["oname"]
                arrow = f"-{r['l']}->" if r["dir"] == "out" else f"<-{r['l']}-"
                found.append(Neighbor(hop, r["oname"], f"{names[vid]} {arrow} {r['oname']}",
                                      r["p"].get("last_seen", 0), r["p"].get("count", 1)))
                nxt.append(r["o"])
        frontier = nxt
        if not frontier:
            break
        if len(frontier) > _MAX_FRONTIER:
            raise RdgError(f"neighbors: {len(frontier)} vertices at hop {hop}; too many to expand",
                           hint="lower --hops or --edge-limit")
    found.sort(key=lambda n: (n.hop, n.vertex))
    return found


def path(graph: "Graph", start: tuple[str, Any], end: tuple[str, Any], *, max_hops: int = 4) -> Path:
    """A shortest path between two vertices, edges followed in both directions.

    Among several shortest paths the one whose vertex names sort first is returned, so both
    backends agree.

    Raises:
        NotFoundError: A vertex does not exist, or no path within ``max_hops``.
    """
    if max_hops < 1:
        raise RdgError("max-hops must be at least 1")
    a, a_name = resolve(graph, *start)
    b, b_name = resolve(graph, *end)
    if a == b:
        return Path([a_name], [])
    names = {a: a_name, b: b_name}
    best: dict[Any, tuple[list[str], list[str], list[Any]]] = {a: ([a_name], [], [a])}
    frontier = [a]
    for _hop in range(max_hops):
        rows = _expand(graph, frontier, "out") + _expand(graph, frontier, "in")
        layer: dict[Any, tuple[list[str], list[str], list[Any]]] = {}
        for r in rows:
            if r["o"] in best:
                continue
            names.setdefault(r["o"], _name(r["ol"], r["op"]))
            prev = best[r["h"]]
            arrow = f"-{r['l']}->" if r["dir"] == "out" else f"<-{r['l']}-"
            cand = (prev[0] + [names[r["o"]]], prev[1] + [arrow], prev[2] + [r["o"]])
            old = layer.get(r["o"])
            if old is None or (cand[0], cand[1]) < (old[0], old[1]):
                layer[r["o"]] = cand
        if b in layer:
            return Path(layer[b][0], layer[b][1])
        best.update(layer)
        frontier = list(layer)
        if not frontier:
            break
        if len(frontier) > _MAX_FRONTIER:
            raise RdgError(f"path: {len(frontier)} vertices to expand; the graph is too dense for this search",
                           hint="lower --max-hops")
    raise NotFoundError(f"no path from {a_name} to {b_name} within {max_hops} hops",
                        hint="raise --max-hops, or check both vertices are connected")
