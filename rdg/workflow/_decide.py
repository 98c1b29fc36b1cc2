"""The engine's decisions as pure functions: state in, new state or commands out, no NATS.

:func:`decide` looks at a run, its definition and its step records and says what happens next,
as commands the engine carries out (each a compare-and-set through the store). The engine calls
it again after applying them, until nothing more happens. :func:`run_action` and
:func:`step_action` are what a user's action does to a record; :func:`attempt_ended` is what a
worker records when an attempt ends (succeeded, retry later, or failed for good);
:func:`steps_to_restart` is which steps a restart resets.

>>> from rdg.spec import parse_workflow_data
>>> spec = parse_workflow_data({"id": "wf", "steps": [{"id": "a", "type": "noop"},
...                                                {"id": "b", "type": "noop", "depends_on": ["a"]}]})
>>> run = RunRecord(id="r", workflow="wf", version=1, status=RunStatus.IN_PROGRESS)
>>> decide(run, spec, {"a": StepRecord(), "b": StepRecord()}, now=0.0)
[Start(step='a')]
>>> done = StepRecord(status=StepStatus.SUCCEEDED)
>>> decide(run, spec, {"a": done, "b": StepRecord()}, now=0.0)
[Start(step='b')]
>>> decide(run, spec, {"a": done, "b": done}, now=0.0)
[Finish(status=<RunStatus.SUCCEEDED: 'SUCCEEDED'>, reason=None)]
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Iterable, Mapping, Union

from rdg.spec import FailureMode, RetrySpec, StepSpec, WorkflowSpec
from rdg.workflow._models import (
    RUN_TERMINAL,
    STEP_COMPLETE,
    STEP_FAILED,
    RestartMode,
    RunAction,
    RunRecord,
    RunStatus,
    StepRecord,
    StepStatus,
    check_action,
    check_step_action,
)

__all__ = [
    "Close", "Command", "Evaluate", "Fail", "Finish", "Hold", "Skip", "Start", "StopStep", "WakeAt",
    "attempt_ended", "candidates", "decide", "run_action", "step_action", "steps_to_restart",
]


@dataclass(frozen=True)
class Start:
    """Queue the step (a worker runs it; foreach and subworkflow start child runs)."""

    step: str


@dataclass(frozen=True)
class Skip:
    """Mark the step SKIPPED as not taken (its condition was false, or no upstream branch ran)."""

    step: str
    reason: str


@dataclass(frozen=True)
class Hold:
    """Hold the step at its breakpoint (PAUSED) until a user resumes it."""

    step: str


@dataclass(frozen=True)
class Fail:
    """The step failed before it started (its condition could not be evaluated)."""

    step: str
    status: StepStatus
    error: str


@dataclass(frozen=True)
class StopStep:
    """Stop a step that is waiting (for a retry or at a breakpoint) or running, and its children."""

    step: str


@dataclass(frozen=True)
class Finish:
    """End the run with this status; its leftover steps are stopped with it."""

    status: RunStatus
    reason: str | None


@dataclass(frozen=True)
class Close:
    """The run has ended (a user stopped or killed it): stop leftovers, tell the parent, free its slot."""


@dataclass(frozen=True)
class WakeAt:
    """Look at the run again at this time (a retry's backoff or the run's deadline)."""

    at: float


@dataclass(frozen=True)
class Evaluate:
    """The step is ready but has a condition: evaluate it and decide again with the result."""

    step: str


Command = Union[Start, Skip, Hold, Fail, StopStep, Finish, Close, WakeAt, Evaluate]

Condition = Union[bool, str]
"""A condition's value, or the text of the error that evaluating it raised."""


def candidates(spec: WorkflowSpec, touched: Iterable[str]) -> list[str]:
    """The touched steps and their direct dependents, in definition order.

    >>> from rdg.spec import parse_workflow_data
    >>> spec = parse_workflow_data({"id": "wf", "steps": [{"id": "a", "type": "noop"}, {"id": "b", "type": "noop"},
    ...                        {"id": "c", "type": "noop", "depends_on": ["a"]}]})
    >>> candidates(spec, {"a"})
    ['a', 'c']
    """
    wanted: set[int] = set()
    for sid in touched:
        if sid in spec.positions:
            wanted.add(spec.positions[sid])
            wanted.update(spec.dependents[sid])
    return [spec.steps[i].id for i in sorted(wanted)]


