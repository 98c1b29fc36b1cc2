"""The engine's pure decisions, without NATS: every run status, every step status, every action.

Each case builds a run and its step records by hand and checks the commands (or the new record)
that come back; the real-server tests check that the engine carries the commands out.
"""

from __future__ import annotations

import copy

import pytest

from rdg.errors import IllegalActionError
from rdg.spec import RetrySpec, parse_workflow_data
from rdg.workflow import (
    RUN_ACTIONS, RUN_TERMINAL, STEP_COMPLETE, STEP_FAILED, RunAction, RunRecord, RunStatus, StepRecord, StepStatus,
)
from rdg.workflow._decide import (
    Close, Evaluate, Fail, Finish, Hold, Skip, Start, StopStep, WakeAt, attempt_ended, decide, run_action,
    step_action,
)

NOW = 1000.0
STEP_ACTIONS = (RunAction.SKIP, RunAction.PAUSE_STEP, RunAction.RESUME_STEP)
RUN_ONLY_ACTIONS = tuple(a for a in RunAction if a not in STEP_ACTIONS)


def _spec(*steps: dict, **extra: object):
    return parse_workflow_data({"id": "wf", "steps": list(steps), **extra})


def _chain(**a_options: object):
    """a -> b, with options on a."""
    return _spec({"id": "a", "type": "noop", **a_options}, {"id": "b", "type": "noop", "depends_on": ["a"]},
                 params={"go": {"type": "bool", "default": True}})


def _run(status: RunStatus = RunStatus.IN_PROGRESS, **changes: object) -> RunRecord:
    return RunRecord(id="r", workflow="wf", version=1, status=status, **changes)


def _steps(**records: StepRecord) -> dict[str, StepRecord]:
    return {"a": StepRecord(), "b": StepRecord(), **records}


# -- the run's status --------------------------------------------------------------------------

@pytest.mark.parametrize("status", sorted(RUN_TERMINAL))
def test_a_run_that_has_ended_is_closed(status: RunStatus) -> None:
    assert decide(_run(status), _chain(), _steps(), now=NOW) == [Close()]


def test_a_created_run_waits_for_its_turn() -> None:
    assert decide(_run(RunStatus.CREATED), _chain(), _steps(), now=NOW) == []


def test_an_in_progress_run_starts_its_first_step() -> None:
    assert decide(_run(), _chain(), _steps(), now=NOW) == [Start("a")]


def test_a_paused_run_starts_nothing_but_still_wakes_for_its_deadline() -> None:
    assert decide(_run(RunStatus.PAUSED), _chain(), _steps(), now=NOW) == []
    assert decide(_run(RunStatus.PAUSED, deadline=NOW + 5), _chain(), _steps(), now=NOW) == [WakeAt(NOW + 5)]


def test_a_paused_run_still_fails_on_a_failed_step() -> None:
    steps = _steps(a=StepRecord(status=StepStatus.USER_FAILED, error="boom"))
    assert decide(_run(RunStatus.PAUSED), _chain(), steps, now=NOW) == [
        Finish(RunStatus.FAILED, "step 'a' USER_FAILED: boom")]


def test_a_paused_run_with_every_step_done_does_not_end_until_resumed() -> None:
    done = StepRecord(status=StepStatus.SUCCEEDED)
    assert decide(_run(RunStatus.PAUSED), _chain(), _steps(a=done, b=done), now=NOW) == []
    assert decide(_run(), _chain(), _steps(a=done, b=done), now=NOW) == [Finish(RunStatus.SUCCEEDED, None)]


def test_the_deadline_times_the_run_out_or_sets_a_wake_up() -> None:
    assert decide(_run(deadline=NOW), _chain(), _steps(), now=NOW) == [
        Finish(RunStatus.TIMED_OUT, "the run's timeout passed")]
    assert decide(_run(deadline=NOW + 60), _chain(), _steps(), now=NOW) == [Start("a"), WakeAt(NOW + 60)]


# -- one step's status -------------------------------------------------------------------------

@pytest.mark.parametrize("status, expected", [
    (StepStatus.NOT_CREATED, [Start("a")]),
    (StepStatus.QUEUED, []),
    (StepStatus.RUNNING, []),
    (StepStatus.PAUSED, []),
    (StepStatus.SUCCEEDED, [Start("b")]),
    (StepStatus.SKIPPED, [Start("b")]),  # skipped by a user: taken, so what follows runs
    (StepStatus.COMPLETED_WITH_ERROR, [Start("b")]),
    (StepStatus.USER_FAILED, [Finish(RunStatus.FAILED, "step 'a' USER_FAILED: x")]),
    (StepStatus.PLATFORM_FAILED, [Finish(RunStatus.FAILED, "step 'a' PLATFORM_FAILED: x")]),
    (StepStatus.TIMED_OUT, [Finish(RunStatus.FAILED, "step 'a' TIMED_OUT: x")]),
    (StepStatus.STOPPED, [Finish(RunStatus.FAILED, "step 'a' STOPPED: x")]),
])
def test_what_each_step_status_leads_to(status: StepStatus, expected: list) -> None:
    error = "x" if status in STEP_FAILED else None
    assert decide(_run(), _chain(), _steps(a=StepRecord(status=status, error=error)), now=NOW) == expected


