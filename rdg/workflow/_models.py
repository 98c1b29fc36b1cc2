"""Run and step state: statuses, their groups, the legal actions per status, and the records.

Modelled on Maestro's instance statuses. Tables, not code paths, say what is legal, so the
CLI, the client and the engine all refuse the same things with the same reason.

>>> check_action(RunStatus.SUCCEEDED, RunAction.PAUSE)
Traceback (most recent call last):
...
rdg.errors.IllegalActionError: cannot pause a run that is SUCCEEDED (hint: allowed now: restart)
>>> StepStatus.USER_FAILED in STEP_RETRYABLE, StepStatus.SUCCEEDED in STEP_COMPLETE
(True, True)
>>> rec = StepRecord(status=StepStatus.RUNNING, fence=3)
>>> StepRecord.from_json(rec.to_json()).fence
3
"""

from __future__ import annotations

import enum
import json
import time
from dataclasses import dataclass, field, fields
from typing import Any

from rdg.errors import IllegalActionError

__all__ = [
    "RUN_ACTIONS", "RUN_TERMINAL", "STEP_ACTIVE", "STEP_COMPLETE", "STEP_FAILED", "STEP_NON_TERMINAL",
    "STEP_RESTARTABLE", "STEP_RETRYABLE", "STEP_TERMINAL", "RestartMode", "RunAction", "RunRecord", "RunStatus",
    "StepRecord", "StepStatus", "check_action", "check_step_action", "now",
]


def now() -> float:
    """Wall-clock seconds (all records use this clock)."""
    return time.time()


class RunStatus(str, enum.Enum):
    """Where a run is in its life."""

    CREATED = "CREATED"
    """Accepted, waiting for its turn (run strategy)."""
    IN_PROGRESS = "IN_PROGRESS"
    PAUSED = "PAUSED"
    """No new steps start; running ones finish."""
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    STOPPED = "STOPPED"
    TIMED_OUT = "TIMED_OUT"


RUN_TERMINAL = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.STOPPED, RunStatus.TIMED_OUT})


class StepStatus(str, enum.Enum):
    """Where a step is in its life (one record per step per run)."""

    NOT_CREATED = "NOT_CREATED"
    QUEUED = "QUEUED"
    """Dispatched onto the work queue (or launching children, for foreach/subworkflow)."""
    RUNNING = "RUNNING"
    WAITING_RETRY = "WAITING_RETRY"
    """An attempt failed; the next one starts after the backoff."""
    PAUSED = "PAUSED"
    """Held at a breakpoint until resumed."""
    SUCCEEDED = "SUCCEEDED"
    SKIPPED = "SKIPPED"
    COMPLETED_WITH_ERROR = "COMPLETED_WITH_ERROR"
    """Failed, but its failure mode is ``ignore``."""
    USER_FAILED = "USER_FAILED"
    PLATFORM_FAILED = "PLATFORM_FAILED"
    TIMED_OUT = "TIMED_OUT"
    STOPPED = "STOPPED"


STEP_NON_TERMINAL = frozenset({StepStatus.NOT_CREATED, StepStatus.QUEUED, StepStatus.RUNNING,
                               StepStatus.WAITING_RETRY, StepStatus.PAUSED})
STEP_ACTIVE = frozenset({StepStatus.QUEUED, StepStatus.RUNNING, StepStatus.WAITING_RETRY})
STEP_COMPLETE = frozenset({StepStatus.SUCCEEDED, StepStatus.SKIPPED, StepStatus.COMPLETED_WITH_ERROR})
STEP_FAILED = frozenset({StepStatus.USER_FAILED, StepStatus.PLATFORM_FAILED, StepStatus.TIMED_OUT,
                         StepStatus.STOPPED})
STEP_TERMINAL = STEP_COMPLETE | STEP_FAILED
STEP_RETRYABLE = frozenset({StepStatus.USER_FAILED, StepStatus.PLATFORM_FAILED, StepStatus.TIMED_OUT})
"""Failure kinds an attempt may end in and still be retried (within the step's limits)."""
STEP_RESTARTABLE = STEP_TERMINAL
"""A restart may rerun any step that has ended."""


class RunAction(str, enum.Enum):
    """What a user can ask of a run."""

    STOP = "stop"
    KILL = "kill"
    PAUSE = "pause"
    RESUME = "resume"
    RESTART = "restart"
    SKIP = "skip"
    PAUSE_STEP = "pause-step"
    RESUME_STEP = "resume-step"


class RestartMode(str, enum.Enum):
    """Where a restart begins."""

    BEGINNING = "beginning"
    FAILED = "failed"
    """Rerun only the steps that did not complete (and those after them)."""
    STEP = "step"
    """Rerun a named step and everything after it."""


