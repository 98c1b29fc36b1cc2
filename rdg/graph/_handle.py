"""The graph handle: one API (upsert, query, dump, schema) over either backend.

A backend only knows how to read the state of a batch's elements, apply a :class:`Plan` as one
request (one transaction), run Gremlin text and manage schema. Everything else (coalescing,
last-write-wins, event-id dedup, chunking, retries with backoff, bisecting a failing batch)
lives here once, so both backends behave the same.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable, Protocol, Sequence

from rdg.errors import RetryableError, ServerBusyError, ServerError
from rdg.graph._model import EdgeWrite, GraphModel, UpsertResult, VertexWrite
from rdg.graph._plan import CoEdge, Coalesced, CoVertex, EdgeState, Owns, Plan, VertexState, coalesce, plan
from rdg.graph._text import QueryTooLargeError

__all__ = ["Backend", "Graph"]

log = logging.getLogger("rdg.graph")

EdgeKey = tuple[str, str, Any, str, Any]


class Backend(Protocol):
    """What a storage backend provides to :class:`Graph`."""

    name: str
    g: Any
    default_batch_size: int
    parallel: int
    """Requests an ``upsert`` may have in flight at once (disjoint chunks)."""
    read_requests: int
    """Requests one batch read costs (for the progress counters)."""

    def read_state(self, co: Coalesced) -> tuple[dict[tuple[str, Any], VertexState], dict[EdgeKey, EdgeState]]:
        """Current state of every vertex and edge named in ``co`` (missing ones are absent)."""

    def apply(self, ops: Plan) -> int:
        """Apply ``ops`` in one request/transaction; returns the number of requests sent."""

    def begin(self) -> None:
        """Start a unit of work (embedded: a transaction spanning read and apply)."""

    def commit(self) -> None:
        """Finish the unit of work."""

    def rollback(self) -> None:
        """Abandon the unit of work."""

    def run_query(self, text: str, bindings: dict[str, Any] | None, *, write: bool = False,
                  timeout_s: float | None = None, max_results: int | None = None) -> list[Any]:
        """Run a user's Gremlin text with bindings; read-only unless ``write``. A read-only query
        ends with ``limit(max_results + 1)`` when ``max_results`` is given."""

    def storage_problems(self) -> list[str] | None:
        """A full storage check's findings, or ``None`` where the backend checks itself."""

    def init_schema(self, model: GraphModel) -> list[str]:
        """Create what ``model`` needs; returns what changed."""

    def schema(self) -> dict[str, Any]:
        """What schema exists."""

    def dump(self, labels: list[str] | None = None) -> dict[str, Any]:
        """Every vertex and edge (only ``labels`` and their out-edges, if given), deterministic order."""

    def expire(self, model: GraphModel, now_ms: int) -> dict[str, int]:
        """Drop elements of labels with a TTL not written since ``now_ms - ttl``."""

    def close(self) -> None:
        """Release connections and files."""


def _permanent(err: Exception) -> bool:
    return not isinstance(err, RetryableError)


_PARALLEL_FROM = 1000
"""Batches of at least this many elements are written with several requests in flight."""