def test_every_step_status_is_covered() -> None:
    covered = {case[0] for case in test_what_each_step_status_leads_to.pytestmark[0].args[1]}
    assert covered | {StepStatus.WAITING_RETRY} == set(StepStatus)


def test_a_retry_starts_when_its_backoff_has_passed() -> None:
    waiting = StepRecord(status=StepStatus.WAITING_RETRY, retry_at=NOW + 2)
    assert decide(_run(), _chain(), _steps(a=waiting), now=NOW) == [WakeAt(NOW + 2)]
    assert decide(_run(), _chain(), _steps(a=waiting), now=NOW + 2) == [Start("a")]


def test_a_step_not_taken_makes_the_steps_after_it_not_taken() -> None:
    not_taken = StepRecord(status=StepStatus.SKIPPED, taken=False)
    assert decide(_run(), _chain(), _steps(a=not_taken), now=NOW) == [Skip("b", "no upstream branch was taken")]


def test_a_step_waits_for_all_of_its_upstream_steps() -> None:
    spec = _spec({"id": "a", "type": "noop"}, {"id": "b", "type": "noop"},
                 {"id": "c", "type": "noop", "depends_on": ["a", "b"]})
    done, busy = StepRecord(status=StepStatus.SUCCEEDED), StepRecord(status=StepStatus.RUNNING)
    assert decide(_run(), spec, {"a": done, "b": busy, "c": StepRecord()}, now=NOW) == []
    assert decide(_run(), spec, {"a": done, "b": done, "c": StepRecord()}, now=NOW) == [Start("c")]


# -- failure modes -----------------------------------------------------------------------------

def test_finish_running_lets_running_steps_end_and_stops_waiting_ones() -> None:
    spec = _spec({"id": "a", "type": "noop", "on_failure": "finish_running"}, {"id": "b", "type": "noop"},
                 {"id": "c", "type": "noop"}, {"id": "d", "type": "noop"})
    steps = {"a": StepRecord(status=StepStatus.USER_FAILED, error="boom"),
             "b": StepRecord(status=StepStatus.RUNNING),
             "c": StepRecord(status=StepStatus.WAITING_RETRY, retry_at=NOW + 9),
             "d": StepRecord(status=StepStatus.NOT_CREATED)}
    assert decide(_run(), spec, steps, now=NOW) == [StopStep("c")]  # d never starts; the run waits for b
    steps["b"] = StepRecord(status=StepStatus.SUCCEEDED)
    steps["c"] = StepRecord(status=StepStatus.STOPPED)
    assert decide(_run(), spec, steps, now=NOW) == [Finish(RunStatus.FAILED, "step 'a' USER_FAILED: boom")]


def test_a_paused_step_is_stopped_when_the_run_fails_under_finish_running() -> None:
    spec = _spec({"id": "a", "type": "noop", "on_failure": "finish_running"}, {"id": "b", "type": "noop"})
    steps = {"a": StepRecord(status=StepStatus.TIMED_OUT), "b": StepRecord(status=StepStatus.PAUSED)}
    assert decide(_run(), spec, steps, now=NOW) == [StopStep("b"), Finish(RunStatus.FAILED, "step 'a' TIMED_OUT:")]


def test_an_ignored_failure_lets_the_run_carry_on() -> None:
    ended = StepRecord(status=StepStatus.COMPLETED_WITH_ERROR, error="boom")
    assert decide(_run(), _chain(on_failure="ignore"), _steps(a=ended), now=NOW) == [Start("b")]


# -- breakpoints and conditions ----------------------------------------------------------------

def test_a_breakpoint_holds_a_ready_step_until_released() -> None:
    assert decide(_run(), _chain(breakpoint=True), _steps(), now=NOW) == [Hold("a")]
    assert decide(_run(), _chain(), _steps(a=StepRecord(breakpoint=True)), now=NOW) == [Hold("a")]
    released = StepRecord(breakpoint=True, released=True)
    assert decide(_run(), _chain(breakpoint=True), _steps(a=released), now=NOW) == [Start("a")]


