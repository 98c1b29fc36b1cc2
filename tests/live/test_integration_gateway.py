"""Broadcast through real gateways to devices: catch-up, duplicates, no spoilers, garbage."""

from __future__ import annotations

import asyncio
import json
import time
from typing import AsyncIterator

import httpx
import pytest
import websockets

from rdg.bus import publish_json
from rdg.live import Device, DeviceLink, EventStore, Gateway, Scheduler, Stage, State, new_event
from rdg.testing import async_wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

CONTENT = {"events": [{"event_id": "final", "content": {
    "scheduled": {"badge": "UPCOMING"}, "delayed": {"badge": "DELAYED"}, "pre": {"badge": "PRE"},
    "main": {"badge": "LIVE"}, "post": {"badge": "POST"}, "ended": {"badge": "ENDED"}}}]}


@pytest.fixture
async def gateway(nc, store: EventStore) -> AsyncIterator[Gateway]:
    gw = await Gateway(nc, store.names, port=0).start()
    yield gw
    await gw.close()


def _final(start_in: float = 3600.0):
    now = time.time()
    return new_event("final", title="Cup final", start=now + start_in, end=now + start_in + 3600,
                     stages=[Stage("pre", 0), Stage("main", 600), Stage("post", 3000)])


def until(predicate, timeout: float = 10.0):  # noqa: ANN001, ANN201 - a short name for a common wait
    return async_wait_until(predicate, timeout=timeout, every=0.02, what="the gateway and devices to agree")


def device() -> Device:
    d = Device("tv-1", "p1", keep_log=True)
    d.prefetch(CONTENT)
    return d


async def created_then_connected(store: EventStore, gateway: Gateway) -> tuple[Device, DeviceLink]:
    """Create the final, wait until the gateway has its broadcast, then connect one device."""
    await store.create(_final())
    await until(lambda: "final" in gateway.latest)  # the create reaches the gateway asynchronously
    d = device()
    link = DeviceLink(gateway.url, [d]).start()
    await asyncio.wait_for(link.connected.wait(), 10)
    return d, link


async def test_device_flips_to_prefetched_content_on_one_broadcast(store: EventStore, gateway: Gateway) -> None:
    d, link = await created_then_connected(store, gateway)
    assert d.showing["final"] == ("scheduled", {"badge": "UPCOMING"})
    await store.transition("final", "start", by="ops")
    await until(lambda: d.seen.get("final") == 2)
    assert d.showing["final"] == ("pre", {"badge": "PRE"}) and d.misses == 0
    await link.stop()


async def test_offline_device_catches_up_at_once_on_reconnect(store: EventStore, gateway: Gateway) -> None:
    d, link = await created_then_connected(store, gateway)
    await link.stop()  # the device goes offline
    await store.transition("final", "start", by="ops")
    await store.transition("final", "stage", by="ops")
    await until(lambda: gateway.latest.get("final", {}).get("seq") == 3)
    assert d.seen["final"] == 1  # missed both while offline
    link = DeviceLink(gateway.url, [d]).start()
    await asyncio.wait_for(link.connected.wait(), 10)  # the first frame is the snapshot
    assert d.seen["final"] == 3 and d.showing["final"] == ("main", {"badge": "LIVE"})
    assert d.flips == 2  # scheduled, then straight to the latest: no replay of what it missed
    await link.stop()


async def test_restarted_gateway_knows_the_latest_state_at_once(nc, store: EventStore) -> None:
    await store.create(_final())
    await store.transition("final", "start", by="ops")
    gw = await Gateway(nc, store.names, port=0).start()  # starts after the broadcasts
    try:
        d = device()
        link = DeviceLink(gw.url, [d]).start()
        await asyncio.wait_for(link.connected.wait(), 10)
        assert d.seen["final"] == 2 and d.showing["final"][0] == "pre"
        await link.stop()
    finally:
        await gw.close()


