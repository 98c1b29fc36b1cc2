"""Status groups and the legal-action tables (no server)."""

from __future__ import annotations

import pytest

from rdg.errors import IllegalActionError
from rdg.workflow import (
    RUN_ACTIONS, RUN_TERMINAL, STEP_COMPLETE, STEP_FAILED, STEP_NON_TERMINAL, STEP_RETRYABLE, STEP_TERMINAL,
    RunAction, RunRecord, RunStatus, StepRecord, StepStatus, check_action, check_step_action,
)


def test_step_groups_partition_the_statuses() -> None:
    assert STEP_NON_TERMINAL | STEP_TERMINAL == set(StepStatus)
    assert not STEP_NON_TERMINAL & STEP_TERMINAL
    assert not STEP_COMPLETE & STEP_FAILED
    assert STEP_RETRYABLE <= STEP_FAILED


def test_every_run_status_has_its_actions() -> None:
    assert set(RUN_ACTIONS) == set(RunStatus)
    for status in RUN_TERMINAL:
        assert RUN_ACTIONS[status] == {RunAction.RESTART}
    assert RunAction.RESUME in RUN_ACTIONS[RunStatus.PAUSED]
    assert RunAction.RESUME not in RUN_ACTIONS[RunStatus.IN_PROGRESS]


@pytest.mark.parametrize("status", list(RunStatus))
def test_check_action_matches_the_table(status: RunStatus) -> None:
    for action in RunAction:
        if action in RUN_ACTIONS[status]:
            check_action(status, action)
        else:
            with pytest.raises(IllegalActionError, match=f"cannot {action.value} a run that is {status.value}"):
                check_action(status, action)


def test_step_actions() -> None:
    check_step_action("s", StepStatus.RUNNING, RunAction.SKIP)
    check_step_action("s", StepStatus.NOT_CREATED, RunAction.PAUSE_STEP)
    check_step_action("s", StepStatus.NOT_CREATED, RunAction.RESUME_STEP, breakpoint=True)
    with pytest.raises(IllegalActionError, match="releases a step held at a breakpoint"):
        check_step_action("s", StepStatus.NOT_CREATED, RunAction.RESUME_STEP)
    with pytest.raises(IllegalActionError, match="has not started"):
        check_step_action("s", StepStatus.QUEUED, RunAction.PAUSE_STEP)


def test_records_round_trip_compactly() -> None:
    rec = StepRecord(status=StepStatus.SUCCEEDED, attempt=2, outputs={"n": 1}, fanout={"total": 3})
    raw = rec.to_json()
    assert b"taken" not in raw and b"history" not in raw  # defaults are left out
    assert StepRecord.from_json(raw) == rec
    run = RunRecord(id="r", workflow="w", version=1, params={}, status=RunStatus.PAUSED)
    again = RunRecord.from_json(run.to_json())
    assert again.status is RunStatus.PAUSED and again.params == {}
    assert StepRecord.from_json(b'{"status": "QUEUED", "from_the_future": 1}').status is StepStatus.QUEUED