def test_a_held_step_keeps_the_run_from_ending() -> None:
    spec = _spec({"id": "a", "type": "noop"}, {"id": "b", "type": "noop", "breakpoint": True})
    steps = {"a": StepRecord(status=StepStatus.SUCCEEDED), "b": StepRecord()}
    assert decide(_run(), spec, steps, now=NOW) == [Hold("b")]


@pytest.mark.parametrize("value, expected", [
    (None, [Evaluate("a")]),
    (True, [Start("a")]),
    (False, [Skip("a", "condition was false")]),
    ("name 'nope' is not defined", [Fail("a", StepStatus.USER_FAILED, "if: name 'nope' is not defined")]),
])
def test_a_condition_is_evaluated_then_decides(value: object, expected: list) -> None:
    conditions = {} if value is None else {"a": value}
    spec = _chain(**{"if": "params.go"})
    assert decide(_run(), spec, _steps(), now=NOW, conditions=conditions) == expected


# -- the run's end and the steps looked at -----------------------------------------------------

@pytest.mark.parametrize("status", sorted(STEP_COMPLETE))
def test_the_run_succeeds_when_every_step_completed(status: StepStatus) -> None:
    done = StepRecord(status=status)
    assert decide(_run(), _chain(), _steps(a=done, b=done), now=NOW) == [Finish(RunStatus.SUCCEEDED, None)]


def test_only_the_touched_steps_are_looked_at_for_starting() -> None:
    spec = _spec({"id": "a", "type": "noop"}, {"id": "b", "type": "noop"})
    assert decide(_run(), spec, {"a": StepRecord(), "b": StepRecord()}, now=NOW, only=["b"]) == [Start("b")]


def test_decide_changes_nothing_it_is_given() -> None:
    run, steps = _run(deadline=NOW + 5), _steps(a=StepRecord(status=StepStatus.SUCCEEDED, outputs={"x": [1]}))
    before = copy.deepcopy((run, steps))
    decide(run, _chain(), steps, now=NOW)
    assert (run, steps) == before


# -- run actions: every status x every action --------------------------------------------------

EXPECTED_AFTER = {
    RunAction.PAUSE: RunStatus.PAUSED,
    RunAction.RESUME: RunStatus.IN_PROGRESS,
    RunAction.STOP: RunStatus.STOPPED,
    RunAction.KILL: RunStatus.FAILED,
    RunAction.RESTART: RunStatus.IN_PROGRESS,
}


@pytest.mark.parametrize("status", list(RunStatus))
@pytest.mark.parametrize("action", RUN_ONLY_ACTIONS)
def test_every_run_action_in_every_run_status(status: RunStatus, action: RunAction) -> None:
    run = _run(status, started_at=1.0, ended_at=2.0 if status in RUN_TERMINAL else None)
    before = copy.deepcopy(run)
    if action not in RUN_ACTIONS[status]:
        with pytest.raises(IllegalActionError, match=f"cannot {action.value} a run that is {status.value}"):
            run_action(run, action, now=NOW)
        assert run == before
        return
    after = run_action(run, action, now=NOW, timeout=30.0)
    assert after.status is EXPECTED_AFTER[action]
    assert run == before  # a new record; the old one is unchanged
    if action in (RunAction.STOP, RunAction.KILL):
        assert after.ended_at == NOW and after.reason in ("stopped by user", "killed by user")
    if action is RunAction.RESTART:
        assert after.attempt == 2 and after.started_at == NOW and after.ended_at is None
        assert after.deadline == NOW + 30.0
        assert after.history == [{"attempt": 1, "status": status.value, "started_at": 1.0, "ended_at": 2.0,
                                  "reason": None}]


def test_step_actions_are_refused_by_run_action() -> None:
    with pytest.raises(ValueError, match="step action"):
        run_action(_run(), RunAction.SKIP, now=NOW)


# -- step actions: every step status x every step action ---------------------------------------

@pytest.mark.parametrize("status", list(StepStatus))
@pytest.mark.parametrize("action", STEP_ACTIONS)
def test_every_step_action_in_every_step_status(status: StepStatus, action: RunAction) -> None:
    rec = StepRecord(status=status, owner="w1" if status is StepStatus.RUNNING else None)
    legal = {
        RunAction.SKIP: status not in STEP_COMPLETE,
        RunAction.PAUSE_STEP: status is StepStatus.NOT_CREATED,
        RunAction.RESUME_STEP: status is StepStatus.PAUSED,  # NOT_CREATED only with a breakpoint (below)
    }[action]
    if not legal:
        with pytest.raises(IllegalActionError, match=f"cannot {action.value} step 'a': it is {status.value}"):
            step_action("a", rec, action, now=NOW)
        return
    after = step_action("a", rec, action, now=NOW)
    if action is RunAction.SKIP:
        assert (after.status, after.taken, after.ended_at, after.owner) == (StepStatus.SKIPPED, True, NOW, None)
    elif action is RunAction.PAUSE_STEP:
        assert (after.status, after.breakpoint, after.released) == (StepStatus.NOT_CREATED, True, False)
    else:
        assert (after.status, after.breakpoint, after.released) == (StepStatus.NOT_CREATED, False, True)


