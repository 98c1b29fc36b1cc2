"""The scheduler on the real NATS server: on time, follows a delay, an early start and an early end.

Time is a fake clock the tests move (the scheduler takes a clock), so no test waits for wall-clock
seconds to pass and a busy machine cannot make a transition late or early."""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from typing import AsyncIterator

import pytest

from rdg.live import EventStore, Scheduler, Stage, State, new_event
from rdg.testing import async_wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


class FakeClock:
    """Epoch seconds that move only when a test says so: ``await clock.at(t)`` returns once every
    scheduler on it has looked at the new time."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.schedulers: list[Scheduler] = []

    def __call__(self) -> float:
        return self.now

    async def at(self, when: float) -> None:
        before = [s.passes for s in self.schedulers]
        self.now = when
        for sched in self.schedulers:
            sched.wake()
        await async_wait_until(lambda: all(s.passes > b for s, b in zip(self.schedulers, before)),
                               what=f"the schedulers to look at the clock at {when}")


@asynccontextmanager
async def running(store: EventStore, clock: FakeClock | None = None) -> AsyncIterator[Scheduler]:
    sched = Scheduler(store, clock=clock or time.time)
    if clock is not None:
        clock.schedulers.append(sched)
    task = asyncio.create_task(sched.run())
    await asyncio.wait_for(sched.ready.wait(), 10)
    try:
        yield sched
    finally:
        sched.stop()
        await asyncio.wait_for(task, 10)


async def wait_for_state(store: EventStore, event_id: str, state: State, timeout: float = 15.0):
    async def reached():
        event = await store.get(event_id)
        return event if event.state is state else None

    return await async_wait_until(reached, timeout=timeout, what=f"{event_id} to reach {state.value}")


async def test_starts_on_time_walks_stages_and_ends(store: EventStore) -> None:
    """On a clock the test moves: each transition fires when its time comes, not a moment before."""
    t0 = time.time() + 3600
    clock = FakeClock(t0 - 60)
    await store.create(new_event("e1", title="T", start=t0, end=t0 + 2.0,
                                 stages=[Stage("pre", 0), Stage("main", 0.5), Stage("post", 1.0)]))
    due = [(t0, "pre"), (t0 + 0.5, "main"), (t0 + 1.0, "post"), (t0 + 2.0, None)]
    async with running(store, clock) as sched:
        for n, (when, _) in enumerate(due):
            await clock.at(when - 0.001)  # just before: nothing may fire
            assert len(sched.fired) == n
            await clock.at(when)
            await async_wait_until(lambda n=n: len(sched.fired) > n, what=f"the transition due at +{when - t0}s")
        ended = await wait_for_state(store, "e1", State.ENDED)
    steps = [(h.action, h.stage, h.at, h.by) for h in ended.history[1:]]
    assert [(a, s) for a, s, _, _ in steps] == [("start", "pre"), ("stage", "main"), ("stage", "post"), ("end", None)]
    assert all(by == "scheduler" for *_, by in steps)
    assert [at for _, _, at, _ in steps] == [when for when, _ in due]  # each exactly at its time: never early


async def test_follows_a_delay(store: EventStore) -> None:
    t0 = time.time() + 3600
    clock = FakeClock(t0 - 60)
    await store.create(new_event("e2", title="T", start=t0, end=t0 + 30, stages=[Stage("main", 0)]))
    async with running(store, clock) as sched:
        await async_wait_until(lambda: getattr(sched.events.get("e2"), "seq", None) == 1,
                               what="the scheduler to hold e2's original, undelayed plan")
        await store.transition("e2", "delay", by="ops", new_start=t0 + 1.5)
        await async_wait_until(lambda: getattr(sched.events.get("e2"), "seq", None) == 2,
                               what="the scheduler to see the delay")
        await clock.at(t0 + 1.0)  # the old start has passed: nothing may fire
        assert not sched.fired
        await clock.at(t0 + 1.5)
        live = await wait_for_state(store, "e2", State.LIVE)
    assert live.history[-1].by == "scheduler"
    assert live.history[-1].at == t0 + 1.5  # started at the new time, not at the old one
    assert [h.action for h in live.history] == ["create", "delay", "start"]


async def test_follows_an_early_end_and_an_early_start(store: EventStore) -> None:
    t0 = time.time() + 60
    await store.create(new_event("e3", title="T", start=t0, end=t0 + 600,
                                 stages=[Stage("pre", 0), Stage("main", 300)]))
    async with running(store) as sched:
        started = await store.transition("e3", "start", by="ops")  # 60 s early
        assert started.start < t0
        await store.transition("e3", "end", by="ops")  # and ended early, before "main" is due
        await async_wait_until(lambda: sched.events["e3"].state is State.ENDED, timeout=15,
                               what="the scheduler to see the early end")
        event = await store.get("e3")
        assert event.state is State.ENDED and sched.events["e3"].state is State.ENDED
    assert [h.action for h in event.history] == ["create", "start", "end"]
    assert not sched.fired


async def test_two_schedulers_fire_each_transition_once(store: EventStore) -> None:
    t0 = time.time() + 3600
    clock = FakeClock(t0 - 60)
    await store.create(new_event("e4", title="T", start=t0, end=t0 + 1.5, stages=[Stage("a", 0), Stage("b", 0.5)]))
    async with running(store, clock) as one, running(store, clock) as two:
        await async_wait_until(lambda: all("e4" in s.events for s in (one, two)), what="both schedulers to hold e4")
        for when in (t0, t0 + 0.5, t0 + 1.5):  # start, stage b, end: both race for each
            await clock.at(when)
        # On the wall clock this test once in ~6 full-suite runs saw the end late or not at all (issue
        # 18); on a clock the test moves, a busy machine cannot make a transition late. The views are
        # printed if it ever fails again. The assertion below, each transition fired once, is the point.
        try:
            ended = await wait_for_state(store, "e4", State.ENDED)
        except AssertionError as err:  # what each scheduler believed, for whoever meets this next
            views = [(s.events.get("e4"), s.fired) for s in (one, two)]
            raise AssertionError(f"{err}; the schedulers' views and what they fired: {views}") from err
        await async_wait_until(
            lambda: len(one.fired) + len(two.fired) >= 3
            and all(getattr(s.events.get("e4"), "state", None) is State.ENDED for s in (one, two)),
            what="both schedulers to see e4 ended and their fired lists to hold its 3 transitions")
    assert [h.action for h in ended.history] == ["create", "start", "stage", "end"]
    assert len(one.fired) + len(two.fired) == 3


async def test_a_state_written_but_never_published_is_broadcast_by_the_scheduler(store: EventStore) -> None:
    from rdg.live import apply
    from rdg.live._store import _encode

    await store.create(new_event("e5", title="T", start=time.time() + 600, end=time.time() + 900))
    event, revision = await store.get_with_revision("e5")
    started = apply(event, "start", by="ops")
    await store.kv.update("e5", _encode(started), last=revision)  # a writer that died before publishing
    assert (await store.last_broadcast("e5"))["seq"] == 1
    async with running(store):
        async def rebroadcast() -> bool:
            return (await store.last_broadcast("e5"))["seq"] == 2

        await async_wait_until(rebroadcast, timeout=10, what="the scheduler to broadcast e5's seq 2")
    assert await store.last_broadcast("e5") == started.message()
