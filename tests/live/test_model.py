"""The state machine on its own: every legal transition, every illegal one, schedule checks."""

from __future__ import annotations

import pytest

from rdg.errors import IllegalActionError
from rdg.live import TRANSITIONS, Action, LiveEvent, ScheduleError, Stage, State, apply, new_event, parse_time


def _event() -> LiveEvent:
    return new_event("final", title="Cup final", start=1000.0, end=5000.0,
                     stages=[Stage("pre-show", 0), Stage("main", 600), Stage("post-show", 3000)],
                     tags={"sport": "football"}, related_titles=["t1"], now=0.0)


def _in_state(state: State) -> LiveEvent:
    ev = _event()
    if state is State.DELAYED:
        return apply(ev, Action.DELAY, by="t", now=1.0, new_start=2000.0)
    if state is State.LIVE:
        return apply(ev, Action.START, by="t", now=1000.0)
    if state is State.ENDED:
        return apply(apply(ev, Action.START, by="t", now=1000.0), Action.END, by="t", now=1100.0)
    if state is State.CANCELLED:
        return apply(ev, Action.CANCEL, by="t", now=1.0)
    return ev


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("action", [a for a in Action if a is not Action.CREATE])
def test_transition_table_is_enforced(state: State, action: Action) -> None:
    ev = _in_state(state)
    kwargs = {"new_start": ev.start + 60} if action is Action.DELAY else {}
    if action in TRANSITIONS[state]:
        after = apply(ev, action, by="ops", now=ev.start + 1, **kwargs)
        assert after.state is TRANSITIONS[state][action]
        assert after.seq == ev.seq + 1
        assert after.history[-1].action == action.value and after.history[-1].by == "ops"
    else:
        with pytest.raises(IllegalActionError, match=f"cannot {action.value}"):
            apply(ev, action, by="ops", now=ev.start + 1, **kwargs)


def test_stages_only_move_forwards_and_history_records_who_what_when() -> None:
    ev = apply(_event(), Action.START, by="sched", now=1000.0)
    ev = apply(ev, Action.STAGE, by="sched", now=1600.0)
    assert ev.stage == "main"
    with pytest.raises(IllegalActionError, match="not after"):
        apply(ev, Action.STAGE, by="ops", stage="pre-show", now=1700.0)
    with pytest.raises(IllegalActionError, match="no stage"):
        apply(ev, Action.STAGE, by="ops", stage="halftime", now=1700.0)
    ev = apply(ev, Action.STAGE, by="ops", stage="post-show", now=4000.0)
    with pytest.raises(IllegalActionError, match="last stage"):
        apply(ev, Action.STAGE, by="ops", now=4001.0)
    assert [(h.seq, h.action, h.by, h.stage) for h in ev.history] == [
        (1, "create", "operator", None), (2, "start", "sched", "pre-show"), (3, "stage", "sched", "main"),
        (4, "stage", "ops", "post-show")]
    assert LiveEvent.from_dict(ev.as_dict()) == ev


def test_delay_moves_start_and_end_and_must_move_later() -> None:
    ev = apply(_event(), Action.DELAY, by="ops", now=10.0, new_start=1600.0)
    assert (ev.state, ev.start, ev.end) == (State.DELAYED, 1600.0, 5600.0)
    with pytest.raises(IllegalActionError, match="later"):
        apply(ev, Action.DELAY, by="ops", now=11.0, new_start=1500.0)


def test_early_start_and_early_end() -> None:
    ev = apply(_event(), Action.START, by="ops", now=900.0)
    assert ev.start == 900.0 and ev.stage == "pre-show"
    ev = apply(ev, Action.END, by="ops", now=950.0)
    assert (ev.state, ev.end, ev.stage) == (State.ENDED, 950.0, None)
    assert ev.message() == {"event_id": "final", "state": "ended", "stage": None, "seq": 3, "ts": 950000}


@pytest.mark.parametrize("kwargs, match", [
    ({"event_id": "bad id"}, "bad event id"),
    ({"end": 500.0}, "ends before it starts"),
    ({"stages": [Stage("a", 10)]}, "offsets must start at 0"),
    ({"stages": [Stage("a", 0), Stage("a", 10)]}, "duplicate stage"),
    ({"stages": [Stage("a", 0), Stage("b", 99999)]}, "after the expected end"),
    ({"stages": [Stage("live", 0)]}, "bad stage name"),
    ({"title": " "}, "needs a title"),
])
def test_malformed_schedules_are_refused(kwargs: dict, match: str) -> None:
    args = {"event_id": "e", "title": "T", "start": 1000.0, "end": 2000.0, "stages": [Stage("main", 0)], **kwargs}
    event_id = args.pop("event_id")
    with pytest.raises(ScheduleError, match=match):
        new_event(event_id, **args)


@pytest.mark.parametrize("text", ["tomorrow", "2026-13-01T00:00:00Z", "2026-11-26T20:00:00", "+5 parsecs", ""])
def test_bad_times_are_refused(text: str) -> None:
    with pytest.raises(ScheduleError):
        parse_time(text)
