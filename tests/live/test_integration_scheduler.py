"""The scheduler on the real NATS server: on time, follows a delay, an early start and an early end."""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from typing import AsyncIterator

import pytest

from rdg.live import EventStore, Scheduler, Stage, State, new_event
from rdg.testing import async_wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@asynccontextmanager
async def running(store: EventStore) -> AsyncIterator[Scheduler]:
    sched = Scheduler(store)
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
    t0 = time.time() + 1.0
    await store.create(new_event("e1", title="T", start=t0, end=t0 + 2.0,
                                 stages=[Stage("pre", 0), Stage("main", 0.5), Stage("post", 1.0)]))
    async with running(store):
        ended = await wait_for_state(store, "e1", State.ENDED)
    steps = [(h.action, h.stage, h.at, h.by) for h in ended.history[1:]]
    assert [(a, s) for a, s, _, _ in steps] == [("start", "pre"), ("stage", "main"), ("stage", "post"), ("end", None)]
    assert all(by == "scheduler" for *_, by in steps)
    due = [t0, t0 + 0.5, t0 + 1.0, t0 + 2.0]
    for (_, _, at, _), when in zip(steps, due):
        assert at >= when  # never early: no stage before it happens


async def test_follows_a_delay(store: EventStore) -> None:
    t0 = time.time() + 3.0  # room for the delay to land first even on a busy machine
    await store.create(new_event("e2", title="T", start=t0, end=t0 + 30, stages=[Stage("main", 0)]))
    async with running(store) as sched:
        await async_wait_until(lambda: getattr(sched.events.get("e2"), "seq", None) == 1,
                               what="the scheduler to hold e2's original, undelayed plan")
        await store.transition("e2", "delay", by="ops", new_start=t0 + 1.5)
        live = await wait_for_state(store, "e2", State.LIVE)
    assert live.history[-1].by == "scheduler"
    assert live.history[-1].at >= t0 + 1.5  # the old start time passed without a start
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
    t0 = time.time() + 1.0
    await store.create(new_event("e4", title="T", start=t0, end=t0 + 1.5, stages=[Stage("a", 0), Stage("b", 0.5)]))
    async with running(store) as one, running(store) as two:
        # 45 s, not 15: once in ~6 full-suite runs the end came late or not at all; cause unknown (see
        # the note on issue 18). The assertion below, each transition fired exactly once, is the point.
        try:
            ended = await wait_for_state(store, "e4", State.ENDED, timeout=45.0)
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
