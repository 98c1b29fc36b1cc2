"""JanusGraph Server over WebSocket: GraphBinary with JanusGraph's types, a connection pool,
basic auth and TLS.

Longer than most modules: the whole JanusGraph protocol (pool and auth, GraphBinary types, schema, batched upserts, read-only queries, error mapping) kept together, so one reader sees every request it makes.

An upsert batch costs three requests, each a fixed Groovy script whose text never changes (the
server compiles it once) with the batch in its bindings, never as Gremlin text:

1. read the batch's vertices: ``has(label, key, within(...))``, served by the composite index;
2. read the batch's edges between the vertices found: a vertex-centric query per (from, label,
   to) on the adjacent vertex, so a vertex's other edges are never scanned;
3. apply the plan with JanusGraph's structure API: new vertices, changed vertices by id, new
   edges between ids, changed edges by edge id.

Both reads answer with one JSON string holding only the properties the plan compares
(decoding GraphBinary maps in pure Python was most of a writer's CPU). Each request is its own
transaction, so the apply lands whole or not at all; if an element the reads found is gone
when the apply runs, the script fails with a retryable error and the retry reads again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import threading
from typing import Any

from gremlin_python.driver.client import Client
from gremlin_python.driver.driver_remote_connection import DriverRemoteConnection
from gremlin_python.driver.protocol import GremlinServerError
from gremlin_python.process.anonymous_traversal import traversal
from gremlin_python.process.graph_traversal import __
from gremlin_python.process.traversal import P
from gremlin_python.statics import long

from rdg.errors import ConflictError, RdgError, RetryableError, ServerBusyError, ServerError
from rdg.graph._dump import build_dump, flat
from rdg.graph._model import GraphModel
from rdg.graph._plan import Coalesced, EdgeState, Plan, VertexState, chunks
from rdg.graph._schema import JANUS_TYPES, desired

__all__ = ["JanusBackend"]

log = logging.getLogger("rdg.graph")

_WITHIN = 1000
_CLOSE_TIMEOUT_S = 5.0
_TRANSIENT = ("TemporaryBackendException", "TemporaryLockingException", "PermanentLockingException",
              "Lock", "lock contention", "timeout", "Timeout", "TimedOut",
              # two transactions creating the same new label or property key (automatic schema)
              "Could not commit transaction due to exception during persistence",
              # the apply script: an element the read found was dropped before the write
              "rdg-retry",
              # berkeleyje: a read batch whose single reads timed out on locks that writers held
              "Could not successfully complete multi-query")

_SCHEMA_SCRIPT = """
import org.janusgraph.core.Cardinality
import org.janusgraph.core.Multiplicity
import org.janusgraph.core.schema.SchemaAction
import org.janusgraph.core.schema.SchemaStatus
import org.janusgraph.graphdb.database.management.ManagementSystem
def types = [String: String, Integer: Integer, Long: Long, Float: Float, Double: Double, Boolean: Boolean]
def mgmt = graph.openManagement()
def changed = []
def conflicts = []
def pending = []
try {
  props.each { name, type ->
    def pk = mgmt.getPropertyKey(name)
    if (pk == null) {
      mgmt.makePropertyKey(name).dataType(types[type]).cardinality(Cardinality.SINGLE).make()
      changed << ('create property ' + name + ' ' + type)
    } else if (pk.dataType().getSimpleName() != type) {
      conflicts << ('property ' + name + ' is ' + pk.dataType().getSimpleName() + ' in the graph but ' + type + ' in the model')
    }
  }
  vlabels.each { name ->
    if (mgmt.getVertexLabel(name) == null) { mgmt.makeVertexLabel(name).make(); changed << ('create vertex label ' + name) }
  }
  elabels.each { name, conns ->
    def el = mgmt.getEdgeLabel(name)
    def fresh = (el == null)
    if (fresh) { el = mgmt.makeEdgeLabel(name).multiplicity(Multiplicity.MULTI).make(); changed << ('create edge label ' + name) }
    def have = el.mappedConnections().collect { [it.getOutgoingVertexLabel().name(), it.getIncomingVertexLabel().name()] }
    // connections are declared with a new label; on a label made earlier (e.g. by data) JanusGraph
    // may not keep a late connection, and re-adding it every run would not be idempotent
    conns.each { c ->
      if (fresh && !have.contains([c[0], c[1]])) {
        mgmt.addConnection(el, mgmt.getVertexLabel(c[0]), mgmt.getVertexLabel(c[1]))
        changed << ('connect ' + name + ' ' + c[0] + '->' + c[1])
      }
    }
  }
  indexes.each { name, lk ->
    def idx = mgmt.getGraphIndex(name)
    if (idx == null) {
      def pk = mgmt.getPropertyKey(lk[1])
      if (!changed.contains('create property ' + lk[1] + ' ' + props[lk[1]])) { pending << name }
      mgmt.buildIndex(name, org.apache.tinkerpop.gremlin.structure.Vertex.class).addKey(pk).indexOnly(mgmt.getVertexLabel(lk[0])).buildCompositeIndex()
      changed << ('create composite index ' + name + ' on ' + lk[0] + '.' + lk[1])
    } else {
      def keys = idx.getFieldKeys().collect { it.name() }
      if (keys != [lk[1]]) { conflicts << ('index ' + name + ' exists on ' + keys + ', the model wants [' + lk[1] + ']') }
      else if (idx.getIndexStatus(idx.getFieldKeys()[0]) != SchemaStatus.ENABLED) { pending << name }
    }
  }
  if (conflicts) { mgmt.rollback(); return [[changed: [], conflicts: conflicts, pending: []]] }
  mgmt.commit()
} catch (Exception e) { try { mgmt.rollback() } catch (Exception ignored) {}; throw e }
[[changed: changed, conflicts: [], pending: pending]]  // a list: Gremlin Server would unroll a bare map
"""

_ENABLE_SCRIPT = """
import org.janusgraph.core.schema.SchemaAction
import org.janusgraph.core.schema.SchemaStatus
import org.janusgraph.graphdb.database.management.ManagementSystem
import java.time.temporal.ChronoUnit
def status = { def m = graph.openManagement(); def i = m.getGraphIndex(name); def s = i.getIndexStatus(i.getFieldKeys()[0]); m.rollback(); s }
def before = status()
if (before == SchemaStatus.INSTALLED) {
  def m = graph.openManagement(); m.updateIndex(m.getGraphIndex(name), SchemaAction.REGISTER_INDEX).get(); m.commit()
  ManagementSystem.awaitGraphIndexStatus(graph, name).status(SchemaStatus.REGISTERED).timeout(20, ChronoUnit.SECONDS).call()
}
if (status() == SchemaStatus.REGISTERED) {
  def m = graph.openManagement(); m.updateIndex(m.getGraphIndex(name), SchemaAction.REINDEX).get(); m.commit()
}
[[before.toString(), status().toString()]]
"""

_SHOW_SCRIPT = """
def mgmt = graph.openManagement()
try {
  def props = [:]
  mgmt.getRelationTypes(org.janusgraph.core.PropertyKey.class).each { props[it.name()] = it.dataType().getSimpleName() }
  def vl = mgmt.getVertexLabels().collect { it.name() }
  def el = [:]
  mgmt.getRelationTypes(org.janusgraph.core.EdgeLabel.class).each { e ->
    el[e.name()] = e.mappedConnections().collect { [it.getOutgoingVertexLabel().name(), it.getIncomingVertexLabel().name()] } }
  def idx = [:]
  mgmt.getGraphIndexes(org.apache.tinkerpop.gremlin.structure.Vertex.class).each { i ->
    idx[i.name()] = [keys: i.getFieldKeys().collect { it.name() }, status: i.getIndexStatus(i.getFieldKeys()[0]).toString(),
                     only: i.getSchemaTypeConstraint()?.name()] }
  [[properties: props, vertex_labels: vl, edge_labels: el, indexes: idx]]
} finally { mgmt.rollback() }
"""


_READ_VERTICES_SCRIPT = """
def out = []
for (grp in groups) {  // [label, key, [key values], [property names wanted]]
  def found = g.V().has(grp[0], grp[1], P.within(grp[2]))
  while (found.hasNext()) {
    def v = found.next()
    def p = [:]
    for (k in grp[3]) { def vp = v.property(k); if (vp.isPresent()) { p[k] = vp.value() } }
    out << [grp[0], v.id(), p]
  }
}
groovy.json.JsonOutput.toJson(out)  // one string: the client decodes JSON far faster than GraphBinary
"""

_READ_EDGES_SCRIPT = """
def vertices = [:]
def vertex = { id ->
  if (!vertices.containsKey(id)) { def it = graph.vertices(id); vertices[id] = it.hasNext() ? it.next() : null }
  vertices[id]
}
def out = []
pairs.eachWithIndex { t, i ->  // [label, from id, to id]
  def a = vertex(t[1])
  def b = vertex(t[2])
  if (a != null && b != null) {
    // a vertex-centric query on the adjacent vertex: a slice of a's edges, not a scan of them
    def found = a.query().direction(Direction.OUT).labels(t[0]).adjacent(b).edges().iterator()
    if (found.hasNext()) {
      def e = found.next()
      def p = [:]
      for (k in wanted[t[0]]) { def ep = e.property(k); if (ep.isPresent()) { p[k] = ep.value() } }
      out << [i, e.id().toString(), p]
    }
  }
}
groovy.json.JsonOutput.toJson(out)
"""

_APPLY_SCRIPT = """
def gone = { what, id -> throw new IllegalStateException('rdg-retry: ' + what + ' ' + id + ' vanished during the batch') }
def vertex = { id -> def it = graph.vertices(id); it.hasNext() ? it.next() : gone('vertex', id) }
def made = [:]
for (r in newV) {
  def v = graph.addVertex(r[0])
  for (p in r[2]) { v.property(p.key, p.value) }
  made[r[1]] = v
}
for (r in setV) {
  def v = vertex(r[0])
  for (p in r[1]) { v.property(p.key, p.value) }
}
for (r in newE) {
  def e = (r[1] instanceof String ? made[r[1]] : vertex(r[1])).addEdge(r[0], r[2] instanceof String ? made[r[2]] : vertex(r[2]))
  for (p in r[3]) { e.property(p.key, p.value) }
}
for (r in setE) {
  def it = graph.edges(org.janusgraph.graphdb.relations.RelationIdentifier.parse(r[0]))
  def e = it.hasNext() ? it.next() : gone('edge', r[0])
  for (p in r[1]) { e.property(p.key, p.value) }
}
[newV.size() + setV.size() + newE.size() + setE.size()]
"""


def _wrap(err: BaseException, what: str, url: str) -> RdgError:
    if isinstance(err, RdgError):
        return err
    if isinstance(err, GremlinServerError):
        status = getattr(err, "status_code", None)
        text = str(getattr(err, "status_message", "") or err).strip().splitlines()
        first = text[0] if text else str(err)
        exceptions = " ".join((getattr(err, "status_exceptions", None) or []))
        if status == 598 or any(word in (first + exceptions) for word in _TRANSIENT):
            return ServerBusyError(f"JanusGraph at {url}: {what} failed, may pass on retry: {first}")
        return ServerError(f"JanusGraph at {url} refused the {what}: {first}",
                           hint="check the query's syntax and names; `rdg graph schema` lists labels")
    return RetryableError(f"JanusGraph at {url} is not reachable during {what}: {type(err).__name__}: {err}",
                          hint="start it with `rdg stack up`, or check gremlin_url")


def _jv(value: Any) -> Any:
    """Integers travel as Long, so JanusGraph's automatic schema never makes an Integer key
    that a later epoch-millisecond value would overflow (Long converts to Integer keys in range)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return long(value)
    return value


