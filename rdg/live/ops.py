"""Blocking entry points for the CLI and scripts: one call per operator verb or server.

Each opens its own NATS connection from :class:`rdg.config.Settings`, does one thing and
closes it, so ``rdg live start final`` is ``rdg.live.transition(settings, "final", "start")``.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any, Awaitable, Callable, Iterable, TypeVar

from rdg.bus import DEFAULT_NAMESPACE
from rdg.live._model import Action, LiveEvent, Stage, new_event, parse_duration, parse_time
from rdg.live._store import EventStore, LiveNames

log = logging.getLogger("rdg.live")

__all__ = ["create", "get", "list_events", "parse_stage", "run_api", "run_gateway", "run_scheduler", "transition"]

T = TypeVar("T")


def parse_stage(text: str) -> Stage:
    """``name:offset`` (offset like ``0``, ``15m``) into a :class:`Stage`.

    >>> parse_stage("main:15m")
    Stage(name='main', offset_s=900.0, show={})
    """
    from rdg.live._model import ScheduleError

    name, sep, offset = text.partition(":")
    if not name.strip():
        raise ScheduleError(f"bad stage {text!r}", hint="write NAME:OFFSET, e.g. main:15m")
    return Stage(name.strip(), parse_duration(offset) if sep else 0.0)


async def _with_store(settings: Any, namespace: str, fn: Callable[[EventStore], Awaitable[T]]) -> T:
    from rdg.bus import connect_with

    nc = await connect_with(settings, name="rdg-live")
    try:
        return await fn(await EventStore.open(nc, LiveNames(namespace), retention_s=settings.live_retention))
    finally:
        await nc.close()


def create(settings: Any, event_id: str, *, title: str, start: str, end: str | None = None,
           duration: str | None = None, stages: Iterable[str] = (), tags: dict[str, str] | None = None,
           related_titles: Iterable[str] = (), by: str = "operator", namespace: str = DEFAULT_NAMESPACE) -> LiveEvent:
    """Validate and store a new scheduled event (times as accepted by :func:`parse_time`)."""
    from rdg.live._model import ScheduleError

    begin = parse_time(start)
    if end is not None and duration is not None:
        raise ScheduleError("give --end or --duration, not both")
    finish = parse_time(end, now=begin) if end is not None else begin + parse_duration(duration or "2h")
    event = new_event(event_id, title=title, start=begin, end=finish, stages=[parse_stage(s) for s in stages],
                      tags=tags, related_titles=related_titles, by=by)
    return asyncio.run(_with_store(settings, namespace, lambda st: st.create(event)))


def get(settings: Any, event_id: str, *, namespace: str = DEFAULT_NAMESPACE) -> LiveEvent:
    """One event with its history."""
    return asyncio.run(_with_store(settings, namespace, lambda st: st.get(event_id)))


def list_events(settings: Any, *, namespace: str = DEFAULT_NAMESPACE) -> list[LiveEvent]:
    """Every event, soonest first."""
    return asyncio.run(_with_store(settings, namespace, lambda st: st.list()))


def transition(settings: Any, event_id: str, action: Action | str, *, by: str = "operator",
               namespace: str = DEFAULT_NAMESPACE, **kwargs: Any) -> LiveEvent:
    """Apply one operator action (``delay`` with ``new_start=``, ``stage`` with optional ``stage=``)."""
    return asyncio.run(_with_store(settings, namespace, lambda st: st.transition(event_id, action, by=by, **kwargs)))


async def _until_signal(main: Awaitable[Any]) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    task = asyncio.ensure_future(main)
    waiter = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    for pending in (task, waiter):
        pending.cancel()
    await asyncio.gather(task, waiter, return_exceptions=True)
    if task.done() and not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]


def run_scheduler(settings: Any, *, namespace: str = DEFAULT_NAMESPACE, name: str = "scheduler") -> None:
    """Run a scheduler until SIGINT/SIGTERM."""
    from rdg.live._scheduler import Scheduler

    async def main() -> None:
        async def go(store: EventStore) -> None:
            sched = Scheduler(store, name=name)
            log.info("scheduler following %s", store.names.bucket)
            await sched.run()

        await _with_store(settings, namespace, go)

    asyncio.run(_until_signal(main()))


def run_gateway(settings: Any, *, host: str = "127.0.0.1", port: int = 8765, namespace: str = DEFAULT_NAMESPACE,
                ready: Callable[[str], None] | None = None) -> None:
    """Run a WebSocket gateway until SIGINT/SIGTERM; ``ready(url)`` is called once it listens."""
    from rdg.bus import connect_with
    from rdg.live._gateway import Gateway

    async def main() -> None:
        nc = await connect_with(settings, name="rdg-live-gateway")
        gateway = await Gateway(nc, LiveNames(namespace), host=host, port=port).start()
        if ready is not None:
            ready(gateway.url)
        try:
            await gateway.serve_forever()
        finally:
            await gateway.close()
            await nc.close()

    asyncio.run(_until_signal(main()))


def run_api(settings: Any, *, host: str = "127.0.0.1", port: int = 8080, namespace: str = DEFAULT_NAMESPACE,
            max_age_s: float = 300.0, jitter: float = 0.2, graph_url: str | None = None,
            log_level: str = "warning") -> None:
    """Serve the prefetch API with uvicorn until SIGINT/SIGTERM."""
    import uvicorn

    from rdg.bus import connect_with
    from rdg.live._api import PrefetchService, create_app

    url = graph_url or settings.gremlin_url

    def open_graph() -> Any:
        from rdg.graph import connect as graph_connect

        return graph_connect(url, settings=settings)

    class _Lazy:
        """Connects NATS inside uvicorn's event loop, then hands over to the real app."""

        def __init__(self) -> None:
            self.app: Any = None
            self.nc: Any = None

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "lifespan" and self.app is None:
                self.nc = await connect_with(settings, name="rdg-live-api")
                store = await EventStore.open(self.nc, LiveNames(namespace))
                service = PrefetchService(store, open_graph, max_age_s=max_age_s, jitter=jitter)
                self.app = create_app(service)
            await self.app(scope, receive, send)
            if scope["type"] == "lifespan" and self.nc is not None:
                await self.nc.close()

    uvicorn.run(_Lazy(), host=host, port=port, log_level=log_level, access_log=False, lifespan="on")
