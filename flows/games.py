"""Enrichers for the mobile-games pipeline.

An enrich function takes the canonical event (a dict) and returns it (or a new dict); raising
sends the event to the dead-letter output with the exception as the reason.

>>> enrich_session({"started": 1_000, "ended": 61_000, "score": 1500})["duration_s"]
60
>>> enrich_session({"started": 1_000, "score": 90})["tier"]
'bronze'
"""

from __future__ import annotations

from typing import Any

_TIERS = ((5000, "gold"), (1000, "silver"), (0, "bronze"))


def enrich_session(event: dict[str, Any]) -> dict[str, Any]:
    """Add ``duration_s`` (from the session's start and end, epoch ms) and a score ``tier``.

    Raises:
        ValueError: The session ends before it starts.
    """
    started, ended = event.get("started"), event.get("ended")
    if started is not None and ended is not None:
        if ended < started:
            raise ValueError(f"session ends ({ended}) before it starts ({started})")
        event["duration_s"] = (ended - started) // 1000
    score = event.get("score")
    if score is not None:
        event["tier"] = next(name for floor, name in _TIERS if score >= floor)
    return event
