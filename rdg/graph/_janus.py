"""JanusGraph Server over WebSocket: GraphBinary with JanusGraph's types, a connection pool,
basic auth and TLS.

An upsert batch costs at most four requests: one traversal reads the state of every element of
the batch (a ``union`` of ``has(label, key, within(...))`` lookups, served by the composite
index), then fixed-shape traversals over injected lists: ``addV`` for new vertices, ``mergeV`` by id
for changed ones, ``mergeE`` by endpoint ids for edges. Each request is its own transaction; if the edge request fails after the vertex
one, the retry reads the vertices back and plans only what is still missing, so the batch
still lands exactly once. Values travel as bytecode arguments, never as Gremlin text.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any

from gremlin_python.driver.client import Client
from gremlin_python.driver.driver_remote_connection import DriverRemoteConnection
from gremlin_python.driver.protocol import GremlinServerError
from gremlin_python.process.anonymous_traversal import traversal
from gremlin_python.process.graph_traversal import __
from gremlin_python.process.traversal import Column, Direction, Merge, P, T
from gremlin_python.statics import long

from rdg.errors import ConflictError, RdgError, RetryableError, ServerError
from rdg.graph._dump import build_dump, flat
from rdg.graph._model import GraphModel
from rdg.graph._plan import Coalesced, EdgeState, Plan, VertexState, chunks
from rdg.graph._schema import JANUS_TYPES, desired

__all__ = ["JanusBackend"]

log = logging.getLogger("rdg.graph")

_WITHIN = 1000
_TRANSIENT = ("TemporaryBackendException", "TemporaryLockingException", "PermanentLockingException",
              "Lock", "timeout", "Timeout", "TimedOut",
              # two transactions creating the same new label or property key (automatic schema)
              "Could not commit transaction due to exception during persistence")

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


def _wrap(err: BaseException, what: str, url: str) -> RdgError:
    if isinstance(err, RdgError):
        return err
    if isinstance(err, GremlinServerError):
        status = getattr(err, "status_code", None)
        text = str(getattr(err, "status_message", "") or err).strip().splitlines()
        first = text[0] if text else str(err)
        exceptions = " ".join((getattr(err, "status_exceptions", None) or []))
        if status == 598 or any(word in (first + exceptions) for word in _TRANSIENT):
            err_ = RetryableError(f"JanusGraph at {url}: {what} failed, may pass on retry: {first}")
            err_.server_responded = True  # type: ignore[attr-defined]  # bisect if it never passes
            return err_
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


def _end(end: tuple[str, Any], ids: dict[str, Any]) -> Any:
    """The vertex id of an edge endpoint: an existing id, or a vertex just created by ref."""
    kind, value = end
    return ids[value] if kind == "ref" else value


class JanusBackend:
    """JanusGraph Server through gremlinpython with janusgraphpython's serializers."""

    name = "janusgraph"
    default_batch_size = 500
    parallel = 2
    """Requests in flight per ``upsert`` (disjoint chunks): one per core of the 2-core dev machine."""

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
        branches = []
        vgroups: dict[tuple[str, str], list[Any]] = {}
        for v in co.vertices.values():
            vgroups.setdefault((v.label, v.key), []).append(v.key_value)
        for (label, key), values in vgroups.items():
            for part in chunks(values, _WITHIN):
                branches.append(__.V().has(label, key, P.within(list(part)))
                                .project("t", "l", "k", "id", "p").by(__.constant("v")).by(__.constant(label))
                                .by(__.constant(key)).by(__.id_()).by(__.value_map()))
        egroups: dict[tuple[str, str, str, str, str], tuple[set[Any], set[Any]]] = {}
        for e in co.edges.values():
            grp = egroups.setdefault((e.label, e.from_vertex[0], e.from_vertex[1], e.to_vertex[0], e.to_vertex[1]),
                                     (set(), set()))
            grp[0].add(e.from_vertex[2])
            grp[1].add(e.to_vertex[2])
        for (label, fl, fk, tl, tk), (fvals, tvals) in egroups.items():
            branches.append(__.V().has(fl, fk, P.within(sorted(fvals, key=repr))).out_e(label)
                            .where(__.in_v().has(tl, tk, P.within(sorted(tvals, key=repr))))
                            .project("t", "l", "fl", "f", "tl", "to", "p").by(__.constant("e")).by(__.constant(label))
                            .by(__.constant(fl)).by(__.out_v().values(fk)).by(__.constant(tl))
                            .by(__.in_v().values(tk)).by(__.value_map()))
        vertices: dict[tuple[str, Any], VertexState] = {}
        edges: dict[Any, EdgeState] = {}
        if not branches:
            return vertices, edges
        try:
            rows = self.g.inject(1).union(*branches).to_list()
        except Exception as err:  # noqa: BLE001
            raise _wrap(err, "read of a batch", self.url) from err
        for row in rows:
            props = flat(row["p"])
            if row["t"] == "v":
                vertices[(row["l"], props.get(row["k"]))] = VertexState(row["id"], props)
            else:
                edges.setdefault((row["l"], row["fl"], row["f"], row["tl"], row["to"]), EdgeState(props))
        return vertices, edges

    def apply(self, ops: Plan) -> int:
        # Fixed-shape traversals: the batch travels as one injected list that the traversal
        # unfolds, so the bytecode has the same few steps whatever the batch size (a traversal
        # chained per element costs the server strategy work per step). New vertices go first
        # and return their ids, which the edges of the same plan then name. Every lookup here
        # is by vertex id, so none depends on an index being enabled.
        requests = 0
        ids: dict[str, Any] = {}
        new_rows = [{"r": nv.ref, "l": nv.label, "p": {k: _jv(v) for k, v in nv.props.items()}}
                    for nv in ops.new_vertices]
        set_rows = [{"m": {T.id: sv.id}, "p": {k: _jv(v) for k, v in sv.props.items()}}
                    for sv in ops.set_vertices]
        try:
            if new_rows:  # the read found none of these: add them, no lookup (needs no index)
                rows = (self.g.inject(new_rows).unfold().as_("row")
                        .add_v(__.select("row").select("l")).as_("v")
                        .side_effect(__.select("row").select("p").unfold().as_("kv").select("v")
                                     .property(__.select("kv").by(Column.keys), __.select("kv").by(Column.values)))
                        .project("r", "id").by(__.select("row").select("r")).by(__.id_()).to_list())
                requests += 1
                ids = {row["r"]: row["id"] for row in rows}
            if set_rows:  # existing vertices, matched by id
                (self.g.inject(set_rows).unfold().as_("row")
                 .merge_v(__.select("row").select("m"))
                 .option(Merge.on_match, __.select("row").select("p")).iterate())
                requests += 1
            erows: list[dict[str, Any]] = []
            for ne in ops.new_edges:
                props = {k: _jv(v) for k, v in ne.props.items()}
                match = {T.label: ne.label, Direction.OUT: _end(ne.from_end, ids), Direction.IN: _end(ne.to_end, ids)}
                erows.append({"m": match, "c": props, "s": {}})
            for se in ops.set_edges:
                props = {k: _jv(v) for k, v in se.props.items()}
                erows.append({"m": {T.label: se.label, Direction.OUT: se.from_id, Direction.IN: se.to_id},
                              "c": props, "s": props})
            if erows:
                (self.g.inject(erows).unfold().as_("row")
                 .merge_e(__.select("row").select("m"))
                 .option(Merge.on_create, __.select("row").select("c"))
                 .option(Merge.on_match, __.select("row").select("s")).iterate())
                requests += 1
        except Exception as err:  # noqa: BLE001
            raise _wrap(err, "write of a batch", self.url) from err
        return requests

    # -- reads ------------------------------------------------------------------------------------
    def query(self, text: str, bindings: dict[str, Any] | None, *, timeout_ms: int | None = None) -> list[Any]:
        options = {"evaluationTimeout": timeout_ms} if timeout_ms else None
        try:
            return list(self._client.submit(text, bindings or {}, request_options=options).all().result())
        except Exception as err:  # noqa: BLE001
            raise _wrap(err, "query", self.url) from err

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
        for closer in ("_remote", "_client"):
            obj = getattr(self, closer, None)
            if obj is not None:
                try:
                    obj.close()
                except Exception:  # noqa: BLE001 - closing a broken connection
                    pass