async def test_a_broadcast_delivered_twice_flips_a_device_once(nc, store: EventStore, gateway: Gateway) -> None:
    await store.create(_final())
    second = await Gateway(nc, store.names, port=0).start()
    try:
        d = device()  # one device connected to two gateways: every message arrives twice
        links = [DeviceLink(gateway.url, [d]).start(), DeviceLink(second.url, [d]).start()]
        for link in links:
            await asyncio.wait_for(link.connected.wait(), 10)
        started = await store.transition("final", "start", by="ops")
        # and the same message published again with a new id, so JetStream stores it twice
        await publish_json(store.js, store.names.subject("final"), started.message(), msg_id="again")
        await until(lambda: d.seen.get("final") == 2)
        await links[0].send(json.dumps({"op": "resync"}))  # a third copy, via a snapshot
        await async_wait_until(lambda: links[0].snapshots == 2 and gateway.stats.stale >= 1, timeout=10,
                               what="the resync snapshot to reach the device and the gateway to drop the "
                                    "republished copy")
        assert d.flips == 2  # scheduled once, live once
        assert [m["seq"] for _, m in d.log] == [1, 2]
        assert gateway.stats.stale >= 1  # the gateway also dropped the republished copy
        for link in links:
            await link.stop()
    finally:
        await second.close()


async def test_no_device_ever_receives_a_stage_before_it_happened(store: EventStore, gateway: Gateway) -> None:
    t0 = time.time() + 3.0  # room for the delay below to land before the start, even on a busy machine
    await store.create(new_event("final", title="T", start=t0, end=t0 + 3.0,
                                 stages=[Stage("pre", 0), Stage("main", 0.6), Stage("post", 1.2)]))
    devices = [device() for _ in range(20)]
    links = [DeviceLink(gateway.url, [d]).start() for d in devices]
    for link in links:
        await asyncio.wait_for(link.connected.wait(), 10)
    sched = Scheduler(store)
    task = asyncio.create_task(sched.run())
    await async_wait_until(lambda: sched.ready.is_set() and "final" in sched.events, timeout=10,
                           what="the scheduler to have read the final's original plan")
    await store.transition("final", "delay", by="ops", new_start=t0 + 0.8)  # a delay mid-way too
    try:
        await until(lambda: all(d.seen.get("final", 0) >= 6 for d in devices), timeout=20)
    finally:
        sched.stop()
        await task
    event = await store.get("final")
    happened = {h.seq: h.at for h in event.history}
    due = {"pre": event.start, "main": event.start + 0.6, "post": event.start + 1.2}
    assert event.start >= t0 + 0.8
    for d in devices:
        seqs = [m["seq"] for _, m in d.log]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)  # never backwards, never twice
        for received_at, msg in d.log:
            assert received_at >= happened[msg["seq"]]  # told only after the transition was made
            if msg["state"] == "live":
                assert received_at >= due[msg["stage"]] and msg["ts"] / 1000 >= due[msg["stage"]] - 1e-3
        assert d.showing["final"][0] == "ended"
    for link in links:
        await link.stop()


async def test_garbage_from_one_device_disturbs_no_one_else(store: EventStore, gateway: Gateway) -> None:
    await store.create(_final())
    good = device()
    errors: list[str] = []
    good_link = DeviceLink(gateway.url, [good]).start()
    await asyncio.wait_for(good_link.connected.wait(), 10)
    async with websockets.connect(gateway.url) as bad:
        json.loads(await bad.recv())  # snapshot
        for frame in ["not json", "[1,2]", json.dumps({"op": "dance"}), json.dumps({"op": "hello", "devices": -3})]:
            await bad.send(frame)
            reply = json.loads(await bad.recv())
            assert reply["type"] == "error"
            errors.append(reply["error"])
        await bad.send(b"\xff\xfe")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await bad.recv()
        assert closed.value.rcvd.code == 1008
    assert any("not JSON" in e for e in errors) and any("unknown op" in e for e in errors)
    async with websockets.connect(gateway.url) as huge:
        await huge.recv()
        await huge.send("x" * 10_000)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await huge.recv()
        assert closed.value.rcvd.code == 1009
    await store.transition("final", "start", by="ops")
    await until(lambda: good.seen.get("final") == 2)
    async with httpx.AsyncClient() as http:
        health = (await http.get(f"http://127.0.0.1:{gateway.port}/healthz")).json()
    assert health["closed_for_garbage"] == 1 and health["garbage"] >= 5 and health["connections"] == 1
    await good_link.stop()


