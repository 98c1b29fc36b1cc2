"""Live events as values: the state machine, its legal transitions, and schedule parsing.

Nothing here does I/O. An :class:`LiveEvent` is frozen; :func:`apply` returns the next one
or raises :class:`~rdg.errors.IllegalActionError`. The store (``_store.py``) persists the
result with compare-and-set and the broadcaster publishes :meth:`LiveEvent.message`.

>>> ev = new_event("final", title="Cup final", start=1000.0, end=4600.0,
...                stages=[Stage("pre-show", 0), Stage("main", 900), Stage("post-show", 3000)])
>>> ev = apply(ev, Action.START, by="ops", now=1000.0)
>>> (ev.state.value, ev.stage, ev.seq)
('live', 'pre-show', 2)
>>> ev = apply(ev, Action.STAGE, by="ops", now=1900.0)
>>> ev.stage
'main'
>>> apply(ev, Action.DELAY, by="ops", now=1950.0, new_start=9000.0)
Traceback (most recent call last):
...
rdg.errors.IllegalActionError: cannot delay event 'final': it is live (hint: allowed while live: stage, end)
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import re
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Iterable, Mapping

from rdg.duration import parse_duration
from rdg.errors import DurationError, IllegalActionError, RdgError

__all__ = [
    "Action",
    "HistoryEntry",
    "LiveEvent",
    "ScheduleError",
    "Stage",
    "State",
    "TRANSITIONS",
    "apply",
    "check_event_id",
    "new_event",
    "parse_duration",
    "parse_time",
]

_EVENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ScheduleError(RdgError):
    """A schedule is malformed: a bad time, an end before the start, a bad stage list."""

    exit_code = 2


class State(str, Enum):
    """Where an event is in its life."""

    SCHEDULED = "scheduled"
    DELAYED = "delayed"
    LIVE = "live"
    ENDED = "ended"
    CANCELLED = "cancelled"


class Action(str, Enum):
    """What an operator or the scheduler can do to an event."""

    CREATE = "create"
    DELAY = "delay"
    START = "start"
    STAGE = "stage"
    END = "end"
    CANCEL = "cancel"


TRANSITIONS: dict[State, dict[Action, State]] = {
    State.SCHEDULED: {Action.DELAY: State.DELAYED, Action.START: State.LIVE, Action.CANCEL: State.CANCELLED},
    State.DELAYED: {Action.DELAY: State.DELAYED, Action.START: State.LIVE, Action.CANCEL: State.CANCELLED},
    State.LIVE: {Action.STAGE: State.LIVE, Action.END: State.ENDED},
    State.ENDED: {},
    State.CANCELLED: {},
}
"""The legal transitions: ``TRANSITIONS[state][action]`` is the next state; anything else is illegal."""


@dataclass(frozen=True)
class Stage:
    """One part of an event (``pre-show``, ``main``...), entered ``offset_s`` after the real start."""

    name: str
    offset_s: float = 0.0
    show: dict[str, Any] = field(default_factory=dict)
    """What a device shows during this stage (artwork, badge, call to action); prefetched."""


@dataclass(frozen=True)
class HistoryEntry:
    """Who did what when, and the seq it produced."""

    seq: int
    action: str
    by: str
    at: float
    state: str
    stage: str | None = None
    note: str = ""


@dataclass(frozen=True)
class LiveEvent:
    """One live event and its current state. ``seq`` grows by one with every transition."""

    event_id: str
    title: str
    start: float
    """Planned (or, once live, actual) start, epoch seconds."""
    end: float
    """Expected end, epoch seconds; a delay moves it with the start."""
    stages: tuple[Stage, ...]
    state: State = State.SCHEDULED
    stage: str | None = None
    seq: int = 1
    ts: float = 0.0
    """When the last transition happened (epoch seconds): the trigger time devices measure from."""
    tags: dict[str, str] = field(default_factory=dict)
    """Sport, league, genre...: what recommendations match members against."""
    related_titles: tuple[str, ...] = ()
    history: tuple[HistoryEntry, ...] = ()

    @property
    def stage_index(self) -> int:
        """Index of the current stage, -1 before the event goes live."""
        names = [s.name for s in self.stages]
        return names.index(self.stage) if self.stage in names else -1

    @property
    def next_stage(self) -> Stage | None:
        """The stage after the current one (the first one before going live), or ``None``."""
        i = self.stage_index + 1
        return self.stages[i] if i < len(self.stages) else None

    @property
    def terminal(self) -> bool:
        """True once ended or cancelled: nothing can change it any more."""
        return not TRANSITIONS[self.state]

    def message(self) -> dict[str, Any]:
        """The small broadcast message: ``{event_id, state, stage, seq, ts}`` (``ts`` in ms)."""
        return {"event_id": self.event_id, "state": self.state.value, "stage": self.stage,
                "seq": self.seq, "ts": int(self.ts * 1000)}

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (what the KV store holds)."""
        out = dataclasses.asdict(self)
        out["state"] = self.state.value
        out["stages"] = [dataclasses.asdict(s) for s in self.stages]
        out["history"] = [dataclasses.asdict(h) for h in self.history]
        out["related_titles"] = list(self.related_titles)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "LiveEvent":
        """Inverse of :meth:`as_dict`; unknown keys are ignored (newer writers)."""
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["state"] = State(values.get("state", "scheduled"))
        values["stages"] = tuple(Stage(**{k: v for k, v in s.items() if k in ("name", "offset_s", "show")})
                                 for s in values.get("stages", ()))
        values["history"] = tuple(HistoryEntry(**h) for h in values.get("history", ()))
        values["related_titles"] = tuple(values.get("related_titles", ()))
        values["tags"] = dict(values.get("tags") or {})
        return cls(**values)


