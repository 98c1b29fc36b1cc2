"""Event-driven DAG workflows on NATS JetStream, in the style of Netflix Maestro.

Layers, each in its own module: ``_models`` (statuses and legal actions as tables) ->
``_store`` (KV state, every transition a compare-and-set) -> ``_engine`` (reacts to events,
dispatches ready steps) -> ``_worker`` (claims, runs, heartbeats, reports) -> ``_runtimes``
(what each step type does, behind the ``StepRuntime`` protocol in ``_task``) -> ``_client``
(``start_run`` and ``RunHandle``).
"""

from rdg.workflow._client import RunHandle, get_run, list_runs, start_run
from rdg.workflow._engine import Engine
from rdg.workflow._events import ActionTaken, ChildEnded, Event, RunStarted, StepEnded, Wake
from rdg.workflow._models import (
    RUN_ACTIONS, RUN_TERMINAL, STEP_ACTIVE, STEP_COMPLETE, STEP_FAILED, STEP_NON_TERMINAL, STEP_RESTARTABLE,
    STEP_RETRYABLE, STEP_TERMINAL, RestartMode, RunAction, RunRecord, RunStatus, StepRecord, StepStatus,
    check_action, check_step_action,
)
from rdg.workflow._runtimes import RUNTIMES
from rdg.workflow._store import Store, StoreNames
from rdg.workflow._task import StepContext, StepRuntime
from rdg.workflow._worker import Worker

__all__ = [
    "Engine", "RUNTIMES", "RUN_ACTIONS", "RUN_TERMINAL", "RestartMode", "RunAction", "RunHandle", "RunRecord",
    "RunStatus", "STEP_ACTIVE", "STEP_COMPLETE", "STEP_FAILED", "STEP_NON_TERMINAL", "STEP_RESTARTABLE",
    "STEP_RETRYABLE", "STEP_TERMINAL", "StepContext", "StepRecord", "StepRuntime", "StepStatus", "Store",
    "StoreNames", "Worker", "check_action", "check_step_action", "get_run", "list_runs", "start_run",
    "ActionTaken", "ChildEnded", "Event", "RunStarted", "StepEnded", "Wake",
]
