"""The scheduler: fires each event's transitions at their times and follows schedule changes.

It watches the KV bucket (so a delay, an early start or an early end made by an operator is
seen at once), keeps the newest record of every event, and sleeps until the earliest due
transition: ``start`` at the start time, each ``stage`` at start + its offset, ``end`` at the
expected end. Transitions go through :meth:`EventStore.transition` (compare-and-set), so
several schedulers may run: one wins, the others see an illegal transition and move on.
A transition is never fired before its time, so a stage is never broadcast before it happens.
Every change it sees is re-published (de-duplicated by ``event_id:seq``): at-least-once
broadcast even if the writer died between its KV write and its publish.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable

from rdg.errors import ConflictError, IllegalActionError, NotFoundError, RdgError
from rdg.live._model import Action, LiveEvent, State
from rdg.live._store import EventStore

log = logging.getLogger("rdg.live.scheduler")

__all__ = ["Scheduler", "next_due"]


def next_due(event: LiveEvent) -> tuple[float, Action, str | None] | None:
    """The next transition the schedule calls for: ``(when, action, stage)``, or ``None``.

    >>> from rdg.live._model import new_event, Stage, apply
    >>> ev = new_event("e", title="t", start=100.0, end=500.0, stages=[Stage("pre", 0), Stage("main", 60)])
    >>> next_due(ev)
    (100.0, <Action.START: 'start'>, None)
    >>> next_due(apply(ev, "start", by="s", now=100.0))
    (160.0, <Action.STAGE: 'stage'>, 'main')
    """
    if event.state in (State.SCHEDULED, State.DELAYED):
        return (event.start, Action.START, None)
    if event.state is State.LIVE:
        nxt = event.next_stage
        if nxt is not None and event.start + nxt.offset_s < event.end:
            return (event.start + nxt.offset_s, Action.STAGE, nxt.name)
        return (event.end, Action.END, None)
    return None


class Scheduler:
    """Run with ``await Scheduler(store).run()``; stop with :meth:`stop`.

    Args:
        store: The event store.
        clock: Returns epoch seconds (tests may pass their own).
        name: Written into the history as ``by``.
    """

    def __init__(self, store: EventStore, *, clock: Callable[[], float] = time.time,
                 name: str = "scheduler") -> None:
        self.store = store
        self.clock = clock
        self.name = name
        self.events: dict[str, LiveEvent] = {}
        self.fired: list[tuple[str, str, float]] = []
        self.passes = 0
        """How many times it has looked for due transitions (tests wait on it after moving a clock)."""
        self._changed = asyncio.Event()
        self._stopping = asyncio.Event()
        self.ready = asyncio.Event()

    def wake(self) -> None:
        """Look at the clock and the events again now (a test that moves its own clock calls it)."""
        self._changed.set()

    def stop(self) -> None:
        """Ask :meth:`run` to return."""
        self._stopping.set()
        self._changed.set()

    async def run(self) -> None:
        """Watch the KV and fire due transitions until :meth:`stop`."""
        watch = asyncio.create_task(self._watch())
        try:
            while not self._stopping.is_set():
                await self._fire_due()
                self.passes += 1
                if watch.done():
                    watch.result()  # re-raise what killed the watcher
                self._changed.clear()
                wait = self._seconds_to_next()
                try:
                    await asyncio.wait_for(self._changed.wait(), timeout=wait)
                except asyncio.TimeoutError:
                    pass
        finally:
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)

    async def _watch(self) -> None:
        async for event in self.store.follow(self.events, self.ready):
            try:
                await self.store.publish(event)
            except RdgError as err:
                log.warning("re-publish of %s seq %d failed: %s", event.event_id, event.seq, err)
            self._changed.set()

    def _seconds_to_next(self) -> float:
        dues = [d[0] for d in (next_due(e) for e in self.events.values()) if d is not None]
        if not dues:
            return 5.0
        return max(0.0, min(min(dues) - self.clock(), 5.0))

    async def _fire_due(self) -> None:
        now = self.clock()
        for event_id, event in list(self.events.items()):
            due = next_due(event)
            if due is None or due[0] > now:
                continue
            _, action, stage = due
            kwargs = {"stage": stage} if stage else {}
            try:
                updated = await self.store.transition(event_id, action, by=self.name, now=self.clock(),
                                                      expect_seq=event.seq, **kwargs)
            except (IllegalActionError, ConflictError) as err:
                log.info("skipping %s of %s: %s", action.value, event_id, err)
                try:
                    self.events[event_id] = await self.store.get(event_id)
                except NotFoundError:
                    self.events.pop(event_id, None)
                continue
            except NotFoundError:
                self.events.pop(event_id, None)
                continue
            log.info("%s %s -> %s %s (seq %d)", action.value, event_id, updated.state.value,
                     updated.stage or "", updated.seq)
            self.fired.append((event_id, action.value, now))
            current = self.events.get(event_id)
            if current is None or current.seq < updated.seq:
                self.events[event_id] = updated
