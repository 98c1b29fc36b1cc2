"""The embedded graph: a SQLite file run by ``gremlite`` (gremlinpython bytecode, no server).

Each upsert batch is one SQLite transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``) covering both
the read of the current state and the writes, so concurrent writers in other processes cannot
interleave. The model from ``init_schema`` is recorded in a side table; there are no indexes to
create (gremlite indexes every property value).
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from gremlin_python.process.anonymous_traversal import traversal
from gremlin_python.process.graph_traversal import __
from gremlin_python.process.traversal import P

from rdg.errors import ConflictError, RdgError, RdgTimeoutError, RetryableError, ServerError, StorageError
from rdg.graph._dump import build_dump, flat
from rdg.graph._embedded_guard import JANUSGRAPH, EmbeddedUnsupportedError, GuardedConnection
from rdg.graph._model import GraphModel
from rdg.graph._plan import Coalesced, EdgeState, Plan, VertexState, chunks
from rdg.graph._schema import desired

__all__ = ["EmbeddedBackend", "EmbeddedUnsupportedError"]

_WITHIN = 400  # values per has(..., within(...)) lookup: SQLite's parameter limit is far above


_STORAGE_FAULTS = ("disk i/o error", "malformed", "readonly database", "unable to open database", "disk is full",
                   "not a database")


def _wrap(err: Exception, what: str) -> RdgError:
    name = type(err).__name__
    if isinstance(err, sqlite3.OperationalError) and "locked" in str(err):
        return RetryableError(f"embedded graph busy during {what}: {err}",
                              hint="another process holds the write lock; it is retried")
    if isinstance(err, sqlite3.DatabaseError) and any(f in str(err).lower() for f in _STORAGE_FAULTS):
        return StorageError(f"the embedded graph's file failed during {what}: {err}",
                            hint="check the disk (space, permissions, health); `rdg graph check` reads the graph")
    if name in ("UnknownStep",):
        return EmbeddedUnsupportedError(f"the embedded graph does not support the step {err}() ({what})",
                                        hint=f"use {JANUSGRAPH} or rewrite the query without it")
    if name in ("BadStepArgs", "BadStepCombination", "UnsupportedUsage"):
        return EmbeddedUnsupportedError(f"the embedded graph cannot run this ({what}): {err}",
                                        hint="see docs/graph.md for the supported Gremlin subset")
    return ServerError(f"embedded graph failed during {what}: {name}: {err}")


def _refuse_if_damaged(con: sqlite3.Connection, path: Path) -> None:
    """Run SQLite's quick check (linear in the file's size) and refuse a damaged file: writing
    into it would spread the damage, and reads from it may be wrong."""
    try:
        found = [str(row[0]) for row in con.execute("PRAGMA quick_check(5)")]
    except sqlite3.DatabaseError as err:
        found = [str(err)]
    if found != ["ok"]:
        raise GraphDamagedError(f"the embedded graph at {path} is damaged or not a graph file; "
                                "rdg will not read or write it "
                                f"(SQLite quick_check: {' '.join(found).replace(chr(10), '; ')[:300]})",
                                hint="restore the file from a backup, or move it aside and rebuild the graph "
                                     "with `rdg run` from the sources")


class GraphDamagedError(StorageError):
    """The embedded graph's file failed SQLite's integrity check."""


class EmbeddedBackend:
    """gremlite over one SQLite file."""

    name = "embedded"
    default_batch_size = 1000
    parallel = 1
    """One writer at a time: SQLite serialises writes anyway."""
    read_requests = 1

    def __init__(self, path: str | Path) -> None:
        from gremlite import SQLiteConnection

        self.path = Path(path)
        if self.path.is_file():
            check = sqlite3.connect(str(self.path), timeout=30.0)
            try:
                _refuse_if_damaged(check, self.path)
            finally:
                check.close()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._remote = SQLiteConnection(str(self.path), timeout=30.0)
        except Exception as err:  # noqa: BLE001 - sqlite3 or gremlite.BadDatabase
            raise ServerError(f"cannot open the embedded graph at {self.path}: {err}",
                              hint="check the path, or that the file is an rdg graph (gremlite SQLite)") from err
        con = self._remote.con
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute("CREATE TABLE IF NOT EXISTS rdg_schema (name TEXT PRIMARY KEY, kind TEXT, spec TEXT)")
        con.commit()
        self.g = traversal().with_remote(GuardedConnection(self._remote))
        """Every traversal is checked first (:mod:`rdg.graph._embedded_guard`): a step gremlite
        would answer wrongly is refused by name instead."""

    # -- unit of work -------------------------------------------------------------------------
    def begin(self) -> None:
        try:
            if not self._remote.con.in_transaction:
                self._remote.con.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as err:
            raise _wrap(err, "begin") from err

    def commit(self) -> None:
        self._remote.con.commit()

    def rollback(self) -> None:
        self._remote.con.rollback()

    # -- writes ---------------------------------------------------------------------------------
    def read_state(self, co: Coalesced) -> tuple[dict[tuple[str, Any], VertexState], dict[Any, EdgeState]]:
        g = self.g
        try:
            groups: dict[tuple[str, str], list[Any]] = {}
            for v in co.vertices.values():
                groups.setdefault((v.label, v.key), []).append(v.key_value)
            vertices: dict[tuple[str, Any], VertexState] = {}
            by_id: dict[Any, tuple[str, Any]] = {}
            for (label, key), values in groups.items():
                for part in chunks(values, _WITHIN):
                    rows = (g.V().has(label, key, P.within(list(part)))
                            .project("id", "p").by(__.id_()).by(__.value_map()).to_list())
                    for row in rows:
                        props = flat(row["p"])
                        ident = (label, props.get(key))
                        vertices[ident] = VertexState(row["id"], props)
                        by_id[row["id"]] = ident
            edges: dict[Any, EdgeState] = {}
            wanted: dict[str, dict[tuple[Any, Any], Any]] = {}  # label -> (from id, to id) -> identity
            for e in co.edges.values():
                f = vertices.get((e.from_vertex[0], e.from_vertex[2]))
                t = vertices.get((e.to_vertex[0], e.to_vertex[2]))
                if f is not None and t is not None:
                    wanted.setdefault(e.label, {})[(f.id, t.id)] = e.identity
            con = self._remote.con
            found: dict[Any, Any] = {}  # edge id -> identity
            taken: set[Any] = set()
            for label, pairs in wanted.items():
                # Find the edge ids straight from gremlite's quads table (an edge is the quad
                # (+from id, -label id, +to id, -edge id)): walking every out-edge of a busy
                # vertex through project() costs ~1 ms per edge.
                row = con.execute("SELECT id FROM strings WHERE v = ?", (label,)).fetchone()
                if row is None:
                    continue
                for part in chunks(sorted({f for f, _ in pairs}), _WITHIN):
                    marks = ",".join("?" * len(part))
                    for s_, o_, g_ in con.execute(f"SELECT s, o, g FROM quads WHERE p = ? AND s IN ({marks})",
                                                  (-row[0], *part)):
                        ident = pairs.get((s_, o_))
                        if ident is not None and ident not in taken:
                            taken.add(ident)
                            found[-g_] = ident
            for part in chunks(list(found), _WITHIN):
                for r in g.E(*part).project("e", "p").by(__.id_()).by(__.value_map()).to_list():
                    edges[found[r["e"]]] = EdgeState(flat(r["p"]), r["e"])
            return vertices, edges
        except RdgError:
            raise
        except Exception as err:  # noqa: BLE001
            raise _wrap(err, "read") from err

    def apply(self, ops: Plan) -> int:
        g = self.g
        try:
            ids: dict[str, Any] = {}
            for nv in ops.new_vertices:
                t = g.add_v(nv.label)
                for k, v in nv.props.items():
                    t = t.property(k, v)
                ids[nv.ref] = t.id_().next()
            for sv in ops.set_vertices:
                t = g.V(sv.id)
                for k, v in sv.props.items():
                    t = t.property(k, v)
                t.iterate()
            for ne in ops.new_edges:
                a = ids[ne.from_end[1]] if ne.from_end[0] == "ref" else ne.from_end[1]
                b = ids[ne.to_end[1]] if ne.to_end[0] == "ref" else ne.to_end[1]
                t = g.V(a).as_("a").V(b).as_("b").add_e(ne.label).from_("a").to("b")
                for k, v in ne.props.items():
                    t = t.property(k, v)
                t.iterate()
            for se in ops.set_edges:
                t = g.E(se.edge_id)
                for k, v in se.props.items():
                    t = t.property(k, v)
                t.iterate()
            return 0  # same transaction as the read: no extra request
        except RdgError:
            raise
        except Exception as err:  # noqa: BLE001
            raise _wrap(err, "write") from err

    # -- reads ------------------------------------------------------------------------------------
    def run_query(self, text: str, bindings: dict[str, Any] | None, *, write: bool = False,
                  timeout_s: float | None = None, max_results: int | None = None) -> list[Any]:
        from rdg.graph._text import parse, parse_read_only

        traversal_ = (parse if write else parse_read_only)(text, self.g, bindings or {})
        if max_results is not None:
            traversal_ = traversal_.limit(max_results + 1)
        con = self._remote.con
        if timeout_s:  # SQLite calls this every 10,000 VM steps; non-zero interrupts the statement
            deadline = time.monotonic() + timeout_s
            con.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            out = traversal_.to_list()
            if con.in_transaction:  # a query that writes (addV, property, drop)
                con.commit()
            return out
        except RdgError:
            raise
        except Exception as err:  # noqa: BLE001
            con.rollback()
            if timeout_s and isinstance(err, sqlite3.OperationalError) and "interrupted" in str(err):
                raise RdgTimeoutError(f"the query took longer than {timeout_s:g} s and was stopped",
                                      hint="narrow it (has(), limit()), or raise --timeout / query_timeout") from err
            raise _wrap(err, "query") from err
        finally:
            con.set_progress_handler(None, 0)

    def storage_problems(self) -> list[str] | None:
        """SQLite's full ``integrity_check`` (indexes against their tables too): ``[]`` when sound."""
        rows = [str(row[0]) for row in self._remote.con.execute("PRAGMA integrity_check(20)")]
        return [] if rows == ["ok"] else rows

    def dump(self, labels: list[str] | None = None) -> dict[str, Any]:
        g = self.g
        vs = [(r["id"], r["l"], flat(r["p"])) for r in
              (g.V().has_label(*labels) if labels else g.V()).project("id", "l", "p").by(__.id_()).by(__.label()).by(__.value_map()).to_list()]
        es = [(r["l"], r["f"], r["t"], flat(r["p"])) for r in
              (g.V().has_label(*labels).out_e() if labels else g.E()).project("l", "f", "t", "p").by(__.label()).by(__.out_v().id_()).by(__.in_v().id_())
              .by(__.value_map()).to_list()]
        return build_dump(vs, es)

    # -- schema -----------------------------------------------------------------------------------
    def _recorded(self) -> dict[str, tuple[str, Any]]:
        rows = self._remote.con.execute("SELECT name, kind, spec FROM rdg_schema").fetchall()
        return {name: (kind, json.loads(spec)) for name, kind, spec in rows}

    def init_schema(self, model: GraphModel) -> list[str]:
        want = desired(model)
        have = self._recorded()
        items: dict[str, tuple[str, Any]] = {}
        for name, kind in want.properties.items():
            items[f"property:{name}"] = ("property", kind)
        for label in want.vertex_labels:
            items[f"vertex:{label}"] = ("vertex", label)
        for label, conns in want.edge_labels.items():
            items[f"edge:{label}"] = ("edge", [list(c) for c in conns])
        for name, (label, key) in want.indexes.items():
            items[f"index:{name}"] = ("index", [label, key])
        for name, (kind, spec) in items.items():
            old = have.get(name)
            if old is not None and old[0] == "property" and old[1] != spec:
                raise ConflictError(f"{name.split(':', 1)[1]!r} is already a {old[1]} property; the model says {spec}",
                                    hint="property types cannot change; use a new property name")
        changed = []
        con = self._remote.con
        for name, (kind, spec) in items.items():
            old = have.get(name)
            if old is None:
                changed.append(f"create {name}")
            elif kind == "edge" and old[1] != spec:
                spec = sorted({tuple(c) for c in old[1]} | {tuple(c) for c in spec})
                spec = [list(c) for c in spec]
                if spec == old[1]:
                    continue
                changed.append(f"connect {name}")
            else:
                continue
            con.execute("INSERT OR REPLACE INTO rdg_schema VALUES (?, ?, ?)", (name, kind, json.dumps(spec)))
        con.commit()
        return changed

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"backend": "embedded", "properties": {}, "vertex_labels": [],
                               "edge_labels": {}, "indexes": {}}
        for name, (kind, spec) in sorted(self._recorded().items()):
            short = name.split(":", 1)[1]
            if kind == "property":
                out["properties"][short] = spec
            elif kind == "vertex":
                out["vertex_labels"].append(short)
            elif kind == "edge":
                out["edge_labels"][short] = spec
            elif kind == "index":
                out["indexes"][short] = spec
        return out

    def expire(self, model: GraphModel, now_ms: int) -> dict[str, int]:
        g = self.g
        dropped: dict[str, int] = {}
        self.begin()
        try:
            # edges first, then vertices; each kind has its own "last written" property
            kinds = ((g.E, model.edges, "last_seen"), (g.V, model.vertices, "_ts"))
            for start, labels, stamp in kinds:
                for item in labels:
                    if not item.ttl_seconds:
                        continue
                    cutoff = now_ms - item.ttl_seconds * 1000
                    rows = start().has_label(item.label).project("id", "t").by(__.id_()).by(__.values(stamp)).to_list()
                    old = [r["id"] for r in rows if r["t"] < cutoff]
                    for part in chunks(old, _WITHIN):
                        start(*part).drop().iterate()
                    dropped[item.label] = len(old)
            self.commit()
        except Exception:
            self.rollback()
            raise
        return dropped

    def close(self) -> None:
        self._remote.close()
