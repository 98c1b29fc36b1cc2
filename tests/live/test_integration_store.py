"""Event state on the real NATS server: compare-and-set, legal/illegal transitions, broadcast."""

from __future__ import annotations

import asyncio
import time

import pytest

from rdg.errors import ConflictError, IllegalActionError, NotFoundError
from rdg.live import EventStore, Stage, State, new_event
from rdg.testing import async_wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def _event(event_id: str = "final", start_in: float = 3600.0):
    now = time.time()
    return new_event(event_id, title="Cup final", start=now + start_in, end=now + start_in + 7200,
                     stages=[Stage("pre-show", 0), Stage("main", 900), Stage("post-show", 6000)])


async def test_create_get_list_and_duplicate(store: EventStore) -> None:
    await store.create(_event("b", 7200))
    await store.create(_event("a", 60))
    assert [e.event_id for e in await store.list()] == ["a", "b"]
    with pytest.raises(ConflictError, match="exists already"):
        await store.create(_event("a"))
    assert (await store.get("a")).state is State.SCHEDULED


async def test_unknown_event_is_a_clear_error(store: EventStore) -> None:
    with pytest.raises(NotFoundError, match="no live event 'nope'"):
        await store.transition("nope", "start", by="ops")
    with pytest.raises(NotFoundError):
        await store.get("nope")


async def test_legal_and_illegal_transitions_each_broadcast_once(store: EventStore) -> None:
    await store.create(_event())
    delayed = await store.transition("final", "delay", by="ops", new_start=time.time() + 7200)
    live = await store.transition("final", "start", by="ops")
    main = await store.transition("final", "stage", by="ops")
    ended = await store.transition("final", "end", by="ops")
    assert [e.state for e in (delayed, live, main, ended)] == [State.DELAYED, State.LIVE, State.LIVE, State.ENDED]
    assert [e.seq for e in (delayed, live, main, ended)] == [2, 3, 4, 5]
    for action in ("start", "stage", "delay", "cancel", "end"):
        with pytest.raises(IllegalActionError, match="it is ended"):
            await store.transition("final", action, by="ops", new_start=time.time() + 10)
    stored = await store.get("final")
    assert stored == ended  # the illegal attempts changed nothing
    assert [h.action for h in stored.history] == ["create", "delay", "start", "stage", "end"]
    assert await store.last_broadcast("final") == ended.message()
    info = await store.js.stream_info(store.names.stream)
    assert info.state.messages == 5  # create + 4 transitions, illegal ones published nothing


async def test_compare_and_set_lets_exactly_one_racer_win(store: EventStore, nc) -> None:
    await store.create(_event())
    others = [await EventStore.open(nc, store.names) for _ in range(5)]
    results = await asyncio.gather(*(s.transition("final", "start", by=f"racer{i}") for i, s in enumerate(others)),
                                   return_exceptions=True)
    winners = [r for r in results if not isinstance(r, Exception)]
    assert len(winners) == 1
    assert all(isinstance(r, IllegalActionError) for r in results if isinstance(r, Exception))
    event = await store.get("final")
    assert event.seq == 2 and [h.action for h in event.history] == ["create", "start"]


async def test_stale_plan_is_refused(store: EventStore) -> None:
    await store.create(_event())
    await store.transition("final", "delay", by="ops", new_start=time.time() + 9000)
    with pytest.raises(ConflictError, match="expected 1"):
        await store.transition("final", "start", by="scheduler", expect_seq=1)
    assert (await store.get("final")).state is State.DELAYED


async def test_republish_is_stored_once(store: EventStore) -> None:
    event = await store.create(_event())
    first = await store.publish(event)
    again = await store.publish(event)
    assert first == again
    info = await store.js.stream_info(store.names.stream)
    assert info.state.messages == 1


async def test_finished_events_leave_after_their_retention_on_nats_2_11_and_stay_on_older(
        nc, names, store: EventStore) -> None:
    """Per-message TTL (NATS 2.11+): an ended or cancelled event is deleted by the server; the
    event still running is not. On an older server the same calls keep every event."""
    kept = await EventStore.open(nc, names, retention_s=1)
    await kept.create(_event("ends", 0))
    await kept.create(_event("cancelled", 3600))
    await kept.create(_event("running", 0))
    for event_id in ("ends", "running"):
        await kept.transition(event_id, "start", by="ops")
    ended = await kept.transition("ends", "end", by="ops")
    await kept.transition("cancelled", "cancel", by="ops")
    assert ended.state is State.ENDED
    assert (await kept.get("ends")).state is State.ENDED  # still readable right after
    version = nc.connected_server_version
    if (version.major, version.minor) >= (2, 11):
        async def only_running_left() -> bool:
            return [e.event_id for e in await kept.list()] == ["running"]

        await async_wait_until(only_running_left, timeout=15, every=0.1,
                               what="the server to delete the ended and the cancelled event after their TTL")
        assert [e.event_id for e in await kept.list()] == ["running"]
        with pytest.raises(NotFoundError):
            await kept.get("ends")  # gone, and no older revision came back
    else:
        await asyncio.sleep(2.5)  # not a wait for anything: lets the 1 s retention pass to show all events stay
        assert sorted(e.event_id for e in await kept.list()) == ["cancelled", "ends", "running"]
    assert (await kept.get("running")).state is State.LIVE
