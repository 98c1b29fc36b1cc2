"""Broadcast on JetStream: small JSON messages, latest one per subject kept for late joiners.

A broadcast stream keeps the last few messages of every subject. Publishers send with a
message id, so a retried publish is stored once (JetStream de-duplication window).
Subscribers read the latest message of every subject first, then follow new ones, with ONE
ordered consumer: that is how a gateway that (re)starts knows the current state at once.

Delivery is at least once: a subscriber may see a message twice (after a reconnect, or a
republish outside the de-duplication window), so payloads carry their own sequence number and
readers ignore what they have already seen.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Awaitable, Callable

from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType
from nats.js.errors import NotFoundError

from rdg.bus._admin import ensure_stream
from rdg.errors import RetryableError

log = logging.getLogger("rdg.bus")

__all__ = ["LatestSubscription", "ensure_broadcast_stream", "last_json", "publish_json", "subscribe_latest"]


async def ensure_broadcast_stream(js: JetStreamContext, name: str, subjects: list[str], *,
                                  keep_per_subject: int = 16, max_age_s: float = 7 * 86400,
                                  duplicate_window_s: float = 120.0) -> None:
    """Create or update a broadcast stream: file storage, last ``keep_per_subject`` per subject.

    Args:
        js: The JetStream context.
        name: Stream name.
        subjects: Subjects it captures (e.g. ``["rdg.main.live.bcast.>"]``).
        keep_per_subject: Messages kept per subject (the newest survive).
        max_age_s: Drop messages older than this.
        duplicate_window_s: Publishes with a message id seen within this window are stored once.
    """
    await ensure_stream(js, name, subjects, retention=RetentionPolicy.LIMITS, storage=StorageType.FILE,
                        max_msgs_per_subject=keep_per_subject, discard=DiscardPolicy.OLD,
                        max_age=max_age_s, duplicate_window=duplicate_window_s)


async def publish_json(js: JetStreamContext, subject: str, payload: dict[str, Any], *, msg_id: str,
                       attempts: int = 5, timeout: float = 2.0) -> int:
    """Publish ``payload`` as compact JSON with a de-duplication id; retry with backoff.

    Returns:
        The stream sequence the message got (the same one again for a duplicate).

    Raises:
        RetryableError: The server did not acknowledge after ``attempts`` tries.
    """
    data = json.dumps(payload, separators=(",", ":")).encode()
    delay = 0.05
    for attempt in range(1, attempts + 1):
        try:
            ack = await js.publish(subject, data, timeout=timeout, headers={"Nats-Msg-Id": msg_id})
            return ack.seq
        except Exception as err:  # timeouts, no responders while the server restarts
            if attempt == attempts:
                msg = f"broadcast to {subject} not acknowledged after {attempts} tries: {err}"
                raise RetryableError(msg, hint="is NATS up with JetStream? `rdg stack status`") from err
            log.warning("broadcast publish to %s failed (%s); retry %d in %.2fs", subject, err, attempt, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
    raise AssertionError("unreachable")  # pragma: no cover


class LatestSubscription:
    """What :func:`subscribe_latest` returns: the subscription and how far it has read."""

    def __init__(self, js: JetStreamContext, stream: str) -> None:
        self.js = js
        self.stream = stream
        self.sub: Any = None
        self.last_stream_seq = 0
        """Stream sequence of the newest message whose callback has finished."""

    async def caught_up(self, timeout: float = 10.0) -> bool:
        """Wait until every message in the stream right now has been handed to the callback.

        Returns False if that took longer than ``timeout`` (the subscription keeps going).
        """
        target = (await self.js.stream_info(self.stream)).state.last_seq
        deadline = asyncio.get_running_loop().time() + timeout
        while self.last_stream_seq < target:
            if asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    async def unsubscribe(self) -> None:
        """Stop the subscription."""
        await self.sub.unsubscribe()


async def subscribe_latest(js: JetStreamContext, subject: str, stream: str,
                           callback: Callable[[str, dict[str, Any]], Awaitable[None]]) -> LatestSubscription:
    """Call ``callback(subject, payload)`` for the latest message of every subject, then each new one.

    One ordered push consumer (it recreates itself after a gap or a reconnect). Messages that
    are not JSON objects are logged and skipped. ``await (await subscribe_latest(...)).caught_up()``
    returns once the latest state of every subject has been handed over.
    """
    holder = LatestSubscription(js, stream)

    async def _on(msg: Any) -> None:
        try:
            payload = json.loads(msg.data)
        except ValueError:
            payload = None
        if isinstance(payload, dict):
            await callback(msg.subject, payload)
        else:
            log.warning("skipping a message on %s that is not a JSON object", msg.subject)
        holder.last_stream_seq = max(holder.last_stream_seq, msg.metadata.sequence.stream)

    holder.sub = await js.subscribe(subject, stream=stream, cb=_on, ordered_consumer=True,
                                    deliver_policy=DeliverPolicy.LAST_PER_SUBJECT, idle_heartbeat=2.0,
                                    flow_control=True, inactive_threshold=300.0)
    return holder


async def last_json(js: JetStreamContext, stream: str, subject: str) -> dict[str, Any] | None:
    """The latest message on ``subject`` as a dict, or ``None`` if there is none."""
    try:
        raw = await js.get_last_msg(stream, subject)
    except NotFoundError:
        return None
    try:
        data = json.loads(raw.data or b"null")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
