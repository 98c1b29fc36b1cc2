"""The embedded graph's storage: vertices, edges and properties in one SQLite file.

Each element is a row (``vertex``, ``edge``), each property a row (``vprop`` for vertex
properties, which have ids, several values per key and meta-properties in ``meta``; ``eprop``
for edge properties). Values keep their Gremlin type (``kind``: ``i`` integer, ``f`` double,
``s`` string, ``b`` boolean, ``t`` date, ``j`` tagged JSON for lists, sets, maps and the
rest), so ``1``, ``1.0``, ``True`` and ``"1"`` stay four different values. Property values are
indexed by ``(key, value)``: ``has(key, value)`` is one index lookup. Vertices, edges and vertex
properties share one id sequence, as TinkerGraph's do. Within a transaction, property rows are
cached, and the first property read of an element handed out by ``neighbours()`` (or a page of
``V()``) reads those of the elements handed out with it in the same query; any write clears it.

Longer than most modules: every SQL statement of the embedded graph sits here, so the tables'
layout, the id sequence and the property cache can be checked against each other in one place.

>>> s = Store.open(":memory:")
>>> v = s.add_vertex("person"); _ = s.add_vertex_property(v, "name", "marko")
>>> [x.id for x in s.vertices_where(["person"], "name", ["marko"])] == [v.id]
True
>>> s.values(v, ("name",))
['marko']
"""

from __future__ import annotations

import sqlite3
from typing import Any, Iterable, Iterator, Sequence

from gremlin_python.structure.graph import Edge, Property, Vertex, VertexProperty

from rdg.graph.embedded.encoding import INT64, decode, encode, kinds_equal_to
from rdg.graph.embedded.errors import TraversalError, unsupported

