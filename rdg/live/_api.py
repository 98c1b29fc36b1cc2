"""The prefetch API (Starlette on uvicorn): per member, materialised recommendations for upcoming events.

``GET /v1/members/{member_id}/live`` returns the member's ranked upcoming events, each with
its full stage -> content map, and ``Cache-Control: private, max-age=N`` where ``N`` is the
base lifetime with random jitter (so devices that fetched together do not all expire together).
Responses are materialised per member and reused until an event's schedule changes (any new
seq seen on the KV watch), then recomputed on the next request; concurrent requests for the
same member share one computation. Graph reads run on one worker thread that owns the graph
connection.

Other routes: ``GET /v1/events``, ``GET /v1/events/{event_id}``, ``GET /v1/stats`` (requests
per 100 ms at the member route: the origin load), ``GET /healthz``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
from collections import Counter, OrderedDict
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rdg.errors import NotFoundError, RdgError
from rdg.live._model import LiveEvent, check_event_id
from rdg.live._recommend import GraphShape, Recommender
from rdg.live._store import EventStore

log = logging.getLogger("rdg.live.api")

__all__ = ["PrefetchService", "create_app", "jittered_max_age"]

_MEMBER = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")
BUCKET_MS = 100


def jittered_max_age(base_s: float, jitter: float, rng: random.Random | None = None) -> int:
    """A cache lifetime of ``base_s`` seconds +- ``jitter`` (a fraction), at least 1 second.

    >>> ages = {jittered_max_age(300, 0.2, random.Random(i)) for i in range(50)}
    >>> min(ages) >= 240 and max(ages) <= 360 and len(ages) > 10
    True
    """
    rng = rng or random
    return max(1, round(base_s * (1.0 + rng.uniform(-jitter, jitter))))


class PrefetchService:
    """Keeps the events (from the KV watch) and the materialised per-member responses.

    Args:
        store: The event store (its KV is watched).
        graph_factory: Opens the graph (a :class:`rdg.graph.Graph` or a bare traversal source);
            called once, on the graph worker thread, which alone uses it.
        shape: Graph labels and keys the recommender reads.
        max_age_s: Base cache lifetime of a response.
        jitter: Fraction of ``max_age_s`` by which each response's lifetime varies.
        max_members: Most members whose response is kept materialised; the least recently asked
            is dropped first (computed again if asked again).
    """

    def __init__(self, store: EventStore, graph_factory: Callable[[], Any], *, shape: GraphShape | None = None,
                 max_age_s: float = 300.0, jitter: float = 0.2, seed: int | None = None,
                 max_members: int = 100_000) -> None:
        if not 0 <= jitter < 1:
            raise RdgError(f"jitter must be in [0, 1), not {jitter}", hint="e.g. 0.2 for +-20%")
        self.store = store
        self.graph_factory = graph_factory
        self.shape = shape
        self.max_age_s = max_age_s
        self.jitter = jitter
        self.rng = random.Random(seed)
        self.events: dict[str, LiveEvent] = {}
        self.generation = 0
        self.max_members = max_members
        self.materialised: OrderedDict[str, tuple[int, bytes]] = OrderedDict()  # least recently asked first
        self.computations = 0
        self.origin: Counter[int] = Counter()
        self._inflight: dict[str, asyncio.Future[bytes]] = {}
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="rdg-graph")
        self._recommender: Recommender | None = None
        self._graph: Any = None
        self._watch: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    async def start(self) -> None:
        """Start following the event KV (returns once the current events are loaded)."""
        self._watch = asyncio.create_task(self._follow())
        await asyncio.wait_for(self.ready.wait(), 30)

    async def close(self) -> None:
        """Stop the watch and the graph thread."""
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
        graph = self._graph
        if graph is not None and hasattr(graph, "close"):
            await asyncio.get_running_loop().run_in_executor(self._pool, graph.close)
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _follow(self) -> None:
        async for _ in self.store.follow(self.events, self.ready):
            self.generation += 1  # schedule changed: responses are recomputed on next request

    def _rank_sync(self, member_id: str, events: list[LiveEvent]) -> bytes:
        if self._recommender is None:
            self._graph = self.graph_factory()  # opened on this thread, which alone uses it
            self._recommender = Recommender(getattr(self._graph, "g", self._graph), self.shape)
        recs = self._recommender.rank(member_id, events)
        body = {"member_id": member_id, "generated_at": time.time(), "generation": self.generation,
                "events": [r.as_dict() for r in recs]}
        return json.dumps(body, separators=(",", ":")).encode()

    async def for_member(self, member_id: str) -> bytes:
        """The materialised response body for ``member_id`` (computed now if stale or missing)."""
        generation = self.generation
        hit = self.materialised.get(member_id)
        if hit is not None and hit[0] == generation:
            self.materialised.move_to_end(member_id)
            return hit[1]
        pending = self._inflight.get(member_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._inflight[member_id] = future
        try:
            body = await asyncio.get_running_loop().run_in_executor(
                self._pool, self._rank_sync, member_id, list(self.events.values()))
            self.computations += 1
            self.materialised[member_id] = (generation, body)
            self.materialised.move_to_end(member_id)
            while len(self.materialised) > self.max_members:
                self.materialised.popitem(last=False)
            future.set_result(body)
            return body
        except BaseException as err:
            future.set_exception(err)
            future.exception()  # mark retrieved
            raise
        finally:
            self._inflight.pop(member_id, None)

    def count_origin(self) -> None:
        """Count one request at the origin in the current 100 ms bucket."""
        self.origin[int(time.time() * 1000) // BUCKET_MS] += 1


def create_app(service: PrefetchService, *, manage_lifecycle: bool = True) -> Starlette:
    """The ASGI app over ``service`` (which it starts and closes if ``manage_lifecycle``)."""

    async def member_live(request: Request) -> Response:
        service.count_origin()
        member_id = request.path_params["member_id"]
        if not _MEMBER.match(member_id):
            return _error(400, f"bad member id {member_id[:40]!r}", "use 1-128 letters, digits or -_.:@")
        try:
            body = await service.for_member(member_id)
        except RdgError as err:
            return _error(503, str(err), "the graph is unavailable; retry later")
        except Exception as err:  # noqa: BLE001 - a graph driver error: say so, keep serving
            log.exception("recommendations for %s failed", member_id)
            return _error(503, f"could not compute recommendations: {type(err).__name__}: {err}", "retry later")
        max_age = jittered_max_age(service.max_age_s, service.jitter, service.rng)
        return Response(body, media_type="application/json",
                        headers={"Cache-Control": f"private, max-age={max_age}",
                                 "X-Rdg-Generation": str(service.generation)})

    async def events(request: Request) -> Response:
        items = sorted(service.events.values(), key=lambda e: (e.start, e.event_id))
        return JSONResponse({"events": [{**e.message(), "title": e.title, "start": e.start, "end": e.end}
                                        for e in items]})

    async def event(request: Request) -> Response:
        event_id = request.path_params["event_id"]
        try:
            check_event_id(event_id)
            found = service.events.get(event_id)
            if found is None:
                raise NotFoundError(f"no live event {event_id!r}", hint="GET /v1/events lists them")
        except RdgError as err:
            return _error(404 if isinstance(err, NotFoundError) else 400, err.message, err.hint)
        return JSONResponse(found.as_dict())

    async def stats(request: Request) -> Response:
        counts = sorted(service.origin.items())
        return JSONResponse({"bucket_ms": BUCKET_MS, "counts": [[b * BUCKET_MS, n] for b, n in counts],
                             "computations": service.computations, "generation": service.generation,
                             "materialised": len(service.materialised)})

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": service.ready.is_set(), "events": len(service.events)})

    async def lifespan(app: Starlette) -> Any:
        if manage_lifecycle:
            await service.start()
        yield
        if manage_lifecycle:
            await service.close()

    routes = [
        Route("/v1/members/{member_id}/live", member_live),
        Route("/v1/events", events),
        Route("/v1/events/{event_id}", event),
        Route("/v1/stats", stats),
        Route("/healthz", health),
    ]
    return Starlette(routes=routes, lifespan=asynccontextmanager(lifespan))


def _error(status: int, message: str, hint: str | None) -> JSONResponse:
    return JSONResponse({"error": message, "hint": hint}, status_code=status)
