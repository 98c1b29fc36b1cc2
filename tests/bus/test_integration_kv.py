"""KV helpers of :mod:`rdg.bus` against the real NATS server: compare-and-set and key listing."""

from __future__ import annotations

import uuid

import pytest

from rdg.bus import connect, ensure_kv, kv_cas, kv_create, kv_get, kv_keys
from rdg.errors import ConflictError

pytestmark = pytest.mark.integration


async def test_keys_are_filtered_by_the_server_and_an_empty_match_is_empty(nats_url: str) -> None:
    nc = await connect(nats_url)
    js = nc.jetstream()
    bucket = f"t{uuid.uuid4().hex[:10]}"
    kv = await ensure_kv(js, bucket)
    try:
        assert await kv_keys(kv) == []
        for i in range(300):
            await kv.put(f"step.r{i % 3}.s{i}", b"x")
        await kv.put("wf.alpha", b"1")
        await kv.put("wfv.alpha.1", b"1")
        await kv.put("wf.beta", b"1")
        await kv.delete("wf.beta")
        assert await kv_keys(kv, "wf.*") == ["wf.alpha"]  # not wfv.*, not the deleted one
        assert len(await kv_keys(kv, "step.r1.>")) == 100
        assert len(await kv_keys(kv)) == 302
        assert await kv_keys(kv, "nothing.*") == []
    finally:
        await js.delete_key_value(bucket)
        await nc.close()


async def test_compare_and_set_refuses_a_stale_revision(nats_url: str) -> None:
    nc = await connect(nats_url)
    js = nc.jetstream()
    bucket = f"t{uuid.uuid4().hex[:10]}"
    kv = await ensure_kv(js, bucket)
    try:
        rev = await kv_create(kv, "k", b"1")
        with pytest.raises(ConflictError):
            await kv_create(kv, "k", b"again")
        newer = await kv_cas(kv, "k", b"2", rev)
        with pytest.raises(ConflictError) as err:
            await kv_cas(kv, "k", b"3", rev)
        assert "changed since revision" in err.value.message
        assert await kv_get(kv, "k") == (b"2", newer)
    finally:
        await js.delete_key_value(bucket)
        await nc.close()
