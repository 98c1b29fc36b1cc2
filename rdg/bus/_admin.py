"""Admin plane of the bus: connect to NATS, ensure streams and KV buckets exist (idempotent)."""

from __future__ import annotations

import logging
from typing import Any

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StreamConfig
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from rdg.errors import ServerError

log = logging.getLogger("rdg.bus")

__all__ = ["connect", "ensure_kv", "ensure_stream"]


async def connect(url: str, *, name: str = "rdg", user: str | None = None, password: str | None = None,
                  connect_timeout: float = 5.0, **options: Any) -> Client:
    """Connect to NATS, reconnecting for ever with backoff when the server drops out.

    Args:
        url: ``nats://host:port``.
        name: Client name shown in the server's connection list.
        user: Optional user name.
        password: Optional password.
        connect_timeout: Seconds to wait for the first connection.

    Raises:
        ServerError: The first connection could not be made.
    """

    client: list[Client] = []  # filled once connected; callbacks read it

    async def _disconnected() -> None:
        if client and client[0].is_closed:  # we closed it on purpose: nothing to report
            return
        log.warning("NATS connection to %s lost; reconnecting", url)

    async def _reconnected() -> None:
        log.warning("NATS connection to %s restored", url)

    async def _error(err: Exception) -> None:
        log.debug("NATS error: %s", err)

    try:
        nc = await nats.connect(
            url, name=name, user=user, password=password, connect_timeout=connect_timeout,
            max_reconnect_attempts=-1, reconnect_time_wait=0.5, allow_reconnect=True,
            disconnected_cb=_disconnected, reconnected_cb=_reconnected, error_cb=_error, **options,
        )
    except Exception as err:  # nats raises several unrelated types here
        msg = f"cannot connect to NATS at {url}: {err}"
        raise ServerError(msg, hint="start it with `rdg stack up` or set RDG_NATS_URL") from err
    client.append(nc)
    return nc


async def ensure_stream(js: JetStreamContext, name: str, subjects: list[str], **config: Any) -> None:
    """Create the stream if missing, or update its config if it differs; safe to call often."""
    wanted = StreamConfig(name=name, subjects=subjects, **config)
    try:
        await js.stream_info(name)
    except NotFoundError:
        await js.add_stream(wanted)
        return
    await js.update_stream(wanted)


async def ensure_kv(js: JetStreamContext, bucket: str, **config: Any) -> KeyValue:
    """Return the KV bucket, creating it first if it does not exist."""
    try:
        return await js.key_value(bucket)
    except (BucketNotFoundError, NotFoundError):
        return await js.create_key_value(KeyValueConfig(bucket=bucket, **config))