async def test_malformed_broadcasts_are_ignored_by_the_gateway(store: EventStore, gateway: Gateway) -> None:
    d, link = await created_then_connected(store, gateway)
    await publish_json(store.js, store.names.subject("final"), {"event_id": "final", "state": "hacked", "seq": 99},
                       msg_id="bad")
    await store.js.publish(store.names.subject("final"), b"\x00not json")
    await store.transition("final", "cancel", by="ops")
    await until(lambda: d.seen.get("final") == 2)
    assert d.showing["final"][0] == "cancelled" and gateway.latest["final"]["state"] == State.CANCELLED.value
    await link.stop()


async def test_a_forged_far_ahead_seq_is_refused_and_the_real_start_gets_through(store: EventStore,
                                                                                gateway: Gateway) -> None:
    """Issue 10 finding 4: a raw publish of seq 2**62 with a 500 KB field reached devices, and the
    real `start` after it was dropped as stale."""
    d, link = await created_then_connected(store, gateway)
    forged = {"event_id": "final", "state": "ended", "seq": 2 ** 62, "ts": 1}
    await publish_json(store.js, store.names.subject("final"), forged, msg_id="forged")
    await publish_json(store.js, store.names.subject("final"), {**forged, "seq": 5, "junk": "x" * 500_000},
                       msg_id="fat")
    await store.transition("final", "start", by="ops")
    await until(lambda: d.seen.get("final") == 2)
    assert d.showing["final"][0] == "pre" and gateway.latest["final"]["seq"] == 2
    assert gateway.stats.refused == 1 and [m["seq"] for _, m in d.log] == [1, 2]
    await link.stop()


async def test_connections_over_the_cap_are_answered_503(nc, store: EventStore) -> None:
    gw = await Gateway(nc, store.names, port=0, max_connections=2).start()
    try:
        first, second = await websockets.connect(gw.url), await websockets.connect(gw.url)
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(gw.url)
        assert refused.value.response.status_code == 503 and gw.stats.refused_connections == 1
        await first.close()
        await until(lambda: len(gw.conns) == 1)
        third = await websockets.connect(gw.url)  # room again
        await third.close()
        await second.close()
    finally:
        await gw.close()


async def test_a_device_that_stops_reading_is_dropped_not_buffered_for_ever(nc, store: EventStore) -> None:
    """Broadcasting has no backpressure: a reader that stalls is disconnected once its unsent data
    passes max_buffered, and the others keep getting every message."""
    gw = await Gateway(nc, store.names, port=0, max_buffered=64 * 1024).start()
    stalled_reader, stalled_writer = await asyncio.open_connection(gw.host, gw.port)
    try:
        stalled_writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        assert b"101" in await stalled_reader.readline()  # upgraded; from now on it never reads
        healthy = Device("tv-ok", "p1")
        link = DeviceLink(gw.url, [healthy]).start()
        await asyncio.wait_for(link.connected.wait(), 10)
        await until(lambda: len(gw.conns) == 2)
        seq = 0
        while gw.stats.closed_slow == 0 and seq < 400_000:
            seq += 1
            await gw._on_broadcast("x", {"event_id": "flood", "state": "live", "stage": "s" * 150, "seq": seq,
                                         "ts": seq})
            if seq % 500 == 0:
                await asyncio.sleep(0)  # a yield, not a wait: lets the healthy link read during the flood
        assert gw.stats.closed_slow == 1 and len(gw.conns) == 1
        await until(lambda: healthy.seen.get("flood") == seq, timeout=30)  # the reader that reads got all
        await link.stop()
    finally:
        stalled_writer.close()
        await gw.close()