class Graph:
    """A connected graph: JanusGraph Server or the embedded store (see :func:`rdg.graph.connect`).

    Args:
        backend: The storage backend.
        batch_size: Elements per request (default: the backend's, tuned by ``bench/graph.py``).
        retries: Attempts after the first for a request that fails with a retryable error.
        backoff_s: First retry delay; doubles each attempt.
    """

    def __init__(self, backend: Backend, *, batch_size: int | None = None, retries: int = 4,
                 backoff_s: float = 0.2, sleep: Callable[[float], None] = time.sleep) -> None:
        self._backend = backend
        self.batch_size = batch_size or backend.default_batch_size
        self.retries = retries
        self.backoff_s = backoff_s
        self._sleep = sleep

    @property
    def backend(self) -> str:
        """``embedded`` or ``janusgraph``."""
        return self._backend.name

    @property
    def g(self) -> Any:
        """A gremlinpython ``GraphTraversalSource`` bound to this graph (both backends)."""
        return self._backend.g

    def __enter__(self) -> "Graph":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close connections (JanusGraph) or the database file (embedded)."""
        self._backend.close()

    # -- schema -----------------------------------------------------------------------------
    def init_schema(self, model: GraphModel) -> list[str]:
        """Create property keys, labels and a composite index per vertex key; idempotent.

        Returns:
            One line per change made (empty on a second run).

        Raises:
            ConflictError: The graph already defines a name differently (e.g. another type).
        """
        return self._backend.init_schema(model)

    def schema(self) -> dict[str, Any]:
        """What exists: vertex labels, edge labels, property keys (with types) and indexes."""
        return self._backend.schema()

    def expire(self, model: GraphModel, *, now_ms: int | None = None) -> dict[str, int]:
        """Drop vertices and edges of labels with ``ttl_seconds`` whose last write is older.

        Returns:
            Dropped element counts per label.
        """
        now = int(time.time() * 1000) if now_ms is None else now_ms
        return self._backend.expire(model, now)

    # -- reads ------------------------------------------------------------------------------
    def query(self, text: str, bindings: dict[str, Any] | None = None, *, write: bool = False,
              timeout_s: float | None = None, max_results: int | None = None) -> list[Any]:
        """Run Gremlin text; values go in ``bindings``, never into the text.

        Read-only unless ``write``: the text is parsed here into bytecode (a subset of Gremlin:
        see ``docs/graph.md``) and a query with a step that changes the graph is refused; on
        JanusGraph it also runs under TinkerPop's ReadOnlyStrategy. With ``write`` too, the text
        becomes bytecode: no script is ever sent, so no Groovy runs on the server.

        ``max_results`` bounds a read-only query's answer: the server stops after one more
        than that, and the query fails rather than return a truncated answer.

        Raises:
            QueryWritesError: The query would change the graph and ``write`` is false.
            QueryTooLargeError: A read-only query has more than ``max_results`` results.
            RdgTimeoutError: It ran longer than ``timeout_s`` (stopped).
            GremlinSyntaxError: The text is not in the supported grammar.
        """
        results = self._backend.run_query(text, bindings, write=write, timeout_s=timeout_s,
                                          max_results=None if write else max_results)
        if max_results is not None and not write and len(results) > max_results:
            raise QueryTooLargeError(f"the query returns more than {max_results:,} results",
                                     hint="narrow it (has(), limit(), count()), or raise --max-results / "
                                          "query_max_results")
        return results

    def storage_problems(self) -> list[str] | None:
        """A full check of the storage itself: the embedded graph's SQLite ``integrity_check``
        (``[]`` when sound, else its findings); ``None`` on JanusGraph (not checked from here).
        Slower than the quick check every open runs: it reads every page and every index."""
        return self._backend.storage_problems()

    def dump(self, *, labels: list[str] | None = None) -> dict[str, Any]:
        """A full, deterministic dump: ``{"vertices": [...], "edges": [...]}`` with all properties.

        Args:
            labels: Only these vertex labels and the edges out of them (default: everything).
        """
        return self._backend.dump(labels)

    # -- writes -----------------------------------------------------------------------------
    def upsert(self, writes: Sequence[VertexWrite | EdgeWrite] | Iterable[VertexWrite | EdgeWrite], *,
               owns: Owns | None = None, ends: Sequence[EdgeWrite] = ()) -> UpsertResult:
        """Write vertices and edges idempotently, in batches of ``batch_size`` per request.

        Last write wins by event time per property (also within the batch); an edge is unique
        per (from, label, to) and keeps ``first_seen``, ``last_seen`` and an exact ``count``
        (replayed event ids are not counted twice); missing endpoints are created with their
        key only. A request failing with a server error is retried with backoff; one that
        still fails is split in halves until the bad element is isolated and reported in
        :attr:`UpsertResult.failed` with the reason.

        Args:
            writes: The writes, in any order.
            owns: For one of several writers sharing the graph (``rdg.pipeline``'s graph
                writers): the vertex identities this writer owns. Only those are created or
                changed, only edges out of them are written, and an edge whose in-vertex is
                another writer's and missing comes back in :attr:`UpsertResult.deferred`.
            ends: Edges written by another writer, here only so their in-vertex (if this writer
                owns it) exists: created key-only when missing, the edge itself not touched.

        Raises:
            ServerError: The server stayed unreachable through every retry.
        """
        co = coalesce(writes, ends)
        result = UpsertResult(failed=list(co.failed))
        vertices: list[CoVertex | CoEdge] = list(co.vertices.values())
        edges: list[CoVertex | CoEdge] = list(co.edges.values())
        size = self.batch_size
        workers = max(1, self._backend.parallel)
        if workers == 1 or len(vertices) + len(edges) < _PARALLEL_FROM:
            items = vertices + edges  # edges after the vertices they need
            for start in range(0, len(items), size):
                self._write(items[start:start + size], co, result, owns)
            return result
        # Several requests in flight: first every vertex (chunks are disjoint by identity), then
        # every edge (each edge in one chunk, its endpoints exist by then), so no two requests
        # ever create or update the same element. Each phase is split evenly over the workers
        # (a 1,300-element batch as 650 + 650, not 1,000 + 300).
        for phase in (vertices, edges):
            step = min(size, max(1, -(-len(phase) // workers)))
            parts = [phase[i:i + step] for i in range(0, len(phase), step)]
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rdg-upsert") as pool:
                for part_result in pool.map(lambda part: self._write_part(part, co, owns), parts):
                    result.vertices += part_result.vertices
                    result.edges += part_result.edges
                    result.requests += part_result.requests
                    result.failed.extend(part_result.failed)
                    result.deferred.extend(part_result.deferred)
        return result

    def _write_part(self, items: Sequence[CoVertex | CoEdge], co: Coalesced, owns: Owns | None) -> UpsertResult:
        out = UpsertResult()
        self._write(items, co, out, owns)
        return out

    def _sub(self, items: Sequence[CoVertex | CoEdge], co: Coalesced) -> Coalesced:
        sub = Coalesced()
        for it in items:
            if isinstance(it, CoVertex):
                sub.vertices[it.identity] = it
        for it in items:
            if isinstance(it, CoEdge):
                sub.edges[it.identity] = it
                for end in (it.from_vertex, it.to_vertex):
                    ident = (end[0], end[2])
                    if ident not in sub.vertices:
                        full = co.vertices[ident]
                        # key-only: the endpoint's own properties are written with its own chunk
                        sub.vertices[ident] = CoVertex(full.label, full.key, full.key_value, ts=full.ts,
                                                       source=full.source,
                                                       writes=[w for w in full.writes if isinstance(w, EdgeWrite)])
        return sub

    def _attempt(self, sub: Coalesced, owns: Owns | None) -> tuple[int, list[CoEdge]]:
        """One read + apply; returns (requests, edges deferred)."""
        self._backend.begin()
        try:
            vstate, estate = self._backend.read_state(sub)
            ops = plan(sub, vstate, estate, owns)
            requests = self._backend.read_requests
            if len(ops):
                requests += self._backend.apply(ops)
            self._backend.commit()
            return requests, ops.deferred
        except BaseException:
            self._backend.rollback()
            raise

    def _write(self, items: Sequence[CoVertex | CoEdge], co: Coalesced, result: UpsertResult,
               owns: Owns | None = None) -> None:
        sub = self._sub(items, co)
        delay = self.backoff_s
        for attempt in range(self.retries + 1):
            try:
                requests, deferred = self._attempt(sub, owns)
                result.requests += requests
                result.vertices += sum(1 for it in items if isinstance(it, CoVertex)
                                       and (owns is None or owns(it.identity)))
                result.edges += sum(1 for it in items if isinstance(it, CoEdge)
                                    and (owns is None or owns((it.from_vertex[0], it.from_vertex[2])))) - len(deferred)
                result.deferred.extend(w for e in deferred for w in e.writes if isinstance(w, EdgeWrite))
                return
            except ServerError as err:
                if _permanent(err):
                    last: ServerError = err
                    break
                last = err
                if attempt < self.retries:
                    log.warning("graph %s: batch of %d failed (%s); retry %d/%d in %.1fs", self.backend,
                                len(items), err, attempt + 1, self.retries, delay)
                    self._sleep(delay)
                    delay *= 2
        else:
            if not isinstance(last, ServerBusyError):  # unreachable: nothing to bisect
                raise ServerError(f"graph {self.backend}: giving up after {self.retries + 1} attempts: {last}",
                                  hint="check that the graph server is up (`rdg stack status`)") from last
        if len(items) == 1:
            own = [w for w in items[0].writes if isinstance(items[0], CoEdge) or isinstance(w, VertexWrite)]
            for w in own or items[0].writes:
                result.failed.append((w, str(last.message if hasattr(last, "message") else last)))
            log.error("graph %s: element %r failed: %s", self.backend, items[0].identity, last)
            return
        mid = len(items) // 2
        log.warning("graph %s: batch of %d failed for good (%s); splitting to find the bad element",
                    self.backend, len(items), last)
        self._write(items[:mid], co, result, owns)
        self._write(items[mid:], co, result, owns)