def decide(run: RunRecord, spec: WorkflowSpec, steps: Mapping[str, StepRecord], *, now: float,
           conditions: Mapping[str, Condition] | None = None,
           only: Iterable[str] | None = None) -> list[Command]:
    """What happens next in a run, as commands (an empty list: nothing, until an event comes).

    Args:
        run: The run's record.
        spec: The definition it follows.
        steps: Every step's record, by step id, in definition order.
        now: The engine's clock.
        conditions: Values of ready steps' conditions evaluated so far (see :class:`Evaluate`).
        only: Look only at these steps for starting (the ones an event touched and their
            dependents; ``None``: all). Failures and the run's end always look at every step.
    """
    if run.status in RUN_TERMINAL:
        return [Close()]
    if run.status is RunStatus.CREATED:
        return []
    wake: list[Command] = []
    if run.deadline:
        if now >= run.deadline:
            return [Finish(RunStatus.TIMED_OUT, "the run's timeout passed")]
        wake.append(WakeAt(run.deadline))
    failing = _failures(spec, steps)
    if failing is not None:
        return failing
    if run.status is RunStatus.PAUSED:
        return wake
    conditions = conditions or {}
    chosen = spec.steps if only is None else [spec.step(sid) for sid in only]
    moves: list[Command] = []
    for step in chosen:
        command = _next_for(step, steps, now, conditions)
        if isinstance(command, WakeAt):
            wake.append(command)
        elif command is not None:
            moves.append(command)
    if any(not isinstance(c, Hold) for c in moves):
        return moves + wake
    if all(rec.status in STEP_COMPLETE for rec in steps.values()):
        return [Finish(RunStatus.SUCCEEDED, None)]
    return moves + wake


def _failures(spec: WorkflowSpec, steps: Mapping[str, StepRecord]) -> list[Command] | None:
    """What failed steps do to the run (None: no step has failed)."""
    failed = [sid for sid, rec in steps.items() if rec.status in STEP_FAILED]
    if not failed:
        return None
    first = steps[failed[0]]
    reason = f"step '{failed[0]}' {first.status.value}: {first.error or ''}".strip()
    if any(spec.step(sid).on_failure is FailureMode.FAIL for sid in failed):
        return [Finish(RunStatus.FAILED, reason)]
    out: list[Command] = [StopStep(sid) for sid, rec in steps.items()
                          if rec.status in (StepStatus.WAITING_RETRY, StepStatus.PAUSED)]
    if not any(rec.status in (StepStatus.QUEUED, StepStatus.RUNNING) for rec in steps.values()):
        out.append(Finish(RunStatus.FAILED, reason))
    return out


def _next_for(step: StepSpec, steps: Mapping[str, StepRecord], now: float,
              conditions: Mapping[str, Condition]) -> Command | None:
    rec = steps[step.id]
    if rec.status is StepStatus.WAITING_RETRY:
        due = rec.retry_at or 0.0
        return Start(step.id) if due <= now else WakeAt(due)
    if rec.status is not StepStatus.NOT_CREATED:
        return None
    deps = [steps[d] for d in step.depends_on]
    if any(d.status not in STEP_COMPLETE for d in deps):
        return None
    if deps and not any(d.taken for d in deps):
        return Skip(step.id, "no upstream branch was taken")
    if (rec.breakpoint or step.breakpoint) and not rec.released:
        return Hold(step.id)
    if step.condition:
        if step.id not in conditions:
            return Evaluate(step.id)
        value = conditions[step.id]
        if isinstance(value, str):
            return Fail(step.id, StepStatus.USER_FAILED, f"if: {value}")
        if not value:
            return Skip(step.id, "condition was false")
    return Start(step.id)


def run_action(run: RunRecord, action: RunAction, *, now: float, reason: str | None = None,
               timeout: float | None = None, restart_reason: str = "restart") -> RunRecord:
    """The run after a user's action (a new record; the given one is not changed).

    Args:
        timeout: The definition's run timeout (a restart sets a new deadline from it).
        restart_reason: The reason a restarted run records.

    Raises:
        IllegalActionError: The action is not legal for the run's status (see ``RUN_ACTIONS``);
            step actions go through :func:`step_action`.

    >>> run = RunRecord(id="r", workflow="wf", version=1, status=RunStatus.IN_PROGRESS)
    >>> run_action(run, RunAction.PAUSE, now=5.0).status.value
    'PAUSED'
    """
    check_action(run.status, action)
    new = dataclasses.replace(run, history=list(run.history))
    if action is RunAction.PAUSE:
        new.status = RunStatus.PAUSED
    elif action is RunAction.RESUME:
        new.status = RunStatus.IN_PROGRESS
    elif action is RunAction.STOP:
        new.status, new.ended_at, new.reason = RunStatus.STOPPED, now, reason or "stopped by user"
    elif action is RunAction.KILL:
        new.status, new.ended_at, new.reason = RunStatus.FAILED, now, reason or "killed by user"
    elif action is RunAction.RESTART:
        new.history = (new.history + [{"attempt": run.attempt, "status": run.status.value, "started_at": run.started_at,
                                       "ended_at": run.ended_at, "reason": run.reason}])[-20:]
        new.attempt += 1
        new.status, new.started_at, new.ended_at, new.reason = RunStatus.IN_PROGRESS, now, None, restart_reason
        new.deadline = now + timeout if timeout else None
    else:
        raise ValueError(f"{action.value} is a step action: use step_action")
    return new


