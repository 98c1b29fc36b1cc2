"""Engine events: every kind survives the wire unchanged, and the wire form is what older
processes published (so engines and workers of two versions can share a stream)."""

from __future__ import annotations

import pytest

from rdg.workflow import ActionTaken, ChildEnded, RunStarted, StepEnded, Wake
from rdg.workflow._events import from_wire, to_wire


@pytest.mark.parametrize("event, wire", [
    (RunStarted("r1", {"id": "r1"}, 4), {"t": "start", "run": "r1", "new": True, "rec": {"id": "r1"}, "rev": 4}),
    (RunStarted("r1"), {"t": "start", "run": "r1", "new": True}),
    (ActionTaken("r1"), {"t": "action", "run": "r1"}),
    (StepEnded("r1", "load", 9, {"status": "SUCCEEDED"}),
     {"t": "step", "run": "r1", "step": "load", "rev": 9, "rec": {"status": "SUCCEEDED"}}),
    (ChildEnded("r1", "each", "r1.each.1-1.3", "SUCCEEDED", 3),
     {"t": "child", "run": "r1", "step": "each", "index": 3, "child": "r1.each.1-1.3", "status": "SUCCEEDED"}),
    (ChildEnded("r1", "sub", "r9", "FAILED"),
     {"t": "child", "run": "r1", "step": "sub", "index": None, "child": "r9", "status": "FAILED"}),
    (Wake("r1"), {"t": "wake", "run": "r1"}),
])
def test_each_event_has_the_wire_form_older_processes_use(event: object, wire: dict) -> None:
    assert to_wire(event) == wire  # type: ignore[arg-type]
    assert from_wire(wire) == event


@pytest.mark.parametrize("wire, problem", [
    ({"t": "tea", "run": "r1"}, "unknown event kind 'tea'"),
    ({"run": "r1"}, "unknown event kind None"),
    ({"t": "step", "run": "r1", "step": "a"}, "event 'step' lacks 'rev'"),
    ({"t": "step", "run": "r1", "step": "a", "rev": None, "rec": {}}, "event 'step' has a bad field"),
    ([1, 2], "an event is a JSON object, not list"),
])
def test_a_malformed_event_is_a_clear_error(wire: dict, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        from_wire(wire)