def test_resume_step_removes_a_breakpoint_that_has_not_held_yet() -> None:
    after = step_action("a", StepRecord(), RunAction.RESUME_STEP, now=NOW, breakpoint=True)
    assert (after.status, after.breakpoint, after.released) == (StepStatus.NOT_CREATED, False, True)


# -- the end of one attempt --------------------------------------------------------------------

RUNNING = StepRecord(status=StepStatus.RUNNING, attempt=1, owner="w1", lease_until=NOW + 30)


def test_a_successful_attempt_keeps_its_outputs() -> None:
    after = attempt_ended(RUNNING, StepStatus.SUCCEEDED, outputs={"n": 3}, now=NOW, worker="w1")
    assert (after.status, after.outputs, after.ended_at, after.lease_until) == (StepStatus.SUCCEEDED, {"n": 3}, NOW,
                                                                                None)


@pytest.mark.parametrize("status, retry, expected, counters", [
    (StepStatus.USER_FAILED, RetrySpec(user=0), StepStatus.USER_FAILED, (0, 0)),
    (StepStatus.USER_FAILED, RetrySpec(user=1, backoff=2), StepStatus.WAITING_RETRY, (1, 0)),
    (StepStatus.PLATFORM_FAILED, RetrySpec(platform=1, backoff=2), StepStatus.WAITING_RETRY, (0, 1)),
    (StepStatus.PLATFORM_FAILED, RetrySpec(platform=0), StepStatus.PLATFORM_FAILED, (0, 0)),
    (StepStatus.TIMED_OUT, RetrySpec(user=1, backoff=2), StepStatus.WAITING_RETRY, (1, 0)),
])
def test_a_failed_attempt_is_retried_within_its_own_limit(status: StepStatus, retry: RetrySpec,
                                                          expected: StepStatus, counters: tuple) -> None:
    after = attempt_ended(RUNNING, status, error="boom", retry=retry, now=NOW)
    assert after.status is expected
    assert (after.user_retries, after.platform_retries) == counters
    if expected is StepStatus.WAITING_RETRY:
        assert after.retry_at == NOW + 2 and after.history[-1]["status"] == status.value


def test_backoff_grows_with_each_retry() -> None:
    once = dataclasses_replace(RUNNING, user_retries=2)
    after = attempt_ended(once, StepStatus.USER_FAILED, retry=RetrySpec(user=5, backoff=1, factor=2), now=NOW)
    assert after.retry_at == NOW + 4


def test_a_non_retryable_failure_is_final_and_ignore_completes_with_error() -> None:
    final = attempt_ended(RUNNING, StepStatus.USER_FAILED, retry=RetrySpec(user=3), final=True, now=NOW)
    assert final.status is StepStatus.USER_FAILED
    ignored = attempt_ended(RUNNING, StepStatus.USER_FAILED, ignore=True, now=NOW)
    assert ignored.status is StepStatus.COMPLETED_WITH_ERROR


def dataclasses_replace(rec: StepRecord, **changes: object) -> StepRecord:
    import dataclasses

    return dataclasses.replace(rec, **changes)


# -- restarts ----------------------------------------------------------------------------------

def test_which_steps_each_restart_mode_resets() -> None:
    from rdg.workflow import RestartMode
    from rdg.workflow._decide import steps_to_restart

    spec = _spec({"id": "a", "type": "noop"}, {"id": "b", "type": "noop", "depends_on": ["a"]},
                 {"id": "c", "type": "noop"}, {"id": "d", "type": "noop", "depends_on": ["b"]})
    ok = StepRecord(status=StepStatus.SUCCEEDED)
    steps = {"a": ok, "b": StepRecord(status=StepStatus.USER_FAILED), "c": ok, "d": StepRecord()}
    assert steps_to_restart(spec, steps, RestartMode.BEGINNING) == {"a", "b", "c", "d"}
    assert steps_to_restart(spec, steps, RestartMode.FAILED) == {"b", "d"}
    assert steps_to_restart(spec, steps, RestartMode.STEP, "a") == {"a", "b", "d"}
    assert steps_to_restart(spec, {k: ok for k in steps}, RestartMode.FAILED) == set()