def _end(end: tuple[str, Any]) -> Any:
    """An edge endpoint for the apply script: a new vertex's ref (str) or an existing id (Long)."""
    kind, value = end
    return value if kind == "ref" else _jv(value)


class JanusBackend:
    """JanusGraph Server through gremlinpython with janusgraphpython's serializers."""

    name = "janusgraph"
    default_batch_size = 1000
    parallel = 2
    """Requests in flight per ``upsert`` (disjoint chunks): one per core of the 2-core dev machine."""
    read_requests = 2
    """Requests per batch read: vertices, then the edges between them."""

    def __init__(self, url: str, *, username: str | None = None, password: str | None = None,
                 ca_file: str | None = None, pool_size: int = 4, timeout_s: float = 30.0) -> None:
        from janusgraph_python.driver.serializer import JanusGraphBinarySerializersV1

        self.url = url
        kwargs: dict[str, Any] = {"pool_size": pool_size, "message_serializer": JanusGraphBinarySerializersV1()}
        if username:
            kwargs.update(username=username, password=password or "")
        transport: dict[str, Any] = {"read_timeout": timeout_s, "write_timeout": timeout_s,
                                     "max_content_length": 64 * 1024 * 1024}
        try:  # called from async code (the live gateway): the driver then needs nest_asyncio
            asyncio.get_running_loop()
            transport["call_from_event_loop"] = True
        except RuntimeError:
            pass
        if url.startswith("wss://"):
            transport["ssl_options"] = ssl.create_default_context(cafile=ca_file)
        try:
            self._remote = DriverRemoteConnection(url, "g", **kwargs, **transport)
            # scripts (schema changes) may wait for JanusGraph to register an index: a longer read timeout
            self._client = Client(url, "g", **kwargs, **{**transport, "read_timeout": max(timeout_s, 240.0)})
            # the write path's scripts keep the normal timeout
            self._writes = Client(url, "g", **kwargs, **transport)
            self.g = traversal().with_remote(self._remote)
            self.g.inject(1).to_list()  # fail now, with a clear message, if the server is not there
        except Exception as err:  # noqa: BLE001
            self.close()
            wrapped = _wrap(err, "connect", url)
            raise ServerError(wrapped.message, hint="start it with `rdg stack up`, or check gremlin_url") from err

    # -- unit of work: each request is its own transaction on the server ----------------------------
    def begin(self) -> None:
        pass

    def commit(self) -> None:
        pass

    def rollback(self) -> None:
        pass

    # -- writes -----------------------------------------------------------------------------------
    def read_state(self, co: Coalesced) -> tuple[dict[tuple[str, Any], VertexState], dict[Any, EdgeState]]:
        # Two scripts, each answering with one JSON string: decoding GraphBinary maps in pure
        # Python took ~78% of a writer's CPU. Only the properties the plan compares are read.
        vgroups: dict[tuple[str, str], tuple[list[Any], set[str]]] = {}
        for v in co.vertices.values():
            values, names = vgroups.setdefault((v.label, v.key), ([], {v.key, "_ts", "_src"}))
            values.append(_jv(v.key_value))
            for name in v.props:  # the value too: an equal event time is decided by the value (wins)
                names.update((name, f"_ts_{name}"))
        groups = [[label, key, list(part), sorted(names)]
                  for (label, key), (values, names) in vgroups.items() for part in chunks(values, _WITHIN)]
        vertices: dict[tuple[str, Any], VertexState] = {}
        edges: dict[Any, EdgeState] = {}
        if not groups:
            return vertices, edges
        try:
            rows = json.loads(self._script(_READ_VERTICES_SCRIPT, {"groups": groups}))
        except Exception as err:  # noqa: BLE001
            raise _wrap(err, "read of a batch", self.url) from err
        key_of = {label: key for label, key in vgroups}
        for label, vid, props in rows:
            vertices[(label, props.get(key_of[label]))] = VertexState(vid, props)
        pairs, idents, wanted = [], [], {}
        for ident, e in co.edges.items():
            a, b = vertices.get((e.from_vertex[0], e.from_vertex[2])), vertices.get((e.to_vertex[0], e.to_vertex[2]))
            if a is not None and b is not None:  # an edge can only exist between existing vertices
                pairs.append([e.label, _jv(a.id), _jv(b.id)])
                idents.append(ident)
                names = wanted.setdefault(e.label, {"_eids", "count", "first_seen", "last_seen", "_src"})
                for name in e.props:
                    names.update((name, f"_ts_{name}"))
        if pairs:
            try:
                found = json.loads(self._script(_READ_EDGES_SCRIPT, {
                    "pairs": pairs, "wanted": {label: sorted(names) for label, names in wanted.items()}}))
            except Exception as err:  # noqa: BLE001
                raise _wrap(err, "read of a batch", self.url) from err
            for i, eid, props in found:
                edges[idents[i]] = EdgeState(props, eid)
        return vertices, edges

    def _script(self, text: str, bindings: dict[str, Any]) -> Any:
        (result,) = self._writes.submit(text, bindings).all().result()
        return result

    def apply(self, ops: Plan) -> int:
        # One request: the fixed apply script, with the plan as bindings (plain lists, maps and
        # values). Per element it is a structure-API call on the server, with none of the
        # per-traversal strategy work that a mergeV/mergeE per element costs.
        def props(values: dict[str, Any]) -> dict[str, Any]:
            return {k: _jv(v) for k, v in values.items()}

        bindings = {
            "newV": [[nv.label, nv.ref, props(nv.props)] for nv in ops.new_vertices],
            "setV": [[_jv(sv.id), props(sv.props)] for sv in ops.set_vertices],
            "newE": [[ne.label, _end(ne.from_end), _end(ne.to_end), props(ne.props)] for ne in ops.new_edges],
            "setE": [[se.edge_id, props(se.props)] for se in ops.set_edges],
        }
        try:
            self._script(_APPLY_SCRIPT, bindings)
        except Exception as err:  # noqa: BLE001
            raise _wrap(err, "write of a batch", self.url) from err
        return 1

    # -- reads ------------------------------------------------------------------------------------
    def run_query(self, text: str, bindings: dict[str, Any] | None, *, write: bool = False,
                  timeout_s: float | None = None, max_results: int | None = None) -> list[Any]:
        """A user's query, parsed here into bytecode (never a script, so no Groovy runs).
        Read-only (the default): refused if it has a step that writes, and run under
        TinkerPop's ReadOnlyStrategy as well."""
        from gremlin_python.process.strategies import ReadOnlyStrategy

        from rdg.graph._text import parse, parse_read_only

        ms = int(timeout_s * 1000) if timeout_s else None
        source = self.g if write else self.g.with_strategies(ReadOnlyStrategy())
        if ms:
            source = source.with_("evaluationTimeout", ms)
        built = (parse if write else parse_read_only)(text, source, bindings or {})
        if max_results is not None:
            built = built.limit(max_results + 1)
        try:
            return list(built.to_list())
        except Exception as err:  # noqa: BLE001
            raise _wrap(err, "query", self.url) from err

    def query(self, text: str, bindings: dict[str, Any] | None, *, timeout_ms: int | None = None) -> list[Any]:
        """Run a script (rdg's own schema scripts, or a user's query with ``write``)."""
        options = {"evaluationTimeout": timeout_ms} if timeout_ms else None
        try:
            return list(self._client.submit(text, bindings or {}, request_options=options).all().result())
        except Exception as err:  # noqa: BLE001
            raise _wrap(err, "query", self.url) from err

    def storage_problems(self) -> list[str] | None:
        """Not checked from here: JanusGraph's storage backend keeps its own consistency."""
        return None

    def dump(self, labels: list[str] | None = None) -> dict[str, Any]:
        try:
            vs = [(r["id"], r["l"], flat(r["p"])) for r in
                  (self.g.V().has_label(*labels) if labels else self.g.V()).project("id", "l", "p").by(__.id_()).by(__.label()).by(__.value_map()).to_list()]
            es = [(r["l"], r["f"], r["t"], flat(r["p"])) for r in
                  (self.g.V().has_label(*labels).out_e() if labels else self.g.E()).project("l", "f", "t", "p").by(__.label()).by(__.out_v().id_()).by(__.in_v().id_())
                  .by(__.value_map()).to_list()]
        except Exception as err:  # noqa: BLE001
            raise _wrap(err, "dump", self.url) from err
        return build_dump(vs, es)

    # -- schema -----------------------------------------------------------------------------------
    def init_schema(self, model: GraphModel) -> list[str]:
        want = desired(model)
        props = {name: JANUS_TYPES[kind] for name, kind in want.properties.items()}
        bindings = {
            "props": props,
            "vlabels": list(want.vertex_labels),
            "elabels": {k: [list(c) for c in v] for k, v in want.edge_labels.items()},
            "indexes": {k: list(v) for k, v in want.indexes.items()},
            "newKeys": [],
        }
        out = self.query(_SCHEMA_SCRIPT, bindings, timeout_ms=200_000)
        result = out[0] if out else {}
        if result.get("conflicts"):
            raise ConflictError("the graph's schema conflicts with the model: " + "; ".join(result["conflicts"]),
                                hint="JanusGraph cannot change a property's type or an index's keys; rename them")
        changed = list(result.get("changed", []))
        for name in result.get("pending", []):
            # An index on a key that already held data starts INSTALLED: register it, reindex the
            # existing data, enable it. One request per index, after the schema is committed.
            log.info("graph janusgraph: enabling index %s (waits for the server to register it)", name)
            (before, after), = self.query(_ENABLE_SCRIPT, {"name": name}, timeout_ms=60_000)
            if after == "ENABLED":
                changed.append(f"enable index {name} (was {before}; existing data reindexed)")
            else:
                changed.append(f"index {name} is {after}: the server did not register it within 20 s, so "
                               "lookups on it scan; run `rdg graph init` on an empty graph before data arrives")
        return changed

    def schema(self) -> dict[str, Any]:
        out = self.query(_SHOW_SCRIPT, {})
        result = dict(out[0]) if out else {}
        result["backend"] = "janusgraph"
        return result

    def expire(self, model: GraphModel, now_ms: int) -> dict[str, int]:
        dropped: dict[str, int] = {}
        try:
            for e in model.edges:
                if e.ttl_seconds:
                    cutoff = now_ms - e.ttl_seconds * 1000
                    dropped[e.label] = self.g.E().has_label(e.label).has("last_seen", P.lt(cutoff)) \
                        .side_effect(__.drop()).count().next()
            for v in model.vertices:
                if v.ttl_seconds:
                    cutoff = now_ms - v.ttl_seconds * 1000
                    dropped[v.label] = self.g.V().has_label(v.label).has("_ts", P.lt(cutoff)) \
                        .side_effect(__.drop()).count().next()
        except Exception as err:  # noqa: BLE001
            raise _wrap(err, "expire", self.url) from err
        return dropped

    def close(self) -> None:
        """Close the connections; at most a few seconds, even when the server went away
        mid-request (closing a broken gremlinpython connection can wait forever)."""
        def close_all() -> None:
            for closer in ("_remote", "_client", "_writes"):
                obj = getattr(self, closer, None)
                if obj is not None:
                    try:
                        obj.close()
                    except Exception:  # noqa: BLE001 - closing a broken connection
                        pass

        worker = threading.Thread(target=close_all, name="rdg-janus-close", daemon=True)
        worker.start()
        worker.join(_CLOSE_TIMEOUT_S)
        if worker.is_alive():
            log.warning("graph janusgraph: closing the connections to %s took over %.0fs; left to finish alone",
                        self.url, _CLOSE_TIMEOUT_S)