def step_action(step_id: str, rec: StepRecord, action: RunAction, *, now: float,
                breakpoint: bool = False) -> StepRecord:
    """The step after a user's step action (``skip``, ``pause-step``, ``resume-step``).

    Args:
        breakpoint: The definition sets a breakpoint on this step.

    Raises:
        IllegalActionError: Not legal for the step's status (see ``STEP_ACTIONS``).

    >>> step_action("load", StepRecord(), RunAction.SKIP, now=1.0).status.value
    'SKIPPED'
    """
    check_step_action(step_id, rec.status, action, breakpoint=rec.breakpoint or breakpoint)
    new = dataclasses.replace(rec, history=list(rec.history))
    if action is RunAction.SKIP:
        new.status, new.taken, new.ended_at, new.error = StepStatus.SKIPPED, True, now, "skipped by user"
        new.owner, new.lease_until, new.retry_at = None, None, None
    elif action is RunAction.PAUSE_STEP:
        new.breakpoint, new.released = True, False
    elif action is RunAction.RESUME_STEP:
        if new.status is StepStatus.PAUSED:
            new.status = StepStatus.NOT_CREATED
        new.breakpoint, new.released = False, True
    else:
        raise ValueError(f"{action.value} is a run action: use run_action")
    return new


def steps_to_restart(spec: WorkflowSpec, steps: Mapping[str, StepRecord], mode: RestartMode,
                     step: str | None = None) -> set[str]:
    """The steps a restart resets: every step (``beginning``), the steps that did not complete
    and every step after them (``failed``), or ``step`` and every step after it (``step``).

    >>> from rdg.spec import parse_workflow_data
    >>> spec = parse_workflow_data({"id": "wf", "steps": [{"id": "a", "type": "noop"},
    ...                            {"id": "b", "type": "noop", "depends_on": ["a"]}, {"id": "c", "type": "noop"}]})
    >>> ok, bad = StepRecord(status=StepStatus.SUCCEEDED), StepRecord(status=StepStatus.USER_FAILED)
    >>> sorted(steps_to_restart(spec, {"a": bad, "b": StepRecord(status=StepStatus.STOPPED), "c": ok},
    ...                         RestartMode.FAILED))
    ['a', 'b']
    """
    if mode is RestartMode.BEGINNING:
        return {s.id for s in spec.steps}
    starts = {step} if mode is RestartMode.STEP and step else {
        s.id for s in spec.steps if steps[s.id].status not in STEP_COMPLETE}
    reset = set(starts)
    for sid in starts:
        reset |= spec.downstream(sid)
    return reset


def attempt_ended(rec: StepRecord, status: StepStatus, *, outputs: Mapping[str, object] | None = None,
                  error: str | None = None, final: bool = False, retry: RetrySpec = RetrySpec(),
                  ignore: bool = False, now: float, worker: str | None = None) -> StepRecord:
    """The step after one attempt ended: SUCCEEDED, WAITING_RETRY (within the retry limits,
    counted apart for user and platform failures), or its failure for good
    (COMPLETED_WITH_ERROR when its failure mode is ``ignore``).

    Args:
        status: How the attempt ended (SUCCEEDED or a failure status).
        final: The step's code said not to retry (a non-retryable user error).

    >>> rec = StepRecord(status=StepStatus.RUNNING, attempt=1)
    >>> later = attempt_ended(rec, StepStatus.PLATFORM_FAILED, error="worker died", now=10.0)
    >>> later.status.value, later.retry_at, later.platform_retries
    ('WAITING_RETRY', 11.0, 1)
    """
    new = dataclasses.replace(rec, ended_at=now, owner=worker, lease_until=None, error=error,
                              history=list(rec.history))
    if status is StepStatus.SUCCEEDED:
        new.status, new.outputs = status, dict(outputs or {})
        return new
    platform = status is StepStatus.PLATFORM_FAILED
    used = new.platform_retries if platform else new.user_retries
    limit = retry.platform if platform else retry.user
    if not final and used < limit:
        if platform:
            new.platform_retries += 1
        else:
            new.user_retries += 1
        new.history.append({**new.summary(), "status": status.value})
        new.status = StepStatus.WAITING_RETRY
        new.retry_at = now + retry.delay(used + 1)
    else:
        new.status = StepStatus.COMPLETED_WITH_ERROR if ignore else status
    return new
