"""What engines react to: one small class per kind of event, and their JSON form on the wire.

Clients, workers and engines publish these on the events stream; the engine's ``handle`` takes
them. The wire form is a JSON object tagged ``"t"`` (kept as it was, so processes of different
versions can share a stream).

>>> event = StepEnded("r1", "load", 7, {"status": "SUCCEEDED"})
>>> wire = to_wire(event)
>>> wire["t"], from_wire(wire) == event
('step', True)
>>> from_wire({"t": "tea", "run": "r1"})
Traceback (most recent call last):
...
ValueError: unknown event kind 'tea'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

__all__ = ["ActionTaken", "ChildEnded", "Event", "RunStarted", "StepEnded", "Wake", "from_wire", "to_wire"]


@dataclass(frozen=True)
class RunStarted:
    """A run was created. ``rec``/``rev``: the run record as written, so the engine need not read it."""

    run: str
    rec: dict[str, Any] | None = None
    rev: int = 0


@dataclass(frozen=True)
class ActionTaken:
    """Someone changed the run's state (stop, pause, restart, skip...): read it again and decide."""

    run: str


@dataclass(frozen=True)
class StepEnded:
    """A worker recorded a step's outcome: ``rec`` at revision ``rev`` (a newer one wins)."""

    run: str
    step: str
    rev: int
    rec: dict[str, Any]


@dataclass(frozen=True)
class ChildEnded:
    """A child run (of a foreach iteration ``index``, or a subworkflow) reached ``status``."""

    run: str
    """The parent run."""
    step: str
    """The parent's step that started the child."""
    child: str
    status: str
    index: int | None = None


@dataclass(frozen=True)
class Wake:
    """Look at the run again (an engine's own timer or take-up; never on the wire)."""

    run: str


Event = Union[RunStarted, ActionTaken, StepEnded, ChildEnded, Wake]
"""Any event an engine handles."""


def to_wire(event: Event) -> dict[str, Any]:
    """The JSON object published for ``event``."""
    if isinstance(event, RunStarted):
        out: dict[str, Any] = {"t": "start", "run": event.run, "new": True}
        if event.rec is not None:
            out.update(rec=event.rec, rev=event.rev)
        return out
    if isinstance(event, ActionTaken):
        return {"t": "action", "run": event.run}
    if isinstance(event, StepEnded):
        return {"t": "step", "run": event.run, "step": event.step, "rev": event.rev, "rec": event.rec}
    if isinstance(event, ChildEnded):
        return {"t": "child", "run": event.run, "step": event.step, "index": event.index, "child": event.child,
                "status": event.status}
    return {"t": "wake", "run": event.run}


def from_wire(data: Any) -> Event:
    """The event a published JSON object describes.

    Raises:
        ValueError: Not an object, an unknown kind, or a field missing.
    """
    if not isinstance(data, dict):
        raise ValueError(f"an event is a JSON object, not {type(data).__name__}")
    kind = data.get("t")
    try:
        if kind == "start":
            return RunStarted(data["run"], data.get("rec"), int(data.get("rev") or 0))
        if kind == "action":
            return ActionTaken(data["run"])
        if kind == "step":
            return StepEnded(data["run"], data["step"], int(data["rev"]), data["rec"])
        if kind == "child":
            index = data.get("index")
            return ChildEnded(data["run"], data["step"], data["child"], data["status"],
                              None if index is None else int(index))
        if kind == "wake":
            return Wake(data["run"])
    except KeyError as err:
        raise ValueError(f"event {kind!r} lacks {err}") from err
    except (TypeError, ValueError) as err:
        raise ValueError(f"event {kind!r} has a bad field: {err}") from err
    raise ValueError(f"unknown event kind {kind!r}")
