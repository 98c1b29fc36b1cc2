"""KV helpers of :mod:`rdg.bus` against the real NATS server: compare-and-set, key listing and
final writes that expire."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any, AsyncIterator

import pytest
from nats.js.api import StreamConfig

from rdg.bus import connect, ensure_kv, kv_cas, kv_cas_final, kv_create, kv_get, kv_keys
from rdg.errors import ConflictError
from rdg.testing import async_wait_until

pytestmark = pytest.mark.integration


@dataclass
class Bucket:
    nc: Any
    js: Any
    name: str
    kv: Any


@pytest.fixture
async def bucket(nats_url: str) -> AsyncIterator[Bucket]:
    """A fresh KV bucket (history 8), deleted afterwards."""
    nc = await connect(nats_url)
    js = nc.jetstream()
    name = f"t{uuid.uuid4().hex[:10]}"
    try:
        yield Bucket(nc, js, name, await ensure_kv(js, name, history=8))
    finally:
        await js.delete_key_value(name)
        await nc.close()


async def test_keys_are_filtered_by_the_server_and_an_empty_match_is_empty(bucket: Bucket) -> None:
    js, kv, name = bucket.js, bucket.kv, bucket.name
    assert await kv_keys(js, name) == []
    for i in range(300):
        await kv.put(f"step.r{i % 3}.s{i}", b"x")
    await kv.put("wf.alpha", b"1")
    await kv.put("wfv.alpha.1", b"1")
    await kv.put("wf.beta", b"1")
    await kv.delete("wf.beta")
    assert await kv_keys(js, name, "wf.*") == ["wf.alpha"]  # not wfv.*, not the deleted one
    assert len(await kv_keys(js, name, "step.r1.>")) == 100
    assert len(await kv_keys(js, name)) == 302
    assert await kv_keys(js, name, "nothing.*") == []


async def test_compare_and_set_refuses_a_stale_revision(bucket: Bucket) -> None:
    kv = bucket.kv
    rev = await kv_create(kv, "k", b"1")
    with pytest.raises(ConflictError):
        await kv_create(kv, "k", b"again")
    newer = await kv_cas(kv, "k", b"2", rev)
    with pytest.raises(ConflictError) as err:
        await kv_cas(kv, "k", b"3", rev)
    assert "changed since revision" in err.value.message
    assert await kv_get(kv, "k") == (b"2", newer)


async def test_a_final_write_is_compare_and_set_and_expires_on_new_servers(
        bucket: Bucket, caplog: pytest.LogCaptureFixture) -> None:
    js, kv, name = bucket.js, bucket.kv, bucket.name
    old = f"t{uuid.uuid4().hex[:10]}"  # a bucket as NATS before 2.11 made them: no per-message TTL
    await js.add_stream(StreamConfig(name=f"KV_{old}", subjects=[f"$KV.{old}.>"], allow_rollup_hdrs=True,
                                     deny_delete=True, max_msgs_per_subject=8, allow_msg_ttl=False))
    try:
        old_kv = await js.key_value(old)
        first = await kv_create(kv, "k", b"1")
        second = await kv_cas(kv, "k", b"2", first)
        with pytest.raises(ConflictError):
            await kv_cas_final(js, name, "k", b"last", first, ttl=1)
        await kv_cas_final(js, name, "k", b"last", second, ttl=1)
        assert (await kv_get(kv, "k"))[0] == b"last"
        rev = await kv_create(old_kv, "k", b"1")
        await kv_cas_final(js, old, "k", b"last", rev, ttl=1)
        version = bucket.nc.connected_server_version
        new_server = (version.major, version.minor) >= (2, 11)
        if new_server:
            assert "does not allow per-message TTL" in caplog.text  # said, and written without it
        await asyncio.sleep(2.5)  # lets the 1 s TTL pass, to show old_kv's value (and on an old server kv's) stays
        if new_server:
            async def expired() -> bool:
                return (await kv_get(kv, "k"))[0] is None

            await async_wait_until(expired, timeout=10, what="the final write to expire (per-message TTL)")
        assert (await kv_get(kv, "k"))[0] == (None if new_server else b"last")  # no older revision comes back
        assert (await kv_get(old_kv, "k"))[0] == b"last"  # kept where the TTL cannot apply
    finally:
        await js.delete_stream(f"KV_{old}")
