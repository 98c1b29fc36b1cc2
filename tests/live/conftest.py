"""Live-event fixtures: a NATS connection, and a store in a namespace of its own per test."""

from __future__ import annotations

import uuid
from typing import AsyncIterator

import pytest

from rdg.bus import connect
from rdg.live import EventStore, LiveNames


@pytest.fixture
def names() -> LiveNames:
    """A fresh namespace: its own KV bucket, stream and subjects."""
    return LiveNames(f"t{uuid.uuid4().hex[:10]}")


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[object]:
    client = await connect(nats_url, name="rdg-live-tests")
    yield client
    await client.close()


@pytest.fixture
async def store(nc, names: LiveNames) -> AsyncIterator[EventStore]:
    """An event store; its bucket and stream are deleted after the test."""
    st = await EventStore.open(nc, names)
    yield st
    js = nc.jetstream()
    for drop in (lambda: js.delete_key_value(names.bucket), lambda: js.delete_stream(names.stream)):
        try:
            await drop()
        except Exception:  # noqa: BLE001 - already gone
            pass