_LIVE = {RunAction.STOP, RunAction.KILL, RunAction.SKIP, RunAction.PAUSE_STEP, RunAction.RESUME_STEP}
RUN_ACTIONS: dict[RunStatus, frozenset[RunAction]] = {
    RunStatus.CREATED: frozenset({RunAction.STOP, RunAction.KILL}),
    RunStatus.IN_PROGRESS: frozenset(_LIVE | {RunAction.PAUSE}),
    RunStatus.PAUSED: frozenset(_LIVE | {RunAction.RESUME}),
    RunStatus.SUCCEEDED: frozenset({RunAction.RESTART}),
    RunStatus.FAILED: frozenset({RunAction.RESTART}),
    RunStatus.STOPPED: frozenset({RunAction.RESTART}),
    RunStatus.TIMED_OUT: frozenset({RunAction.RESTART}),
}
STEP_ACTIONS: dict[RunAction, frozenset[StepStatus]] = {
    RunAction.SKIP: STEP_NON_TERMINAL | STEP_FAILED,
    RunAction.PAUSE_STEP: frozenset({StepStatus.NOT_CREATED}),
    RunAction.RESUME_STEP: frozenset({StepStatus.PAUSED, StepStatus.NOT_CREATED}),
}


def check_action(status: RunStatus, action: RunAction) -> None:
    """Raise :class:`IllegalActionError` unless ``action`` is legal for a run in ``status``."""
    allowed = RUN_ACTIONS[status]
    if action not in allowed:
        names = ", ".join(sorted(a.value for a in allowed)) or "none"
        raise IllegalActionError(f"cannot {action.value} a run that is {status.value}", hint=f"allowed now: {names}")


def check_step_action(step_id: str, status: StepStatus, action: RunAction, *, breakpoint: bool = False) -> None:
    """Raise :class:`IllegalActionError` unless ``action`` is legal for a step in ``status``.

    >>> check_step_action("load", StepStatus.SUCCEEDED, RunAction.SKIP)
    Traceback (most recent call last):
    ...
    rdg.errors.IllegalActionError: cannot skip step 'load': it is SUCCEEDED (hint: skip works on steps that have not completed)
    """
    ok = status in STEP_ACTIONS[action]
    if action is RunAction.RESUME_STEP and status is StepStatus.NOT_CREATED:
        ok = breakpoint
    if not ok:
        hints = {
            RunAction.SKIP: "skip works on steps that have not completed",
            RunAction.PAUSE_STEP: "a breakpoint can only be set on a step that has not started",
            RunAction.RESUME_STEP: "resume-step releases a step held at a breakpoint",
        }
        raise IllegalActionError(f"cannot {action.value} step '{step_id}': it is {status.value}", hint=hints[action])


class _Record:
    """JSON (de)serialisation shared by the records: unknown keys ignored, defaults omitted."""

    def to_json(self) -> bytes:
        out = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is None or value == f.default or (value == [] or value == {}) and f.name != "params":
                continue
            out[f.name] = value.value if isinstance(value, enum.Enum) else value
        return json.dumps(out, separators=(",", ":"), default=str).encode()

    @classmethod
    def from_json(cls, data: bytes | str | dict[str, Any]) -> Any:
        raw = json.loads(data) if isinstance(data, (bytes, str)) else data
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in raw.items() if k in known})

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (shallow: nested values are shared, not copied)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]
        return {k: (v.value if isinstance(v, enum.Enum) else v) for k, v in out.items()}


@dataclass
class RunRecord(_Record):
    """One run (``run.<id>`` in the runs bucket)."""

    id: str
    workflow: str
    version: int
    status: RunStatus = RunStatus.CREATED
    params: dict[str, Any] = field(default_factory=dict)
    path: list[str] = field(default_factory=list)
    """Step ids leading to an inline foreach child workflow inside ``workflow``."""
    attempt: int = 1
    """Run attempt: a restart makes a new attempt and keeps the old one in ``history``."""
    created_at: float = 0.0
    started_at: float | None = None
    ended_at: float | None = None
    deadline: float | None = None
    parent: dict[str, Any] | None = None
    """``{run, step, index}`` for a foreach or subworkflow child."""
    item: Any = None
    index: int | None = None
    reason: str | None = None
    trigger: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.status = RunStatus(self.status)


@dataclass
class StepRecord(_Record):
    """One step of one run (``step.<run>.<step>``); absent means NOT_CREATED."""

    status: StepStatus = StepStatus.NOT_CREATED
    attempt: int = 0
    """Attempts started in this run attempt (1 for the first)."""
    run_attempt: int = 1
    dispatch: int = 0
    """Raised on every dispatch; a work item whose number differs is stale and dropped."""
    fence: int = 0
    """Raised on every claim by a worker; a result under an older fence is ignored."""
    owner: str | None = None
    lease_until: float | None = None
    queued_at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    retry_at: float | None = None
    user_retries: int = 0
    platform_retries: int = 0
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    taken: bool = True
    """False when skipped because its condition (or every upstream branch) was not taken."""
    breakpoint: bool = False
    released: bool = False
    """Set by resume-step: the breakpoint was passed and must not hold the step again."""
    child: str | None = None
    """Subworkflow child run id."""
    fanout: dict[str, int] = field(default_factory=dict)
    """Foreach counters: total, next, running, ok, failed."""
    history: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.status = StepStatus(self.status)

    def summary(self) -> dict[str, Any]:
        """The compact facts kept in ``history`` when a step is retried or restarted."""
        return {"status": self.status.value, "attempt": self.attempt, "run_attempt": self.run_attempt,
                "started_at": self.started_at, "ended_at": self.ended_at, "error": self.error}
