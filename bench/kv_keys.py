"""Listing a few KV keys among many: the server filters (``rdg.bus.kv_keys``) vs every key read
and filtered in Python (what ``Store`` did before, because nats-py's ``keys(filters=)`` fetches
every key and matches substrings on the client).

    .venv/bin/python bench/kv_keys.py [--nats URL] [--keys 20000] [--wanted 20]

Without ``--nats`` it starts a NATS server of its own (the stack's, ``RDG_NATS_SERVER`` to pick one).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fnmatch
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rdg.bus import connect, ensure_kv, kv_keys  # noqa: E402
from rdg.stack import start_for_tests  # noqa: E402


async def _client_side(kv, pattern: str) -> list[str]:  # noqa: ANN001 - the old way, for comparison
    return [k for k in await kv.keys() if fnmatch.fnmatchcase(k, pattern)]


async def main(url: str, total: int, wanted: int) -> None:
    nc = await connect(url)
    js = nc.jetstream()
    bucket = f"bench{uuid.uuid4().hex[:8]}"
    kv = await ensure_kv(js, bucket)
    try:
        await asyncio.gather(*(kv.put(f"step.r{i}.s", b"x") for i in range(total - wanted)))
        await asyncio.gather(*(kv.put(f"wf.w{i}", b"x") for i in range(wanted)))
        ways = (("server filter (kv_keys)", lambda: kv_keys(js, bucket, "wf.*")),
                ("every key, filtered here", lambda: _client_side(kv, "wf.*")))
        for name, fn in ways:
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                got = await fn()
                times.append(time.perf_counter() - t0)
                assert len(got) == wanted
            print(f"{name:<26} {statistics.median(times) * 1000:8.1f} ms  ({wanted} of {total} keys, median of 5)")
        print(f"server: {nc._server_info.get('version')}")
    finally:
        await js.delete_key_value(bucket)
        await nc.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nats", default=None)
    parser.add_argument("--keys", type=int, default=20000)
    parser.add_argument("--wanted", type=int, default=20)
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        url = args.nats or stack.enter_context(start_for_tests("nats", stack.enter_context(tempfile.TemporaryDirectory())))
        asyncio.run(main(url, args.keys, args.wanted))
