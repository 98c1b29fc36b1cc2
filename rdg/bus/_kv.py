"""Data plane for JetStream KV: get, create and compare-and-set, with rdg's errors.

Every write that changes shared state goes through :func:`kv_cas`: it succeeds only if the key
is still at the revision the caller read, and raises :class:`rdg.errors.ConflictError`
otherwise (someone else wrote first; read again and decide again).
"""

from __future__ import annotations

from nats.js.errors import BadRequestError, KeyDeletedError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from rdg.errors import ConflictError

__all__ = ["kv_cas", "kv_create", "kv_get", "kv_keys"]


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
        if isinstance(err, BadRequestError) and getattr(err, "err_code", None) not in (10071, 10164, None):
            raise
        msg = f"'{key}' changed since revision {last}"
        raise ConflictError(msg, hint="read it again and retry the action") from err


async def kv_keys(kv: KeyValue, pattern: str = ">") -> list[str]:
    """Keys matching a NATS subject pattern (``wf.*``: one token; ``step.r1.>``: any depth), in
    stream order. The server filters (one filter subject, which every JetStream version honours),
    so a bucket of many other keys costs nothing; an empty match is ``[]``."""
    watcher = await kv.watch(pattern, ignore_deletes=True, meta_only=True)
    keys: list[str] = []
    try:
        async for entry in watcher:
            if entry is None:  # the end of the values stored so far
                break
            keys.append(entry.key)
    finally:
        await watcher.stop()
    return keys


async def kv_create(kv: KeyValue, key: str, value: bytes) -> int:
    """Create ``key``; :class:`ConflictError` if it already exists."""
    return await kv_cas(kv, key, value, 0)
