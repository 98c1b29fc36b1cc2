"""Client side: start runs and act on them through a :class:`RunHandle`.

Every action reads the run, computes the new record with :func:`rdg.workflow._decide.run_action`
or :func:`~rdg.workflow._decide.step_action` (which check the legal-action table), writes it
with a compare-and-set and then wakes the engines with an event. An illegal action changes nothing and says why.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, Mapping

from rdg.bus import until_no_conflict
from rdg.errors import IllegalActionError, NotFoundError, RdgTimeoutError
from rdg.spec import RunStrategy, did_you_mean
from rdg.workflow._admission import Active, admit
from rdg.workflow._decide import run_action, step_action, steps_to_restart
from rdg.workflow._events import ActionTaken, RunStarted
from rdg.workflow._models import (
    RUN_TERMINAL, RestartMode, RunAction, RunRecord, RunStatus, StepRecord, check_action, now,
)
from rdg.workflow._run_state import spec_for_run
from rdg.workflow._store import Store

__all__ = ["RunHandle", "get_run", "list_runs", "start_run"]

_RETRIES = 20


async def start_run(store: Store, workflow: str, params: Mapping[str, Any] | None = None, *,
                    run_id: str | None = None, trigger: str = "manual") -> "RunHandle":
    """Start a run of the latest version of ``workflow``.

    The run strategy decides whether it starts now (``IN_PROGRESS``), waits its turn
    (``CREATED``), or is dropped (``first_only`` while another runs: ``STOPPED``); ``last_only``
    stops the runs in progress.

    Args:
        store: An open store.
        workflow: Workflow id (pushed with ``rdg workflow push``).
        params: Parameter values; the rest take their defaults.
        run_id: A chosen id (default random); starting the same id twice raises ConflictError.
        trigger: Who started it (``manual``, ``cron``, ``signal:NAME``), kept on the run.

    Raises:
        NotFoundError: No such workflow.
        IllegalActionError: A parameter is unknown, missing or of the wrong type.
        ConflictError: ``run_id`` exists already.
    """
    spec, version = await store.get_definition(workflow)
    try:
        resolved = spec.resolve_params(params)
    except ValueError as err:
        raise IllegalActionError(f"cannot start '{workflow}': {err}",
                                 hint="`rdg workflow list` shows each workflow's parameters") from err
    run_id = run_id or uuid.uuid4().hex[:12]
    started = now()
    run = RunRecord(id=run_id, workflow=workflow, version=version, params=resolved, created_at=started,
                    trigger=trigger)
    stop_ids: list[str] = []
    if spec.run_strategy is RunStrategy.PARALLEL and not spec.max_parallel:
        run.status = RunStatus.IN_PROGRESS
    else:
        def decide(doc: Any) -> tuple[Any, tuple[RunStatus, list[str]]]:
            after, status, stop = admit(Active.from_json(doc), spec.run_strategy, spec.max_parallel, run_id)
            return after.as_json(), (status, stop)

        run.status, stop_ids = await store.update_json(f"active.{spec.id}", decide)
    if run.status is RunStatus.IN_PROGRESS:
        run.started_at = started
        run.deadline = started + spec.timeout if spec.timeout else None
    elif run.status is RunStatus.STOPPED:
        run.ended_at, run.reason = started, "first_only: another run of this workflow is in progress"
    rev = await store.cas_run(run, 0)
    for other in stop_ids:
        try:
            await RunHandle(store, other).stop(reason=f"last_only: superseded by run {run_id}")
        except (IllegalActionError, NotFoundError):
            pass
    if run.status is RunStatus.IN_PROGRESS:
        await store.emit(RunStarted(run_id, run.as_dict(), rev))
    await store.index_run(workflow, run_id)
    return RunHandle(store, run_id)


async def get_run(store: Store, run_id: str) -> "RunHandle":
    """A handle on an existing run.

    Raises:
        NotFoundError: No run with this id.
    """
    await store.get_run(run_id)
    return RunHandle(store, run_id)


async def list_runs(store: Store, workflow: str, *, limit: int = 20) -> list[dict[str, Any]]:
    """The most recent top-level runs of a workflow, newest first."""
    await store.get_definition(workflow)
    out = []
    for run_id in reversed((await store.recent_runs(workflow))[-limit:]):
        try:
            run, _ = await store.get_run(run_id)
        except NotFoundError:
            continue
        out.append({"id": run.id, "status": run.status.value, "attempt": run.attempt, "trigger": run.trigger,
                    "created_at": run.created_at, "started_at": run.started_at, "ended_at": run.ended_at,
                    "reason": run.reason})
    return out


class RunHandle:
    """A run, by id. Each method is one action; all of them are safe against concurrent actors."""

    def __init__(self, store: Store, run_id: str) -> None:
        self.store = store
        self.id = run_id

    def __repr__(self) -> str:
        return f"RunHandle({self.id!r})"

    async def record(self) -> RunRecord:
        """The run record as stored now."""
        return (await self.store.get_run(self.id))[0]

    async def status(self) -> RunStatus:
        """The run's status now."""
        return (await self.record()).status

    async def wait(self, *, timeout: float = 60.0, interval: float = 0.05,
                   until: frozenset[RunStatus] = RUN_TERMINAL) -> RunRecord:
        """Wait until the run reaches a status in ``until`` (default: any terminal status).

        Raises:
            RdgTimeoutError: Not there within ``timeout`` seconds.
        """
        deadline = now() + timeout
        while True:
            run = await self.record()
            if run.status in until:
                return run
            if now() > deadline:
                raise RdgTimeoutError(f"run {self.id} is still {run.status.value} after {timeout} s")
            await asyncio.sleep(interval)

    async def step(self, step_id: str) -> StepRecord:
        """One step's record (``NotFoundError`` if the workflow has no such step)."""
        run = await self.record()
        await self._check_step(run, step_id)
        return (await self.store.get_step(self.id, step_id))[0]

    async def describe(self) -> dict[str, Any]:
        """The run and each of its steps (status, attempt, timings, outputs, error, history)."""
        run = await self.record()
        spec = await spec_for_run(self.store, run)
        recs = await asyncio.gather(*(self.store.get_step(self.id, s.id) for s in spec.steps))
        depth: dict[str, int] = {}
        for s in spec.order:  # depth = longest chain of dependencies above it (tree view)
            depth[s.id] = 1 + max((depth[d] for d in s.depends_on), default=-1)
        steps = []
        for s, (rec, _) in zip(spec.steps, recs):
            ended = rec.ended_at or (now() if rec.started_at else None)
            steps.append({
                "id": s.id, "type": s.type.value, "depends_on": list(s.depends_on), "depth": depth[s.id],
                "status": rec.status.value, "attempt": rec.attempt, "run_attempt": rec.run_attempt,
                "queued_at": rec.queued_at, "started_at": rec.started_at, "ended_at": rec.ended_at,
                "duration_s": round(ended - rec.started_at, 4) if rec.started_at and ended else None,
                "owner": rec.owner, "fence": rec.fence, "error": rec.error, "outputs": rec.outputs,
                "fanout": rec.fanout or None, "child": rec.child, "retries": {"user": rec.user_retries,
                                                                              "platform": rec.platform_retries},
                "history": rec.history,
            })
        return {"run": run.as_dict(), "steps": steps}

    # -- actions -----------------------------------------------------------------------------

    async def _run_action(self, action: RunAction, **how: Any) -> RunRecord:
        async def attempt() -> RunRecord:
            run, rev = await self.store.get_run(self.id)
            new = run_action(run, action, now=now(), **how)
            await self.store.cas_run(new, rev)
            return new

        new = await until_no_conflict(attempt, attempts=_RETRIES,
                                      what=f"run {self.id} kept changing while trying to {action.value} it")
        await self.store.emit(ActionTaken(self.id))
        return new

    async def pause(self) -> RunRecord:
        """Start no new steps; running ones finish. Legal when IN_PROGRESS."""
        return await self._run_action(RunAction.PAUSE)

    async def resume(self) -> RunRecord:
        """Carry on after :meth:`pause`. Legal when PAUSED."""
        return await self._run_action(RunAction.RESUME)

    async def stop(self, *, reason: str = "stopped by user") -> RunRecord:
        """End the run as STOPPED; running steps are stopped and their late results ignored."""
        return await self._run_action(RunAction.STOP, reason=reason)

    async def kill(self) -> RunRecord:
        """End the run at once as FAILED ("killed"); running steps are stopped."""
        return await self._run_action(RunAction.KILL)

    async def restart(self, mode: RestartMode | str = RestartMode.FAILED, *, step: str | None = None) -> RunRecord:
        """Start a new attempt of a finished run, keeping the old attempt in the history.

        Args:
            mode: ``beginning`` (every step), ``failed`` (steps that did not complete, and those
                after them), or ``step`` (``step`` and every step after it).
            step: The step to restart from, for mode ``step``.

        Raises:
            IllegalActionError: The run has not ended, or nothing would rerun.
            NotFoundError: ``step`` is not a step of this workflow.
        """
        mode = RestartMode(mode)
        run, _ = await self.store.get_run(self.id)
        check_action(run.status, RunAction.RESTART)
        spec = await spec_for_run(self.store, run)
        if mode is RestartMode.STEP:
            if step is None:
                raise IllegalActionError("restart from a step needs the step id", hint="--from-step STEP")
            await self._check_step(run, step)
        recs = await asyncio.gather(*(self.store.get_step(self.id, s.id) for s in spec.steps))
        reset = steps_to_restart(spec, {s.id: rec for s, (rec, _) in zip(spec.steps, recs)}, mode, step)
        if not reset:
            raise IllegalActionError(f"run {self.id} has no failed steps to restart",
                                     hint="use --from-beginning or --from-step STEP")
        for sid in reset:
            async def reset_step(sid: str = sid) -> None:
                rec, rev = await self.store.get_step(self.id, sid)
                history = (rec.history + [rec.summary()])[-20:] if rec.attempt else rec.history
                new = StepRecord(dispatch=rec.dispatch, fence=rec.fence, run_attempt=run.attempt + 1, history=history)
                await self.store.cas_step(self.id, sid, new, rev)

            await until_no_conflict(reset_step, attempts=_RETRIES, what=f"step {sid} kept changing during the restart")

        return await self._run_action(RunAction.RESTART, timeout=spec.timeout, restart_reason=f"restart ({mode.value})")

    async def _check_step(self, run: RunRecord, step_id: str) -> None:
        spec = await spec_for_run(self.store, run)
        ids = [s.id for s in spec.steps]
        if step_id not in ids:
            raise NotFoundError(f"workflow '{spec.id}' has no step '{step_id}'",
                                hint=did_you_mean(step_id, ids) or "steps: " + ", ".join(ids))

    async def _step_action(self, action: RunAction, step_id: str) -> StepRecord:
        run, _ = await self.store.get_run(self.id)
        check_action(run.status, action)
        await self._check_step(run, step_id)
        spec = await spec_for_run(self.store, run)
        async def attempt() -> StepRecord:
            rec, rev = await self.store.get_step(self.id, step_id)
            new = step_action(step_id, rec, action, now=now(), breakpoint=spec.step(step_id).breakpoint)
            await self.store.cas_step(self.id, step_id, new, rev)
            return new

        new = await until_no_conflict(attempt, attempts=_RETRIES,
                                      what=f"step {step_id} kept changing while trying to {action.value} it")
        await self.store.emit(ActionTaken(self.id))
        return new

    async def skip(self, step_id: str) -> StepRecord:
        """Mark a step that has not completed as SKIPPED; the steps after it run as if it succeeded."""
        return await self._step_action(RunAction.SKIP, step_id)

    async def pause_step(self, step_id: str) -> StepRecord:
        """Set a breakpoint: the step waits (PAUSED) instead of starting when it becomes ready."""
        return await self._step_action(RunAction.PAUSE_STEP, step_id)

    async def resume_step(self, step_id: str) -> StepRecord:
        """Release a breakpoint: a PAUSED step starts now; a waiting breakpoint is removed."""
        return await self._step_action(RunAction.RESUME_STEP, step_id)
