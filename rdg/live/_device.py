"""A device's view of live events: prefetched content, seen seqs, what it shows now.

A device is a small object so that a simulator can hold 100,000 of them. It flips on a
broadcast only if the seq is newer than any it saw for that event (so duplicates and stale
messages never flip it twice or backwards), and shows the content it prefetched for the new
stage. If it has nothing prefetched for that stage it reports a miss; the caller fetches.

>>> d = Device("tv-1", "p1")
>>> d.prefetch({"events": [{"event_id": "final", "content": {"main": {"badge": "LIVE"}}}]})
>>> d.apply({"event_id": "final", "state": "live", "stage": "main", "seq": 2, "ts": 0})
True
>>> d.showing["final"]
('main', {'badge': 'LIVE'})
>>> d.apply({"event_id": "final", "state": "live", "stage": "main", "seq": 2, "ts": 0})  # a duplicate
False
>>> d.flips
1
"""

from __future__ import annotations

from typing import Any, Mapping

__all__ = ["MAX_SEQ_STEP", "Device", "display_key", "plausible_seq", "valid_message"]

_STATES = frozenset({"scheduled", "delayed", "live", "ended", "cancelled"})
_KEYS = frozenset({"event_id", "state", "stage", "seq", "ts", "type"})  # "type": the gateway's frame
_MAX_TEXT = 200
MAX_SEQ_STEP = 1000
"""Most a broadcast's seq may jump past the newest one seen (each transition adds 1). A message
further ahead is refused: adopting it would make every real message after it look stale."""


def display_key(msg: Mapping[str, Any]) -> str:
    """What a message asks a device to show: the stage while live, else the state name."""
    return msg["stage"] if msg["state"] == "live" and msg.get("stage") else msg["state"]


def valid_message(msg: Any) -> bool:
    """True if ``msg`` is a broadcast ``{event_id, state, stage, seq, ts}`` and nothing more
    (texts up to 200 characters, seq from 1).

    >>> valid_message({"event_id": "e", "state": "live", "stage": "main", "seq": 3, "ts": 1})
    True
    >>> valid_message({"event_id": "e", "state": "party", "seq": 3, "ts": 1})
    False
    >>> valid_message({"event_id": "e", "state": "live", "seq": 3, "ts": 1, "junk": "x" * 500_000})
    False
    """
    return (isinstance(msg, dict) and set(msg) <= _KEYS and isinstance(msg.get("event_id"), str)
            and 0 < len(msg["event_id"]) <= _MAX_TEXT and msg.get("state") in _STATES
            and isinstance(msg.get("seq"), int) and not isinstance(msg.get("seq"), bool) and msg["seq"] >= 1
            and isinstance(msg.get("ts"), int) and not isinstance(msg.get("ts"), bool)
            and (msg.get("stage") is None or (isinstance(msg.get("stage"), str) and len(msg["stage"]) <= _MAX_TEXT)))


def plausible_seq(seq: int, newest: int | None) -> bool:
    """True unless ``seq`` is further than :data:`MAX_SEQ_STEP` past ``newest`` (or past 0 if none seen).

    >>> plausible_seq(7, 6), plausible_seq(2 ** 62, 6), plausible_seq(2 ** 62, None)
    (True, False, False)
    """
    return seq <= (newest or 0) + MAX_SEQ_STEP


class Device:
    """One device (TV, phone) of one member.

    Attributes:
        seen: Highest seq applied, per event.
        showing: Per event, ``(key, content)`` now on screen (content ``None`` = not prefetched).
        flips: How many messages changed what it shows.
        misses: Flips for which nothing was prefetched (the caller should fetch).
        log: Every applied message with the local receive time, if ``keep_log``.
    """

    __slots__ = ("device_id", "member_id", "content", "seen", "showing", "flips", "misses", "log", "keep_log")

    def __init__(self, device_id: str, member_id: str | None = None, *, keep_log: bool = False) -> None:
        self.device_id = device_id
        self.member_id = member_id
        self.content: dict[str, dict[str, Any]] = {}
        self.seen: dict[str, int] = {}
        self.showing: dict[str, tuple[str, Any]] = {}
        self.flips = 0
        self.misses = 0
        self.keep_log = keep_log
        self.log: list[tuple[float, dict[str, Any]]] = []

    def prefetch(self, response: Mapping[str, Any]) -> None:
        """Keep the stage -> content map of every event in a prefetch API response."""
        for item in response.get("events", ()):
            self.content[item["event_id"]] = dict(item.get("content") or {})

    def has_content(self, event_id: str) -> bool:
        """True if something was prefetched for ``event_id``."""
        return event_id in self.content

    def apply(self, msg: Mapping[str, Any], received_at: float = 0.0) -> bool:
        """Apply one broadcast message; return True if it changed what the device shows."""
        event_id = msg["event_id"]
        seq = msg["seq"]
        if seq <= self.seen.get(event_id, 0) or not plausible_seq(seq, self.seen.get(event_id)):
            return False
        self.seen[event_id] = seq
        key = display_key(msg)
        shown = self.content.get(event_id, {}).get(key)
        if shown is None:
            self.misses += 1
        self.showing[event_id] = (key, shown)
        self.flips += 1
        if self.keep_log:
            self.log.append((received_at, dict(msg)))
        return True
