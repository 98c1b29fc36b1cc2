"""The public surface of rdg.workflow is pinned: adding or removing a name is a deliberate change."""

from __future__ import annotations

import rdg.workflow

EXPECTED = {
    "Engine", "RUNTIMES", "RUN_ACTIONS", "RUN_TERMINAL", "RestartMode", "RunAction", "RunHandle", "RunRecord",
    "RunStatus", "STEP_ACTIVE", "STEP_COMPLETE", "STEP_FAILED", "STEP_NON_TERMINAL", "STEP_RESTARTABLE",
    "STEP_RETRYABLE", "STEP_TERMINAL", "StepContext", "StepRecord", "StepRuntime", "StepStatus", "Store",
    "StoreNames", "Worker", "check_action", "check_step_action", "get_run", "list_runs", "start_run",
    "ActionTaken", "ChildEnded", "Event", "RunStarted", "StepEnded", "Wake",
}


def test_workflow_exports() -> None:
    assert set(rdg.workflow.__all__) == EXPECTED
    for name in EXPECTED:
        assert getattr(rdg.workflow, name) is not None


def test_runtimes_fill_the_protocol() -> None:
    for name, runtime in rdg.workflow.RUNTIMES.items():
        assert isinstance(runtime, rdg.workflow.StepRuntime), name
    assert set(rdg.workflow.RUNTIMES) == {"noop", "sleep", "python", "shell", "http", "pipeline"}
