"""The embedded graph as a :class:`~rdg.graph.Graph` backend: one SQLite file, rdg's own
Gremlin machine for queries, and SQL straight to the rows for the pipeline's upserts.

Each upsert batch is one SQLite transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``) covering both
the read of the current state and the writes, so concurrent writers in other processes cannot
interleave. The model from ``init_schema`` is recorded in a side table; property values are
indexed by ``(key, value)`` already, so there are no indexes to create.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from gremlin_python.process.anonymous_traversal import traversal

from rdg.errors import ConflictError, RdgError, RdgTimeoutError, RetryableError, ServerError, StorageError
from rdg.graph._dump import build_dump, flat
from rdg.graph._model import GraphModel
from rdg.graph._plan import Coalesced, EdgeState, Plan, VertexState, chunks
from rdg.graph._schema import desired
from rdg.graph.embedded.engine import EmbeddedConnection, execute
from rdg.graph.embedded.errors import EmbeddedUnsupportedError, TraversalError
from rdg.graph.embedded.encoding import decode, encode
from rdg.graph.embedded.store import Store
from rdg.graph.embedded.values import key_of

__all__ = ["EmbeddedBackend", "GraphDamagedError"]

_IN = 400  # values per IN (...) list: SQLite's parameter limit is far above

_STORAGE_FAULTS = ("disk i/o error", "malformed", "readonly database", "unable to open database", "disk is full",
                   "not a database")


def _wrap(err: Exception, what: str) -> RdgError:
    if isinstance(err, sqlite3.OperationalError) and "locked" in str(err):
        return RetryableError(f"embedded graph busy during {what}: {err}",
                              hint="another process holds the write lock; it is retried")
    if isinstance(err, sqlite3.DatabaseError) and any(f in str(err).lower() for f in _STORAGE_FAULTS):
        return StorageError(f"the embedded graph's file failed during {what}: {err}",
                            hint="check the disk (space, permissions, health); `rdg graph check` reads the graph")
    return ServerError(f"embedded graph failed during {what}: {type(err).__name__}: {err}")


class GraphDamagedError(StorageError):
    """The embedded graph's file failed SQLite's integrity check."""


def _refuse_if_damaged(path: Path) -> None:
    """Run SQLite's quick check (linear in the file's size) and refuse a damaged file: writing
    into it would spread the damage, and reads from it may be wrong."""
    con = sqlite3.connect(str(path), timeout=30.0)
    try:
        found = [str(row[0]) for row in con.execute("PRAGMA quick_check(5)")]
        if found == ["ok"]:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if tables and "quads" in tables and "vertex" not in tables:
                found = ["an older embedded graph format (gremlite); rebuild it with `rdg run`"]
    except sqlite3.DatabaseError as err:
        found = [str(err)]
    finally:
        con.close()
    if found != ["ok"]:
        raise GraphDamagedError(f"the embedded graph at {path} is damaged or not a graph file; "
                                "rdg will not read or write it "
                                f"(SQLite quick_check: {' '.join(found).replace(chr(10), '; ')[:300]})",
                                hint="restore the file from a backup, or move it aside and rebuild the graph "
                                     "with `rdg run` from the sources")


class EmbeddedBackend:
    """The embedded graph in one SQLite file."""

    name = "embedded"
    default_batch_size = 1000
    parallel = 1
    """One writer at a time: SQLite serialises writes anyway."""
    read_requests = 1

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.is_file() and self.path.stat().st_size:
            _refuse_if_damaged(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.store = Store.open(str(self.path))
        except sqlite3.Error as err:
            raise ServerError(f"cannot open the embedded graph at {self.path}: {err}",
                              hint="check the path, and that the file is an rdg graph") from err
        self.connection = EmbeddedConnection(self.store)
        """What ``g`` runs through (its ``timeout_s`` bounds each traversal; None by default)."""
        self.g = traversal().with_remote(self.connection)

    # -- unit of work -------------------------------------------------------------------------
    def begin(self) -> None:
        try:
            self.store.begin(write=True)
        except sqlite3.OperationalError as err:
            raise _wrap(err, "begin") from err

    def commit(self) -> None:
        self.store.commit()

    def rollback(self) -> None:
        self.store.rollback()

    # -- writes ---------------------------------------------------------------------------------
    def read_state(self, co: Coalesced) -> tuple[dict[tuple[str, Any], VertexState], dict[Any, EdgeState]]:
        con = self.store.con
        try:
            groups: dict[tuple[str, str], list[Any]] = {}
            for v in co.vertices.values():
                groups.setdefault((v.label, v.key), []).append(v.key_value)
            vertices: dict[tuple[str, Any], VertexState] = {}
            found: dict[int, tuple[str, str]] = {}  # vertex id -> (label, key)
            for (label, key), values in groups.items():
                wanted = {key_of(x) for x in values}
                for part in chunks([encode(x)[1] for x in values], _IN):
                    marks = ",".join("?" * len(part))
                    for vid, kind, value in con.execute(
                            "SELECT p.vertex, p.kind, p.value FROM vprop p JOIN vertex v ON v.id = p.vertex "
                            f"WHERE p.key = ? AND v.label = ? AND p.value IN ({marks})", (key, label, *part)):
                        if key_of(decode(kind, value)) in wanted:
                            found[vid] = (label, key)
            props = self._props("vprop", "vertex", list(found))
            for vid, (label, key) in found.items():
                p = props.get(vid, {})
                vertices[(label, p.get(key))] = VertexState(vid, p)
            wanted_edges: dict[str, dict[tuple[Any, Any], Any]] = {}  # label -> (from id, to id) -> identity
            for e in co.edges.values():
                f = vertices.get((e.from_vertex[0], e.from_vertex[2]))
                t = vertices.get((e.to_vertex[0], e.to_vertex[2]))
                if f is not None and t is not None:
                    wanted_edges.setdefault(e.label, {})[(f.id, t.id)] = e.identity
            edge_ids: dict[int, Any] = {}
            taken: set[Any] = set()
            for label, pairs in wanted_edges.items():
                for part in chunks(sorted({f for f, _ in pairs}), _IN):
                    marks = ",".join("?" * len(part))
                    for eid, out, inv in con.execute(
                            f"SELECT id, out, inv FROM edge WHERE label = ? AND out IN ({marks}) ORDER BY id",
                            (label, *part)):
                        ident = pairs.get((out, inv))
                        if ident is not None and ident not in taken:
                            taken.add(ident)
                            edge_ids[eid] = ident
            eprops = self._props("eprop", "edge", list(edge_ids))
            edges = {ident: EdgeState(eprops.get(eid, {}), eid) for eid, ident in edge_ids.items()}
            return vertices, edges
        except RdgError:
            raise
        except sqlite3.Error as err:
            raise _wrap(err, "read") from err

    def _props(self, table: str, owner: str, ids: list[int]) -> dict[int, dict[str, Any]]:
        out: dict[int, dict[str, Any]] = {}
        for part in chunks(ids, _IN):
            marks = ",".join("?" * len(part))
            order = " ORDER BY id" if table == "vprop" else ""
            for oid, key, kind, value in self.store.con.execute(
                    f"SELECT {owner}, key, kind, value FROM {table} WHERE {owner} IN ({marks}){order}", part):  # noqa: S608
                out.setdefault(oid, {})[key] = decode(kind, value)
        return out

    def apply(self, ops: Plan) -> int:
        store, con = self.store, self.store.con
        store.forget()  # rows written below by SQL, not through the store's methods
        try:
            ids: dict[str, Any] = {}
            vrows: list[tuple[Any, ...]] = []
            for nv in ops.new_vertices:
                vid = store.new_id()
                con.execute("INSERT INTO vertex (id, label) VALUES (?, ?)", (vid, nv.label))
                ids[nv.ref] = vid
                for k, v in nv.props.items():
                    if v is not None:
                        vrows.append((store.new_id(), vid, k, *encode(v)))
            dropped: list[tuple[Any, str]] = []
            for sv in ops.set_vertices:
                for k, v in sv.props.items():
                    dropped.append((sv.id, k))
                    if v is not None:
                        vrows.append((store.new_id(), sv.id, k, *encode(v)))
            if dropped:
                con.executemany("DELETE FROM meta WHERE prop IN (SELECT id FROM vprop WHERE vertex = ? AND key = ?)",
                                dropped)
                con.executemany("DELETE FROM vprop WHERE vertex = ? AND key = ?", dropped)
            con.executemany("INSERT INTO vprop (id, vertex, key, kind, value) VALUES (?, ?, ?, ?, ?)", vrows)
            erows: list[tuple[Any, ...]] = []
            for ne in ops.new_edges:
                a = ids[ne.from_end[1]] if ne.from_end[0] == "ref" else ne.from_end[1]
                b = ids[ne.to_end[1]] if ne.to_end[0] == "ref" else ne.to_end[1]
                eid = store.new_id()
                con.execute("INSERT INTO edge (id, label, out, inv) VALUES (?, ?, ?, ?)", (eid, ne.label, a, b))
                erows.extend((eid, k, *encode(v)) for k, v in ne.props.items() if v is not None)
            for se in ops.set_edges:
                erows.extend((se.edge_id, k, *encode(v)) for k, v in se.props.items() if v is not None)
            con.executemany("INSERT OR REPLACE INTO eprop (edge, key, kind, value) VALUES (?, ?, ?, ?)", erows)
            return 0  # same transaction as the read: no extra request
        except RdgError:
            raise
        except sqlite3.Error as err:
            raise _wrap(err, "write") from err

    # -- reads ------------------------------------------------------------------------------------
    def run_query(self, text: str, bindings: dict[str, Any] | None, *, write: bool = False,
                  timeout_s: float | None = None, max_results: int | None = None) -> list[Any]:
        from rdg.graph._text import parse, parse_read_only

        built = (parse if write else parse_read_only)(text, self.g, bindings or {})
        if max_results is not None:
            built = built.limit(max_results + 1)
        store, con = self.store, self.store.con
        if timeout_s:  # SQLite calls this every 10,000 VM steps; non-zero interrupts the statement
            deadline = time.monotonic() + timeout_s
            con.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            store.begin(write=write)
            out = execute(store, built.bytecode, timeout_s=timeout_s)
            store.commit()
            return out
        except RdgError:
            store.rollback()
            raise
        except sqlite3.Error as err:
            store.rollback()
            if timeout_s and isinstance(err, sqlite3.OperationalError) and "interrupted" in str(err):
                raise RdgTimeoutError(f"the query took longer than {timeout_s:g} s and was stopped",
                                      hint="narrow it (has(), limit()), or raise --timeout / query_timeout") from err
            raise _wrap(err, "query") from err
        finally:
            con.set_progress_handler(None, 0)

    def storage_problems(self) -> list[str] | None:
        """SQLite's full ``integrity_check`` (indexes against their tables too): ``[]`` when sound."""
        rows = [str(row[0]) for row in self.store.con.execute("PRAGMA integrity_check(20)")]
        return [] if rows == ["ok"] else rows

    def dump(self, labels: list[str] | None = None) -> dict[str, Any]:
        con = self.store.con
        where, params = "", []
        if labels:
            where = f" WHERE label IN ({','.join('?' * len(labels))})"
            params = list(labels)
        vs = con.execute(f"SELECT id, label FROM vertex{where} ORDER BY id", params).fetchall()  # noqa: S608
        vprops = self._props("vprop", "vertex", [v[0] for v in vs])
        if labels:
            es = con.execute("SELECT e.id, e.label, e.out, e.inv FROM edge e JOIN vertex v ON v.id = e.out "
                             f"WHERE v.label IN ({','.join('?' * len(labels))}) ORDER BY e.id", params).fetchall()
        else:
            es = con.execute("SELECT id, label, out, inv FROM edge ORDER BY id").fetchall()
        eprops = self._props("eprop", "edge", [e[0] for e in es])
        return build_dump([(vid, label, flat(vprops.get(vid, {}))) for vid, label in vs],
                          [(label, out, inv, flat(eprops.get(eid, {}))) for eid, label, out, inv in es])

    # -- schema -----------------------------------------------------------------------------------
    def _recorded(self) -> dict[str, tuple[str, Any]]:
        rows = self.store.con.execute("SELECT name, kind, spec FROM rdg_schema").fetchall()
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
        self.store.begin(write=True)
        try:
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
                self.store.con.execute("INSERT OR REPLACE INTO rdg_schema VALUES (?, ?, ?)",
                                       (name, kind, json.dumps(spec)))
        except BaseException:
            self.store.rollback()
            raise
        self.store.commit()
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
        store, con = self.store, self.store.con
        dropped: dict[str, int] = {}
        self.begin()
        try:
            # edges first, then vertices; each kind has its own "last written" property
            kinds = ((model.edges, "SELECT e.id, p.kind, p.value FROM edge e JOIN eprop p ON p.edge = e.id "
                      "WHERE e.label = ? AND p.key = 'last_seen'", store.edges, store.drop_edge),
                     (model.vertices, "SELECT v.id, p.kind, p.value FROM vertex v JOIN vprop p ON p.vertex = v.id "
                      "WHERE v.label = ? AND p.key = '_ts'", store.vertices, store.drop_vertex))
            for labels, stamped, read, drop in kinds:
                for item in labels:
                    if item.ttl_seconds:
                        cutoff = now_ms - item.ttl_seconds * 1000
                        old = [i for i, kind, value in con.execute(stamped, (item.label,))
                               if decode(kind, value) < cutoff]
                        for element in read(old):
                            drop(element)
                        dropped[item.label] = len(old)
            self.commit()
        except Exception:
            self.rollback()
            raise
        return dropped

    def close(self) -> None:
        self.store.close()


__all__ += ["EmbeddedUnsupportedError", "TraversalError"]