def check_event_id(event_id: str) -> str:
    """Return ``event_id`` if it is usable as a KV key and a subject token, else raise.

    >>> check_event_id("final-2026")
    'final-2026'
    >>> check_event_id("a.b")
    Traceback (most recent call last):
    ...
    rdg.live._model.ScheduleError: bad event id 'a.b' (hint: use 1-64 letters, digits, '-' or '_')
    """
    if not isinstance(event_id, str) or not _EVENT_ID.match(event_id):
        raise ScheduleError(f"bad event id {event_id!r}", hint="use 1-64 letters, digits, '-' or '_'")
    return event_id


def parse_time(text: str | float | int, *, now: float | None = None) -> float:
    """Epoch seconds from an ISO-8601 time with a zone, ``now``, ``+15m`` or epoch seconds.

    >>> parse_time("2026-11-26T20:00:00Z")
    1795723200.0
    >>> parse_time("+90s", now=100.0)
    190.0
    >>> parse_time("tomorrow-ish")
    Traceback (most recent call last):
    ...
    rdg.live._model.ScheduleError: bad time 'tomorrow-ish' (hint: use ISO-8601 with a zone (2026-11-26T20:00:00Z), 'now', '+15m' or epoch seconds)
    """
    now = time.time() if now is None else now
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    raw = str(text).strip()
    if raw == "now":
        return now
    hint = "use ISO-8601 with a zone (2026-11-26T20:00:00Z), 'now', '+15m' or epoch seconds"
    if raw.startswith("+"):
        try:
            return now + parse_duration(raw[1:])
        except DurationError as err:
            raise ScheduleError(f"bad time {raw!r}: {err.message}", hint=hint) from err
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        parsed = _dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as err:
        raise ScheduleError(f"bad time {raw!r}", hint=hint) from err
    if parsed.tzinfo is None:
        raise ScheduleError(f"time {raw!r} has no time zone", hint=hint)
    return parsed.timestamp()


