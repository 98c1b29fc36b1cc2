"""Event state in JetStream KV, changed only by compare-and-set, broadcast after each change.

Every transition reads the event and its KV revision, computes the next event with
:func:`rdg.live._model.apply`, and writes it with :func:`rdg.bus.kv_cas` (at that revision). If someone
else changed the event in between, the write is refused and we read again and re-check the
transition against the new state (so two schedulers, or a scheduler and an operator, can never
both start an event). After a successful write the small broadcast message is published with
the id ``<event_id>:<seq>``; the scheduler re-publishes what it sees in the KV, so a crash
between the two steps still broadcasts (at least once; JetStream stores a duplicate once).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from functools import cached_property
from typing import Any, AsyncIterator

from nats.aio.client import Client
from nats.js.errors import KeyNotFoundError

from rdg.bus import (
    DEFAULT_NAMESPACE,
    Namespace,
    ensure_broadcast_stream,
    ensure_kv,
    kv_cas,
    kv_cas_final,
    kv_create,
    kv_keys,
    last_json,
    publish_json,
    until_no_conflict,
)
from rdg.errors import ConflictError, NotFoundError
from rdg.live._model import Action, LiveEvent, State, apply, check_event_id

log = logging.getLogger("rdg.live")

__all__ = ["EventStore", "LiveNames"]


@dataclass(frozen=True)
class LiveNames:
    """Live events' bucket, stream and subjects in one namespace (:class:`rdg.bus.Namespace`).

    >>> n = LiveNames("t1")
    >>> n.bucket, n.stream, n.subject("final")
    ('rdg_t1_live_events', 'rdg_t1_live_bcast', 'rdg.t1.live.bcast.final')
    """

    namespace: str = DEFAULT_NAMESPACE

    @cached_property
    def _ns(self) -> Namespace:
        return Namespace(self.namespace)

    def __post_init__(self) -> None:
        _ = self._ns  # refuses a bad name, once

    @property
    def bucket(self) -> str:
        """KV bucket holding one JSON record per event."""
        return self._ns.bucket("live", "events")

    @property
    def stream(self) -> str:
        """Stream holding the broadcast messages."""
        return self._ns.stream("live", "bcast")

    @property
    def wildcard(self) -> str:
        """Subject filter matching every event's broadcast subject."""
        return self._ns.subject("live", "bcast", ">")

    def subject(self, event_id: str) -> str:
        """Broadcast subject of one event."""
        return self._ns.subject("live", "bcast", event_id)


class _Stale(Exception):
    """The event moved on from the seq a caller planned from."""


