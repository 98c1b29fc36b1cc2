"""Data plane for JetStream KV: get, create and compare-and-set, with rdg's errors.

Every write that changes shared state goes through :func:`kv_cas`: it succeeds only if the key
is still at the revision the caller read, and raises :class:`rdg.errors.ConflictError`
otherwise (someone else wrote first; read again and decide again).
"""

from __future__ import annotations

import json
import logging
from typing import Any, Awaitable, Callable, TypeVar

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import (
    APIError, BadRequestError, KeyDeletedError, KeyNotFoundError, KeyWrongLastSequenceError,
)
from nats.js.kv import KeyValue

from rdg.errors import ConflictError

__all__ = ["kv_cas", "kv_cas_final", "kv_create", "kv_get", "kv_keys", "kv_update_json", "until_no_conflict"]

T = TypeVar("T")

log = logging.getLogger("rdg.bus")
_WRONG_LAST = (10071, 10164)
_TTL_DISABLED = 10166
_warned: set[str] = set()


async def kv_get(kv: KeyValue, key: str) -> tuple[bytes | None, int]:
    """The value and revision of ``key``; ``(None, 0)`` when it does not exist (or was deleted).

    A revision of 0 passed to :func:`kv_cas` means "create only if absent".
    """
    try:
        entry = await kv.get(key)
    except (KeyNotFoundError, KeyDeletedError):
        return None, 0
    return entry.value, entry.revision or 0


async def kv_cas(kv: KeyValue, key: str, value: bytes, last: int) -> int:
    """Write ``value`` only if ``key`` is still at revision ``last`` (0: only if absent).

    Returns:
        The new revision.

    Raises:
        ConflictError: The key moved on since ``last`` was read.
    """
    try:
        if last == 0:
            return await kv.create(key, value)
        return await kv.update(key, value, last=last)
    except (KeyWrongLastSequenceError, BadRequestError) as err:
        if isinstance(err, BadRequestError) and getattr(err, "err_code", None) not in (*_WRONG_LAST, None):
            raise
        msg = f"'{key}' changed since revision {last}"
        raise ConflictError(msg, hint="read it again and retry the action") from err


async def kv_cas_final(js: JetStreamContext, bucket: str, key: str, value: bytes, last: int, *,
                       ttl: float) -> int:
    """Write a key's last value, like :func:`kv_cas`, and let the server delete it ``ttl`` seconds
    later (whole seconds, at least 1): the write replaces the key's history (a rollup), so
    nothing older comes back when it expires.

    Needs NATS 2.11+ (per-message TTL) and a bucket that allows it (nats-py creates buckets so);
    an older server ignores the TTL and keeps the value, and so does a bucket created before 2.11
    (said once in the log).

    Raises:
        ConflictError: The key moved on since ``last`` was read.
    """
    subject = f"$KV.{bucket}.{key}"
    headers = {"Nats-Expected-Last-Subject-Sequence": str(last), "Nats-Rollup": "sub"}
    try:
        try:
            ack = await js.publish(subject, value, headers=dict(headers), msg_ttl=max(1, round(ttl)))
        except APIError as err:
            if err.err_code != _TTL_DISABLED:
                raise
            if bucket not in _warned:
                _warned.add(bucket)
                log.warning("KV bucket %s does not allow per-message TTL (created before NATS 2.11): "
                            "finished records stay until deleted", bucket)
            ack = await js.publish(subject, value, headers=dict(headers))
    except APIError as err:
        if err.err_code in _WRONG_LAST:
            raise ConflictError(f"'{key}' changed since revision {last}",
                                hint="read it again and retry the action") from err
        raise
    return ack.seq


async def until_no_conflict(attempt: Callable[[], Awaitable[T]], *, attempts: int, what: str,
                            hint: str = "try again", between: Callable[[], Awaitable[None]] | None = None) -> T:
    """Call ``attempt`` (read, decide, compare-and-set) until it does not raise
    :class:`ConflictError`, the one retry loop for a lost compare-and-set. ``between`` runs after
    each lost try (to read again what the attempt caches). Returns what ``attempt`` returned.

    >>> import asyncio
    >>> tries = []
    >>> async def attempt():
    ...     tries.append(1)
    ...     if len(tries) < 3:
    ...         raise ConflictError("someone else wrote first")
    ...     return "written"
    >>> asyncio.run(until_no_conflict(attempt, attempts=5, what="the record kept changing")), len(tries)
    ('written', 3)

    Raises:
        ConflictError: Other writers won ``attempts`` times in a row (``what`` says what kept changing).
    """
    for _ in range(attempts):
        try:
            return await attempt()
        except ConflictError:
            if between is not None:
                await between()
    raise ConflictError(f"{what} (lost {attempts} compare-and-sets in a row)", hint=hint)


async def kv_update_json(kv: KeyValue, key: str, change: Callable[[Any], tuple[Any, T]], *,
                         attempts: int = 100) -> T:
    """Change a JSON value by compare-and-set, the one retry loop for shared records.

    ``change(current)`` (``None`` when absent) returns ``(new value, result)``; it is called again
    on the newest value whenever another writer got there first, so it must be pure. A value it
    leaves equal is not written. Returns ``result``.

    Raises:
        ConflictError: Other writers won ``attempts`` times in a row.
    """
    async def attempt() -> T:
        raw, rev = await kv_get(kv, key)
        current = json.loads(raw) if raw else None
        new, result = change(current)
        if new != current:
            await kv_cas(kv, key, json.dumps(new, separators=(",", ":")).encode(), rev)
        return result

    return await until_no_conflict(attempt, attempts=attempts, what=f"'{key}' kept changing")


async def kv_keys(js: JetStreamContext, bucket: str, pattern: str = ">") -> list[str]:
    """Keys of ``bucket`` matching a NATS subject pattern (``wf.*``: one token; ``step.r1.>``: any
    depth), deleted ones left out, in stream order; ``[]`` if none.

    The server filters (one filter subject, which every JetStream version honours), so a bucket
    of many other keys costs nothing. A pull consumer of headers only counts what there is before
    anything is delivered, so the answer is complete; a KV watcher can signal "no more" before
    the first key when the client is slow (nats-py's ``keys()`` has that race).
    """
    prefix = f"$KV.{bucket}."
    config = ConsumerConfig(deliver_policy=DeliverPolicy.LAST_PER_SUBJECT, ack_policy=AckPolicy.NONE,
                            headers_only=True, inactive_threshold=10.0, mem_storage=True)
    sub = await js.pull_subscribe(prefix + pattern, stream=f"KV_{bucket}", config=config)
    keys: list[str] = []
    try:
        remaining = (await sub.consumer_info()).num_pending
        while remaining > 0:
            for msg in await sub.fetch(min(remaining, 1000), timeout=10):
                remaining = msg.metadata.num_pending
                if (msg.headers or {}).get("KV-Operation") in ("DEL", "PURGE"):
                    continue
                keys.append(msg.subject[len(prefix):])
    finally:
        await sub.unsubscribe()
    return keys


async def kv_create(kv: KeyValue, key: str, value: bytes) -> int:
    """Create ``key``; :class:`ConflictError` if it already exists."""
    return await kv_cas(kv, key, value, 0)