def new_event(event_id: str, *, title: str, start: float, end: float, stages: Iterable[Stage] = (),
              tags: Mapping[str, str] | None = None, related_titles: Iterable[str] = (),
              by: str = "operator", now: float | None = None) -> LiveEvent:
    """A validated, scheduled event (seq 1, one ``create`` history entry).

    Raises:
        ScheduleError: A bad id, an end not after the start, no stages, or stages out of order.
    """
    check_event_id(event_id)
    now = time.time() if now is None else now
    stages = tuple(stages) or (Stage("main", 0.0),)
    if not title or not str(title).strip():
        raise ScheduleError(f"event {event_id!r} needs a title", hint="pass --title")
    if end <= start:
        raise ScheduleError(f"event {event_id!r} ends before it starts", hint="give an end after the start")
    names = [s.name for s in stages]
    if len(set(names)) != len(names):
        raise ScheduleError(f"event {event_id!r} has duplicate stage names {names}", hint="name each stage once")
    offsets = [s.offset_s for s in stages]
    if offsets[0] != 0 or offsets != sorted(offsets) or len(set(offsets)) != len(offsets):
        raise ScheduleError(f"event {event_id!r}: stage offsets must start at 0 and increase, got {offsets}",
                            hint="e.g. --stage pre-show:0 --stage main:15m --stage post-show:2h")
    if start + offsets[-1] >= end:
        raise ScheduleError(f"event {event_id!r}: stage {names[-1]!r} starts after the expected end",
                            hint="move the end later or the stage earlier")
    for name in names:
        if not name or name in {s.value for s in State}:
            raise ScheduleError(f"bad stage name {name!r}", hint="stage names cannot be empty or a state name")
    entry = HistoryEntry(seq=1, action=Action.CREATE.value, by=by, at=now, state=State.SCHEDULED.value)
    return LiveEvent(event_id=event_id, title=str(title), start=float(start), end=float(end), stages=stages,
                     tags=dict(tags or {}), related_titles=tuple(related_titles), ts=now, history=(entry,))


def apply(event: LiveEvent, action: Action | str, *, by: str, now: float | None = None,
          new_start: float | None = None, stage: str | None = None, note: str = "") -> LiveEvent:
    """The event after ``action``, or :class:`IllegalActionError` if the table does not allow it.

    ``delay`` needs ``new_start`` later than the current start (the end moves by the same
    amount); ``stage`` moves to ``stage`` or else to the next stage, never backwards; ``start``
    enters the first stage and sets the start to ``now`` (so an early start is a start).
    """
    action = Action(action)
    now = time.time() if now is None else now
    allowed = TRANSITIONS[event.state]
    if action not in allowed:
        names = ", ".join(a.value for a in allowed) or "nothing (it is final)"
        raise IllegalActionError(f"cannot {action.value} event {event.event_id!r}: it is {event.state.value}",
                                 hint=f"allowed while {event.state.value}: {names}")
    changes: dict[str, Any] = {"state": allowed[action]}
    if action is Action.DELAY:
        if new_start is None or new_start <= event.start:
            raise IllegalActionError(f"a delay must move the start of {event.event_id!r} later",
                                     hint="give a start after the current one (or use `start` to start now)")
        changes.update(start=new_start, end=event.end + (new_start - event.start))
        note = note or f"start moved by {new_start - event.start:.0f}s"
    elif action is Action.START:
        changes.update(stage=event.stages[0].name, start=now, end=max(event.end + (now - event.start), now + 1))
    elif action is Action.STAGE:
        names = [s.name for s in event.stages]
        target = stage or (event.next_stage.name if event.next_stage else None)
        if target is None:
            raise IllegalActionError(f"event {event.event_id!r} is already in its last stage {event.stage!r}",
                                     hint="end it instead")
        if target not in names:
            raise IllegalActionError(f"event {event.event_id!r} has no stage {target!r}",
                                     hint=f"stages: {', '.join(names)}")
        if names.index(target) <= event.stage_index:
            raise IllegalActionError(f"stage {target!r} of {event.event_id!r} is not after {event.stage!r}",
                                     hint="stages only move forwards")
        changes["stage"] = target
    elif action is Action.END:
        changes["end"] = now
    seq = event.seq + 1
    state = changes["state"]
    entry = HistoryEntry(seq=seq, action=action.value, by=by, at=now, state=state.value,
                         stage=changes.get("stage", event.stage if state is State.LIVE else None), note=note)
    if state is not State.LIVE:
        changes["stage"] = None
    return dataclasses.replace(event, seq=seq, ts=now, history=event.history + (entry,), **changes)
