"""Recommendations for upcoming live events, computed from the member's journeys in the graph.

For each member we read (with bytecode traversals, never Gremlin text) the titles they watched,
the live events they viewed, and the values of the events' tag keys (``sport``, ``league``,
``genre``...) on everything they watched, viewed or played (``profile -watched-> title``,
``profile -viewed_live-> live_event``, ``profile -played-> game`` in ``pipelines.yaml``). An event ranks higher when the member
watched its related titles (3 points each) and when their history shares its tags (1 point per
matching element, at most 5 per tag). Each recommendation carries the full stage -> content map
a device needs, so the broadcast itself only has to say which key to show.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

from rdg.live._model import LiveEvent, State

__all__ = ["GraphShape", "MemberFeatures", "Recommendation", "Recommender", "content_map"]


@dataclass(frozen=True)
class GraphShape:
    """Which labels and keys of the graph model the recommender reads (defaults follow pipelines.yaml)."""

    member_label: str = "profile"
    """Vertex label of a member (``profile``; some models use ``member``)."""
    member_key: str = "profile_id"
    """Key property of a member vertex."""
    watched: tuple[str, ...] = ("watched",)
    """Edge labels from a member to titles."""
    viewed: tuple[str, ...] = ("viewed_live",)
    """Edge labels from a member to live events."""
    touched: tuple[str, ...] = ("played",)
    """Other edge labels whose targets' tags count too (games played)."""
    title_key: str = "title_id"
    """Key property of a title vertex."""
    event_key: str = "live_event_id"
    """Key property of a live_event vertex."""


@dataclass(frozen=True)
class MemberFeatures:
    """What the graph says about one member, as far as live events care."""

    titles: frozenset[str] = frozenset()
    events: frozenset[str] = frozenset()
    tag_values: dict[str, Counter[str]] = field(default_factory=dict)
    """Per tag key, how many watched/viewed elements carry each value."""


@dataclass(frozen=True)
class Recommendation:
    """One ranked event for one member with what to show at every stage."""

    event: LiveEvent
    score: float
    reasons: tuple[str, ...]
    content: dict[str, dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        """The JSON the prefetch API serves for this event."""
        ev = self.event
        return {"event_id": ev.event_id, "title": ev.title, "start": ev.start, "end": ev.end,
                "state": ev.state.value, "seq": ev.seq, "stages": [s.name for s in ev.stages],
                "score": self.score, "reasons": list(self.reasons), "content": self.content}


def content_map(event: LiveEvent, row: list[str]) -> dict[str, dict[str, Any]]:
    """Everything a device shows for ``event``: one entry per stage and per non-live state.

    >>> from rdg.live._model import new_event, Stage
    >>> ev = new_event("e", title="Final", start=0.0, end=10.0, stages=[Stage("main", 0, {"badge": "LIVE"})])
    >>> sorted(content_map(ev, ["t1"]))
    ['cancelled', 'delayed', 'ended', 'main', 'scheduled']
    >>> content_map(ev, ["t1"])["main"]["badge"]
    'LIVE'
    """
    base = {"event_id": event.event_id, "title": event.title}
    out: dict[str, dict[str, Any]] = {
        "scheduled": {**base, "badge": "UPCOMING", "starts_at": event.start, "row": row},
        "delayed": {**base, "badge": "DELAYED", "starts_at": event.start, "row": row},
        "ended": {**base, "badge": "REPLAY SOON", "row": row},
        "cancelled": {**base, "badge": "CANCELLED", "row": row},
    }
    for stage in event.stages:
        out[stage.name] = {**base, "badge": "LIVE", "stage": stage.name, "play": f"/watch/live/{event.event_id}",
                           "row": row, **stage.show}
    return out


class Recommender:
    """Rank upcoming events per member from the graph; member features are cached for ``feature_ttl_s``.

    Args:
        g: A gremlinpython traversal source (JanusGraph or the embedded graph).
        shape: Labels and keys to read.
        feature_ttl_s: How long a member's graph features are reused.
    """

    def __init__(self, g: Any, shape: GraphShape | None = None, *, feature_ttl_s: float = 60.0) -> None:
        self.g = g
        self.shape = shape or GraphShape()
        self.feature_ttl_s = feature_ttl_s
        self._cache: dict[tuple[str, tuple[str, ...]], tuple[float, MemberFeatures]] = {}
        self._lock = threading.Lock()
        self.graph_reads = 0

    def features(self, member_id: str, tag_keys: Iterable[str] = ()) -> MemberFeatures:
        """Read the member's titles, viewed events and tag values from the graph (cached)."""
        keys = tuple(sorted(set(tag_keys)))
        now = time.monotonic()
        hit = self._cache.get((member_id, keys))
        if hit is not None and now - hit[0] < self.feature_ttl_s:
            return hit[1]
        with self._lock:  # one graph connection; gremlinpython/SQLite handles are not shared across threads
            feats = self._read(member_id, keys)
        self._cache[(member_id, keys)] = (now, feats)
        return feats

    def _read(self, member_id: str, keys: tuple[str, ...]) -> MemberFeatures:
        s = self.shape
        self.graph_reads += 1

        def member() -> Any:
            return self.g.V().has(s.member_label, s.member_key, member_id)

        titles = frozenset(str(t) for t in member().out(*s.watched).values(s.title_key).to_list())
        events = frozenset(str(e) for e in member().out(*s.viewed).values(s.event_key).to_list())
        tag_values: dict[str, Counter[str]] = {}
        for key in keys:
            values = member().out(*s.watched, *s.viewed, *s.touched).values(key).to_list()
            tag_values[key] = Counter(str(v).lower() for v in values)
        return MemberFeatures(titles, events, tag_values)

    def rank(self, member_id: str, events: Iterable[LiveEvent]) -> list[Recommendation]:
        """Upcoming (scheduled, delayed or live) events for ``member_id``, best first."""
        upcoming = [e for e in events if e.state in (State.SCHEDULED, State.DELAYED, State.LIVE)]
        if not upcoming:
            return []
        feats = self.features(member_id, {k for e in upcoming for k in e.tags})
        out = []
        for event in upcoming:
            score = 0.0
            reasons: list[str] = []
            seen_related = [t for t in event.related_titles if t in feats.titles]
            if seen_related:
                score += 3.0 * len(seen_related)
                reasons.append(f"watched {', '.join(seen_related[:3])}")
            for key, value in event.tags.items():
                hits = min(feats.tag_values.get(key, Counter()).get(str(value).lower(), 0), 5)
                if hits:
                    score += hits
                    reasons.append(f"{hits}x {key}={value}")
            if event.event_id in feats.events:
                score += 1.0
                reasons.append("viewed this event before")
            row = [t for t in event.related_titles if t not in feats.titles] + seen_related
            out.append(Recommendation(event, score, tuple(reasons), content_map(event, row)))
        out.sort(key=lambda r: (-r.score, r.event.start, r.event.event_id))
        return out