class EventStore:
    """Read, create and transition live events; use :meth:`open`."""

    def __init__(self, nc: Client, names: LiveNames, kv: Any, *, retention_s: float | None = None) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.names = names
        self.kv = kv
        self.retention_s = retention_s

    @classmethod
    async def open(cls, nc: Client, names: LiveNames | None = None, *,
                   retention_s: float | None = None) -> "EventStore":
        """Ensure the KV bucket and broadcast stream exist and return a store over them.

        ``retention_s``: an event that ends or is cancelled leaves the KV this many seconds later
        (NATS 2.11+; older servers keep it); ``None`` or 0 keeps every event.
        """
        names = names or LiveNames()
        js = nc.jetstream()
        kv = await ensure_kv(js, names.bucket, history=8)
        await ensure_broadcast_stream(js, names.stream, [names.wildcard])
        return cls(nc, names, kv, retention_s=retention_s)

    async def get_with_revision(self, event_id: str) -> tuple[LiveEvent, int]:
        """The event and its KV revision.

        Raises:
            NotFoundError: No event has that id.
        """
        check_event_id(event_id)
        try:
            entry = await self.kv.get(event_id)
        except KeyNotFoundError as err:
            raise NotFoundError(f"no live event {event_id!r}", hint="`rdg live list` shows the events") from err
        return LiveEvent.from_dict(json.loads(entry.value)), entry.revision

    async def get(self, event_id: str) -> LiveEvent:
        """The event (see :meth:`get_with_revision`)."""
        return (await self.get_with_revision(event_id))[0]

    async def list(self) -> list[LiveEvent]:
        """Every event, soonest start first."""
        out = []
        for key in await kv_keys(self.js, self.names.bucket):
            try:
                out.append(await self.get(key))
            except NotFoundError:
                continue  # deleted between keys() and get()
        return sorted(out, key=lambda e: (e.start, e.event_id))

    async def create(self, event: LiveEvent) -> LiveEvent:
        """Store a new event (and broadcast its ``scheduled`` state).

        Raises:
            ConflictError: An event with that id exists already.
        """
        try:
            await kv_create(self.kv, event.event_id, _encode(event))
        except ConflictError as err:
            raise ConflictError(f"live event {event.event_id!r} exists already",
                                hint="pick another id, or change it with delay/start/end/cancel") from err
        await self.publish(event)
        return event

    async def transition(self, event_id: str, action: Action | str, *, by: str, now: float | None = None,
                         expect_seq: int | None = None, attempts: int = 20, **kwargs: Any) -> LiveEvent:
        """Apply ``action`` with compare-and-set, then broadcast the new state.

        Args:
            event_id: The event.
            action: One of :class:`Action` (not ``create``).
            by: Who did it (kept in the history).
            now: The time of the transition (default: now).
            expect_seq: Only act if the event is still at this seq (the scheduler passes the seq it
                planned from, so a delay that lands first is never overridden by a stale start).
            attempts: Compare-and-set attempts before giving up.
            kwargs: ``new_start=`` for delay, ``stage=`` for stage, ``note=``.

        Raises:
            NotFoundError: Unknown event.
            IllegalActionError: Not allowed in the event's current state.
            ConflictError: Lost the compare-and-set ``attempts`` times in a row, or the event is
                no longer at ``expect_seq``.
        """
        async def attempt() -> LiveEvent:
            event, revision = await self.get_with_revision(event_id)
            if expect_seq is not None and event.seq != expect_seq:  # final: not a lost race to retry
                raise _Stale(f"event {event_id!r} moved to seq {event.seq} (expected {expect_seq})")
            updated = apply(event, action, by=by, now=time.time() if now is None else now, **kwargs)
            if self.retention_s and updated.state in (State.ENDED, State.CANCELLED):
                await kv_cas_final(self.js, self.names.bucket, event_id, _encode(updated), revision,
                                   ttl=self.retention_s)
            else:
                await kv_cas(self.kv, event_id, _encode(updated), revision)
            return updated

        try:
            updated = await until_no_conflict(attempt, attempts=attempts,
                                              what=f"could not {Action(action).value} {event_id!r}: it kept changing",
                                              hint="try again; someone else is changing it at the same moment")
        except _Stale as stale:
            raise ConflictError(str(stale), hint="re-read the event and decide again") from None
        await self.publish(updated)
        return updated

    async def publish(self, event: LiveEvent) -> int:
        """Broadcast ``event.message()`` (idempotent per ``(event_id, seq)``)."""
        return await publish_json(self.js, self.names.subject(event.event_id), event.message(),
                                  msg_id=f"{event.event_id}:{event.seq}")

    async def last_broadcast(self, event_id: str) -> dict[str, Any] | None:
        """The newest broadcast message of ``event_id`` in the stream, if any."""
        return await last_json(self.js, self.names.stream, self.names.subject(check_event_id(event_id)))

    async def follow(self, known: dict[str, LiveEvent], ready: asyncio.Event) -> AsyncIterator[LiveEvent]:
        """Yield each event newer (by seq) than its copy in ``known``, after storing it there.

        ``ready`` is set once the current state has been read. A watch that drops (a server
        restart) is started again; state never goes backwards, because an older or equal seq
        is skipped.
        """
        while True:
            try:
                async for event in self.watch():
                    if event is None:
                        ready.set()
                        continue
                    old = known.get(event.event_id)
                    if old is not None and old.seq >= event.seq:
                        continue
                    known[event.event_id] = event
                    yield event
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: BLE001 - the watch died: start it again
                log.warning("KV watch ended (%s); restarting in 0.5s", err)
                await asyncio.sleep(0.5)

    async def watch(self) -> AsyncIterator[LiveEvent | None]:
        """Yield every event now, then ``None`` (caught up), then each event as it changes."""
        watcher = await self.kv.watchall()
        try:
            async for entry in watcher:
                if entry is None:
                    yield None
                    continue
                if entry.operation in ("DEL", "PURGE") or not entry.value:
                    continue
                try:
                    yield LiveEvent.from_dict(json.loads(entry.value))
                except (ValueError, TypeError, KeyError) as err:
                    log.error("ignoring malformed event record %r: %s", entry.key, err)
        finally:
            await watcher.stop()


def _encode(event: LiveEvent) -> bytes:
    return json.dumps(event.as_dict(), separators=(",", ":")).encode()