__all__ = ["SCHEMA", "Store"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS vertex (id INTEGER PRIMARY KEY, label TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS vertex_label ON vertex (label);
CREATE TABLE IF NOT EXISTS edge (id INTEGER PRIMARY KEY, label TEXT NOT NULL, out INTEGER NOT NULL,
                                 inv INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS edge_out ON edge (out, label);
CREATE INDEX IF NOT EXISTS edge_in ON edge (inv, label);
CREATE INDEX IF NOT EXISTS edge_label ON edge (label);
CREATE TABLE IF NOT EXISTS vprop (id INTEGER PRIMARY KEY, vertex INTEGER NOT NULL, key TEXT NOT NULL,
                                  kind TEXT NOT NULL, value);
CREATE INDEX IF NOT EXISTS vprop_vertex ON vprop (vertex, key);
CREATE INDEX IF NOT EXISTS vprop_value ON vprop (key, value);
CREATE TABLE IF NOT EXISTS eprop (edge INTEGER NOT NULL, key TEXT NOT NULL, kind TEXT NOT NULL, value,
                                  PRIMARY KEY (edge, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS eprop_value ON eprop (key, value);
CREATE TABLE IF NOT EXISTS meta (prop INTEGER NOT NULL, key TEXT NOT NULL, kind TEXT NOT NULL, value,
                                 PRIMARY KEY (prop, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rdg_schema (name TEXT PRIMARY KEY, kind TEXT, spec TEXT);
"""

_PAGE = 500
_BATCH = 200  # elements whose properties one query reads
_IN = 400  # values per IN (...) list


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


# -- the store -----------------------------------------------------------------------------------
class Store:
    """One SQLite connection holding a graph; every method reads or writes through it."""

    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con
        self._next_id: int | None = None
        self._vprops: dict[tuple[int, tuple[str, ...]], list[tuple[Any, ...]]] = {}
        self._eprops: dict[tuple[int, tuple[str, ...]], list[tuple[Any, ...]]] = {}
        self._siblings_v: dict[int, list[int]] = {}
        self._siblings_e: dict[int, list[int]] = {}
        """Property rows read in this transaction, and for each element handed out the ids it
        was handed out with (one neighbours() call, one page of V()): the first property read of
        one of them reads the properties of the next ones too, in one query."""

    def forget(self) -> None:
        """Drop what was read (a write happened, or the transaction ended)."""
        self._vprops.clear()
        self._eprops.clear()
        self._siblings_v.clear()
        self._siblings_e.clear()

    def _handed_out(self, elements: list[Any]) -> list[Any]:
        if len(elements) > 1:
            siblings = self._siblings_e if isinstance(elements[0], Edge) else self._siblings_v
            if len(siblings) > 100_000:
                siblings.clear()
            group = [e.id for e in elements]
            for ident in group:
                siblings[ident] = group
        return elements

    @classmethod
    def open(cls, path: str, *, timeout: float = 30.0) -> "Store":
        """Open (creating if needed) the graph in the SQLite file ``path`` (``:memory:`` for none)."""
        con = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
        if path != ":memory:":
            con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute("PRAGMA cache_size=-65536")  # 64 MiB of pages per connection (default: 2 MiB)
        con.execute("PRAGMA mmap_size=268435456")  # read through a 256 MiB map: no read() per page
        con.executescript(SCHEMA)
        return cls(con)

    def close(self) -> None:
        self.con.close()

    # -- transactions ------------------------------------------------------------------------------
    def begin(self, *, write: bool) -> None:
        """Start a transaction (``write``: take the write lock now, so the read that decides a
        write and the write itself see no other writer in between)."""
        if not self.con.in_transaction:
            self.con.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        self._next_id = None
        self.forget()

    def commit(self) -> None:
        if self.con.in_transaction:
            self.con.execute("COMMIT")
        self._next_id = None
        self.forget()

    def rollback(self) -> None:
        if self.con.in_transaction:
            self.con.execute("ROLLBACK")
        self._next_id = None
        self.forget()

    def new_id(self) -> int:
        """The next free element id (vertices, edges and vertex properties share the sequence)."""
        if self._next_id is None:
            top = 0
            for table in ("vertex", "edge", "vprop"):
                row = self.con.execute(f"SELECT max(id) FROM {table}").fetchone()  # noqa: S608 - fixed names
                top = max(top, row[0] or 0)
            self._next_id = top + 1
        out = self._next_id
        self._next_id += 1
        return out

    def _use_id(self, given: Any) -> int:
        if given is None:
            return self.new_id()
        if isinstance(given, bool) or not isinstance(given, int):
            raise unsupported(f"an element id that is not an integer ({given!r})")
        if self._next_id is None:
            self.new_id()
            self._next_id -= 1
        if given >= (self._next_id or 0):
            self._next_id = given + 1
        return given

    # -- reading elements --------------------------------------------------------------------------
    def vertices(self, ids: Iterable[Any] | None = None) -> Iterator[Vertex]:
        """Every vertex (``ids`` None, in id order; vertices added meanwhile are not seen), or
        those of ``ids`` that exist, in the order given."""
        if ids is None:
            top = self.con.execute("SELECT max(id) FROM vertex").fetchone()[0]
            after = -INT64
            while top is not None:
                rows = self.con.execute("SELECT id, label FROM vertex WHERE id > ? AND id <= ? ORDER BY id LIMIT ?",
                                        (after, top, _PAGE)).fetchall()
                yield from self._handed_out([Vertex(vid, label) for vid, label in rows])
                if len(rows) < _PAGE:
                    return
                after = rows[-1][0]
            return
        wanted = [i for i in ids]
        found = self._rows("SELECT id, label FROM vertex WHERE id IN ({})", [i for i in wanted if _is_id(i)])
        for i in wanted:
            label = found.get(i) if _is_id(i) else None
            if label is not None:
                yield Vertex(i, label[0])

    def vertices_where(self, labels: Sequence[str] | None, key: str | None,
                       values: Sequence[Any] | None) -> Iterator[Vertex]:
        """Vertices with one of ``labels`` (None: any) and, when ``key`` is given, a ``key``
        property equal to one of ``values`` (by Gremlin equality), in id order."""
        if key is None:
            if not labels:
                yield from self.vertices()
                return
            marks = ",".join("?" * len(labels))
            rows = self.con.execute(f"SELECT id, label FROM vertex WHERE label IN ({marks}) ORDER BY id",
                                    list(labels)).fetchall()
            for start in range(0, len(rows), _PAGE):
                yield from self._handed_out([Vertex(vid, label) for vid, label in rows[start:start + _PAGE]])
            return
        seen: set[int] = set()
        hits: list[tuple[int, str]] = []
        for value in values or []:
            kinds = kinds_equal_to(value)
            kind, stored = encode(value)
            if stored is None:  # NaN equals nothing
                continue
            marks = ",".join("?" * len(kinds))
            sql = ("SELECT DISTINCT v.id, v.label FROM vprop p JOIN vertex v ON v.id = p.vertex "
                   f"WHERE p.key = ? AND p.value = ? AND p.kind IN ({marks})")
            params: list[Any] = [key, stored, *kinds]
            if labels:
                sql += f" AND v.label IN ({','.join('?' * len(labels))})"
                params += list(labels)
            for vid, label in self.con.execute(sql, params).fetchall():
                if vid not in seen:
                    seen.add(vid)
                    hits.append((vid, label))
        yield from self._handed_out([Vertex(vid, label) for vid, label in sorted(hits)])

    def edges(self, ids: Iterable[Any] | None = None) -> Iterator[Edge]:
        """Every edge (``ids`` None, in id order), or those of ``ids`` that exist, in that order."""
        base = ("SELECT e.id, e.label, e.out, o.label, e.inv, i.label FROM edge e "
                "JOIN vertex o ON o.id = e.out JOIN vertex i ON i.id = e.inv ")
        if ids is None:
            top = self.con.execute("SELECT max(id) FROM edge").fetchone()[0]
            after = -INT64
            while top is not None:
                rows = self.con.execute(base + "WHERE e.id > ? AND e.id <= ? ORDER BY e.id LIMIT ?",
                                        (after, top, _PAGE)).fetchall()
                yield from self._handed_out([_edge(row) for row in rows])
                if len(rows) < _PAGE:
                    return
                after = rows[-1][0]
            return
        wanted = [i for i in ids]
        found = self._rows(base.replace("SELECT e.id,", "SELECT e.id, e.id,") + "WHERE e.id IN ({})",
                           [i for i in wanted if _is_id(i)])
        for i in wanted:
            row = found.get(i) if _is_id(i) else None
            if row is not None:
                yield _edge(row)

    def edges_where(self, labels: Sequence[str]) -> Iterator[Edge]:
        marks = ",".join("?" * len(labels))
        for row in self.con.execute("SELECT e.id, e.label, e.out, o.label, e.inv, i.label FROM edge e "
                                    "JOIN vertex o ON o.id = e.out JOIN vertex i ON i.id = e.inv "
                                    f"WHERE e.label IN ({marks}) ORDER BY e.id", list(labels)).fetchall():
            yield from self._handed_out([_edge(row)])

    def _rows(self, sql: str, ids: list[Any]) -> dict[Any, tuple[Any, ...]]:
        out: dict[Any, tuple[Any, ...]] = {}
        for part in _chunks(sorted(set(ids)), _IN):
            for row in self.con.execute(sql.format(",".join("?" * len(part))), list(part)):
                out[row[0]] = row[1:]
        return out

    def adjacent(self, vertex: Vertex, direction: str, labels: Sequence[str] = ()) -> list[Edge]:
        """The edges at ``vertex``: ``direction`` is ``out``, ``in`` or ``both`` (a self-loop
        appears twice for ``both``, as in TinkerGraph), in id order per direction."""
        out: list[Edge] = []
        lab = f" AND e.label IN ({','.join('?' * len(labels))})" if labels else ""
        for d in (("out", "in") if direction == "both" else (direction,)):
            col = "out" if d == "out" else "inv"
            rows = self.con.execute("SELECT e.id, e.label, e.out, o.label, e.inv, i.label FROM edge e "
                                    "JOIN vertex o ON o.id = e.out JOIN vertex i ON i.id = e.inv "
                                    f"WHERE e.{col} = ?{lab} ORDER BY e.id", (vertex.id, *labels)).fetchall()
            out.extend(_edge(r) for r in rows)
        return self._handed_out(out)

    def neighbours(self, vertex: Vertex, direction: str, labels: Sequence[str] = ()) -> list[Vertex]:
        """The vertices one edge away from ``vertex`` (one per edge, in edge id order)."""
        out: list[Vertex] = []
        lab = f" AND e.label IN ({','.join('?' * len(labels))})" if labels else ""
        for d in (("out", "in") if direction == "both" else (direction,)):
            near, far = ("out", "inv") if d == "out" else ("inv", "out")
            rows = self.con.execute(f"SELECT v.id, v.label FROM edge e JOIN vertex v ON v.id = e.{far} "
                                    f"WHERE e.{near} = ?{lab} ORDER BY e.id", (vertex.id, *labels)).fetchall()
            out.extend(Vertex(vid, label) for vid, label in rows)
        return self._handed_out(out)

    def visible(self, elements: Sequence[Any]) -> list[Any]:
        """The ones of ``elements`` (already read) a traversal may see: all of them here; a
        strategy's view of the store (:mod:`rdg.graph.embedded.strategies`) narrows it."""
        return list(elements)

    def exists(self, element: Any) -> bool:
        if isinstance(element, Vertex):
            table = "vertex"
        elif isinstance(element, Edge):
            table = "edge"
        elif isinstance(element, VertexProperty):
            table = "vprop"
        else:
            return False
        return self.con.execute(f"SELECT 1 FROM {table} WHERE id = ?", (element.id,)).fetchone() is not None  # noqa: S608

    # -- reading properties ------------------------------------------------------------------------
    def vertex_properties(self, vertex: Vertex, keys: Sequence[str] = ()) -> list[VertexProperty]:
        """``vertex``'s properties (only ``keys``, if given), in the order they were added."""
        rows = self._cached(self._vprops, vertex.id, keys)
        if rows is None:
            rows = self._read_batch("SELECT vertex, id, key, kind, value FROM vprop WHERE vertex IN ({}){} ORDER BY id",
                                    vertex.id, keys, self._siblings_v, self._vprops)
        return [VertexProperty(pid, key, decode(kind, value), vertex) for pid, key, kind, value in rows]

    def edge_properties(self, edge: Edge, keys: Sequence[str] = ()) -> list[Property]:
        rows = self._cached(self._eprops, edge.id, keys)
        if rows is None:
            rows = self._read_batch("SELECT edge, key, kind, value FROM eprop WHERE edge IN ({}){} ORDER BY edge, key",
                                    edge.id, keys, self._siblings_e, self._eprops)
        return [Property(key, decode(kind, value), edge) for key, kind, value in rows]

    @staticmethod
    def _cached(cache: dict[tuple[int, tuple[str, ...]], list[tuple[Any, ...]]], ident: int,
                keys: Sequence[str]) -> list[tuple[Any, ...]] | None:
        """Rows read before: for exactly these keys, or all of the element's (then filtered)."""
        keys = tuple(keys)
        found = cache.get((ident, keys))
        if found is None and keys:
            every = cache.get((ident, ()))
            if every is not None:
                return [row for row in every if row[-3] in keys]
        return found

    def _read_batch(self, sql: str, wanted: int, keys: Sequence[str], siblings: dict[int, list[int]],
                    cache: dict[tuple[int, tuple[str, ...]], list[tuple[Any, ...]]]) -> list[tuple[Any, ...]]:
        """The property rows (of ``keys``, or all) of ``wanted``, read together with those of the
        elements handed out after it in the same call (one query instead of one per element)."""
        keys = tuple(keys)
        ids = [wanted]
        group = siblings.get(wanted)
        if group is not None:
            for ident in group[group.index(wanted) + 1:]:
                if len(ids) >= _BATCH:
                    break
                if (ident, keys) not in cache and ident != wanted:
                    ids.append(ident)
        found: dict[int, list[tuple[Any, ...]]] = {i: [] for i in ids}
        narrow = f" AND key IN ({','.join('?' * len(keys))})" if keys else ""
        for row in self.con.execute(sql.format(",".join("?" * len(ids)), narrow), (*ids, *keys)):
            found[row[0]].append(row[1:])
        for ident, rows in found.items():
            cache[(ident, keys)] = rows
        return found[wanted]

    def meta_properties(self, prop: VertexProperty, keys: Sequence[str] = ()) -> list[Property]:
        lab = f" AND key IN ({','.join('?' * len(keys))})" if keys else ""
        rows = self.con.execute(f"SELECT key, kind, value FROM meta WHERE prop = ?{lab} ORDER BY key",
                                (prop.id, *keys)).fetchall()
        return [Property(key, decode(kind, value), prop) for key, kind, value in rows]

    def properties(self, element: Any, keys: Sequence[str] = ()) -> list[Any]:
        """The properties of a vertex, an edge or a vertex property (its meta-properties)."""
        if isinstance(element, Vertex):
            return self.vertex_properties(element, keys)
        if isinstance(element, Edge):
            return self.edge_properties(element, keys)
        if isinstance(element, VertexProperty):
            return self.meta_properties(element, keys)
        raise TraversalError(f"{_describe(element)} has no properties")

    def values(self, element: Any, keys: Sequence[str] = ()) -> list[Any]:
        """The values of ``element``'s properties (only ``keys``, if given)."""
        return [p.value for p in self.properties(element, keys)]

    def keys(self, element: Any) -> list[str]:
        return list(dict.fromkeys(p.key if isinstance(p, Property) else p.label for p in self.properties(element)))

    # -- writing -----------------------------------------------------------------------------------
    def add_vertex(self, label: str, vid: Any = None) -> Vertex:
        new = self._use_id(vid)
        try:
            self.con.execute("INSERT INTO vertex (id, label) VALUES (?, ?)", (new, label))
        except sqlite3.IntegrityError as err:
            raise TraversalError(f"a vertex with id {new} already exists") from err
        return Vertex(new, label)

    def add_edge(self, label: str, out: Vertex, into: Vertex, eid: Any = None) -> Edge:
        new = self._use_id(eid)
        try:
            self.con.execute("INSERT INTO edge (id, label, out, inv) VALUES (?, ?, ?, ?)", (new, label, out.id, into.id))
        except sqlite3.IntegrityError as err:
            raise TraversalError(f"an edge with id {new} already exists") from err
        return Edge(new, Vertex(out.id, out.label), label, Vertex(into.id, into.label))

    def add_vertex_property(self, vertex: Vertex, key: str, value: Any, cardinality: str = "single",
                            pid: Any = None) -> VertexProperty:
        """Add ``key=value`` to ``vertex``: ``single`` replaces every value of ``key``, ``list``
        adds one more, ``set`` adds it unless an equal value is there (then returns that one)."""
        self.forget()
        kind, stored = encode(value)
        if cardinality == "single":
            self.drop_vertex_key(vertex, key)
        elif cardinality == "set":
            for p in self.vertex_properties(vertex, (key,)):
                from rdg.graph.embedded.values import key_of

                if key_of(p.value) == key_of(value):
                    return p
        new = self._use_id(pid)
        self.con.execute("INSERT INTO vprop (id, vertex, key, kind, value) VALUES (?, ?, ?, ?, ?)",
                         (new, vertex.id, key, kind, stored))
        return VertexProperty(new, key, value, vertex)

    def set_edge_property(self, edge: Edge, key: str, value: Any) -> Property:
        self.forget()
        kind, stored = encode(value)
        self.con.execute("INSERT OR REPLACE INTO eprop (edge, key, kind, value) VALUES (?, ?, ?, ?)",
                         (edge.id, key, kind, stored))
        return Property(key, value, edge)

    def set_meta_property(self, prop: VertexProperty, key: str, value: Any) -> Property:
        self.forget()
        kind, stored = encode(value)
        self.con.execute("INSERT OR REPLACE INTO meta (prop, key, kind, value) VALUES (?, ?, ?, ?)",
                         (prop.id, key, kind, stored))
        return Property(key, value, prop)

    def drop_vertex_key(self, vertex: Vertex, key: str) -> None:
        self.forget()
        self.con.execute("DELETE FROM meta WHERE prop IN (SELECT id FROM vprop WHERE vertex = ? AND key = ?)",
                         (vertex.id, key))
        self.con.execute("DELETE FROM vprop WHERE vertex = ? AND key = ?", (vertex.id, key))

    def drop_vertex(self, vertex: Vertex) -> None:
        self.forget()
        for (eid,) in self.con.execute("SELECT id FROM edge WHERE out = ? OR inv = ?", (vertex.id, vertex.id)).fetchall():
            self.con.execute("DELETE FROM eprop WHERE edge = ?", (eid,))
        self.con.execute("DELETE FROM edge WHERE out = ? OR inv = ?", (vertex.id, vertex.id))
        self.con.execute("DELETE FROM meta WHERE prop IN (SELECT id FROM vprop WHERE vertex = ?)", (vertex.id,))
        self.con.execute("DELETE FROM vprop WHERE vertex = ?", (vertex.id,))
        self.con.execute("DELETE FROM vertex WHERE id = ?", (vertex.id,))

    def drop_edge(self, edge: Edge) -> None:
        self.forget()
        self.con.execute("DELETE FROM eprop WHERE edge = ?", (edge.id,))
        self.con.execute("DELETE FROM edge WHERE id = ?", (edge.id,))

    def drop_property(self, prop: Any) -> None:
        """Remove one property: a vertex property (with its meta-properties), an edge's property
        or a meta-property."""
        self.forget()
        if isinstance(prop, VertexProperty):
            self.con.execute("DELETE FROM meta WHERE prop = ?", (prop.id,))
            self.con.execute("DELETE FROM vprop WHERE id = ?", (prop.id,))
        elif isinstance(prop, Property) and isinstance(prop.element, Edge):
            self.con.execute("DELETE FROM eprop WHERE edge = ? AND key = ?", (prop.element.id, prop.key))
        elif isinstance(prop, Property) and isinstance(prop.element, VertexProperty):
            self.con.execute("DELETE FROM meta WHERE prop = ? AND key = ?", (prop.element.id, prop.key))
        else:
            raise TraversalError(f"{_describe(prop)} is not a property that can be dropped")


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _edge(row: tuple[Any, ...]) -> Edge:
    eid, label, out, out_label, inv, in_label = row
    return Edge(eid, Vertex(out, out_label), label, Vertex(inv, in_label))


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"
