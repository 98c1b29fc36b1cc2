"""Carrying out the engine's decisions for one run: the commands of the pure
:func:`rdg.workflow._decide.decide` (start, skip, hold, fail or stop a step, finish or close the
run) become writes, dispatches and timers. Mixed into :class:`rdg.workflow.Engine`; every write
is a compare-and-set through the store, and a lost one makes the engine read the run again and
decide again (``Engine._until_no_conflict``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from dataclasses import asdict
from typing import Any

from rdg.bus import until_no_conflict
from rdg.errors import NotFoundError
from rdg.spec import (
    ExpressionError,
    FailureMode,
    RunStrategy,
    StepSpec,
    StepType,
    evaluate_async,
    render_async,
)
from rdg.workflow._admission import Active, release
from rdg.workflow._decide import (
    Close,
    Evaluate,
    Fail,
    Finish,
    Hold,
    Skip,
    Start,
    StopStep,
    WakeAt,
    candidates,
    decide,
)
from rdg.workflow._events import ActionTaken, ChildEnded, Wake
from rdg.workflow._models import (
    RUN_TERMINAL,
    STEP_COMPLETE,
    STEP_NON_TERMINAL,
    RunStatus,
    StepRecord,
    StepStatus,
)
from rdg.workflow._run_state import EnginePart, RunState, attempt_tag, spec_for_run

__all__ = ["Decisions"]

log = logging.getLogger("rdg.workflow.engine")


class Decisions(EnginePart):
    """Deciding what happens next in a run (a mixin of :class:`rdg.workflow.Engine`)."""


    async def _advance(self, st: RunState, touched: set[str] | None = None) -> None:
        """Carry out :func:`rdg.workflow._decide.decide` until it has nothing more to do.
        ``touched``: the steps that just changed (None: look at all)."""
        only = None if touched is None else candidates(st.spec, touched)
        conditions: dict[str, bool | str] = {}
        names: dict[str, Any] | None = None
        for _ in range(2 * len(st.spec.steps) + 4):
            commands = decide(st.run, st.spec, st.records, now=self.clock(), conditions=conditions, only=only)
            changed: set[str] = set()
            for command in commands:
                if isinstance(command, Close):
                    await self._close(st)
                    return
                if isinstance(command, Finish):
                    await self._finish(st, command.status, command.reason)
                    return
                if isinstance(command, WakeAt):
                    self._timer(st.id, command.at)
                elif isinstance(command, StopStep):
                    await self._stop_step(st, command.step)
                elif isinstance(command, Hold):
                    await self._set_step(st, command.step, status=StepStatus.PAUSED, breakpoint=True)
                elif isinstance(command, Skip):
                    await self._set_step(st, command.step, status=StepStatus.SKIPPED, taken=False,
                                         ended_at=self.clock(), error=command.reason)
                    changed.add(command.step)
                elif isinstance(command, Fail):
                    await self._fail_step(st, st.spec.step(command.step), command.status, command.error)
                    changed.add(command.step)
                elif isinstance(command, Evaluate):
                    names = names or self._names(st)
                    try:
                        conditions[command.step] = bool(await evaluate_async(st.spec.step(command.step).condition,
                                                                             names))
                    except ExpressionError as err:
                        conditions[command.step] = str(err)
                    changed.add(command.step)
                elif isinstance(command, Start):
                    step = st.spec.step(command.step)
                    if names is None or step.has_expressions:
                        names = self._names(st, full=step.has_expressions)
                    await self._start(st, step, names)
                    names = None  # outputs may have changed (a foreach over nothing completes at once)
                    changed.add(command.step)
            if not changed or any(isinstance(c, StopStep) for c in commands):
                return
            only = candidates(st.spec, changed)

    def _names(self, st: RunState, *, full: bool = True) -> dict[str, Any]:
        """What expressions may read. ``full=False`` leaves out step outputs (for steps without
        expressions, so a long chain does not collect every output on every step)."""
        outputs = {sid: rec.outputs for sid, (rec, _) in st.steps.items() if rec.status in STEP_COMPLETE} if full else {}
        return {
            "params": st.run.params, "item": st.run.item, "index": st.run.index, "steps": outputs,
            "run": {"id": st.run.id, "attempt": st.run.attempt, "workflow": st.run.workflow},
        }

    async def _task(self, st: RunState, step: StepSpec, rec: StepRecord,
                    names: dict[str, Any] | None = None) -> dict[str, Any]:
        names = names or self._names(st)
        params = {**st.run.params, **await render_async(dict(step.params), names)}
        config = await render_async(dict(step.config), names)
        upstream = {a: st.steps[a][0].outputs for a in st.spec.ancestors[step.id] if st.steps[a][0].outputs}
        return {
            "run": st.id, "step": step.id, "dispatch": rec.dispatch, "type": step.type.value, "params": params,
            "config": config, "steps": upstream, "timeout": step.timeout, "retry": asdict(step.retry),
            "ignore": step.on_failure is FailureMode.IGNORE, "item": st.run.item, "index": st.run.index,
        }

    async def _start(self, st: RunState, step: StepSpec, names: dict[str, Any]) -> None:
        rec, rev = st.steps[step.id]
        history = list(rec.history)
        if rec.status is StepStatus.WAITING_RETRY and (not history or history[-1].get("attempt") != rec.attempt):
            history.append(rec.summary())
        new = dataclasses.replace(
            rec, status=StepStatus.QUEUED, attempt=rec.attempt + 1, dispatch=rec.dispatch + 1, queued_at=self.clock(),
            retry_at=None, run_attempt=st.run.attempt, started_at=None, ended_at=None, error=None, owner=None,
            lease_until=None, history=history[-20:], outputs={},
        )
        if step.type is StepType.FOREACH:
            await self._start_foreach(st, step, new, names)
            return
        if step.type is StepType.SUBWORKFLOW:
            await self._start_sub(st, step, new, names)
            return
        try:
            task = await self._task(st, step, new, names)
        except ExpressionError as err:
            await self._fail_step(st, step, StepStatus.USER_FAILED, str(err))
            return
        rev = await self.store.cas_step(st.id, step.id, new, rev)
        st.steps[step.id] = [new, rev]
        task["rec"], task["rev"] = new.as_dict(), rev  # lets the worker claim without a read first
        await self.store.dispatch(task)

    async def _set_step(self, st: RunState, step_id: str, **changes: Any) -> StepRecord:
        rec, rev = st.steps[step_id]
        new = dataclasses.replace(rec, **changes)
        st.steps[step_id] = [new, await self.store.cas_step(st.id, step_id, new, rev)]
        return new

    async def _fail_step(self, st: RunState, step: StepSpec, status: StepStatus, error: str,
                         **changes: Any) -> None:
        if step.on_failure is FailureMode.IGNORE:
            status = StepStatus.COMPLETED_WITH_ERROR
        await self._set_step(st, step.id, status=status, error=error, ended_at=self.clock(), **changes)

    async def _stop_step(self, st: RunState, step_id: str) -> None:
        async def attempt() -> StepRecord | None:
            rec, _ = st.steps[step_id]
            if rec.status not in STEP_NON_TERMINAL or rec.status is StepStatus.NOT_CREATED:
                return None
            await self._set_step(st, step_id, status=StepStatus.STOPPED, ended_at=self.clock(), owner=None,
                                 error=rec.error or "stopped with its run")
            return rec

        async def read_again() -> None:
            st.steps[step_id] = list(await self.store.get_step(st.id, step_id))

        rec = await until_no_conflict(attempt, attempts=10, what=f"step {st.id}.{step_id} kept changing while "
                                      "stopping it", between=read_again)
        if rec is None:
            return
        step = st.spec.step(step_id)
        if step.type is StepType.FOREACH:
            for i in range(rec.fanout.get("next", 0)):
                await self._stop_run(f"{st.id}.{step_id}.{attempt_tag(rec)}.{i}")
        elif step.type is StepType.SUBWORKFLOW and rec.child:
            await self._stop_run(rec.child)

    async def _stop_run(self, run_id: str) -> None:
        async def attempt() -> bool:
            try:
                run, rev = await self.store.get_run(run_id)
            except NotFoundError:
                return False
            if run.status in RUN_TERMINAL:
                return False
            run.status, run.ended_at, run.reason = RunStatus.STOPPED, self.clock(), "its parent stopped"
            await self.store.cas_run(run, rev)
            return True

        if await until_no_conflict(attempt, attempts=10, what=f"run {run_id} kept changing while stopping it"):
            await self.store.emit(ActionTaken(run_id))

    async def _finish(self, st: RunState, status: RunStatus, reason: str | None) -> None:
        run = dataclasses.replace(st.run, status=status, ended_at=self.clock(), reason=reason)
        st.rev = await self.store.cas_run(run, st.rev)
        st.run = run
        await self._close(st)

    async def _close(self, st: RunState) -> None:
        if st.closed:
            return
        for sid in list(st.steps):
            await self._stop_step(st, sid)
        run = st.run
        if run.parent:
            index = run.parent.get("index")
            await self.store.emit(ChildEnded(run.parent["run"], run.parent["step"], run.id, run.status.value,
                                             None if index is None else int(index)))
        elif st.spec.run_strategy is not RunStrategy.PARALLEL or st.spec.max_parallel:
            await self._release(st)
        st.closed = True
        self._cache.pop(st.id, None)

    async def _release(self, st: RunState) -> None:
        """Take a finished run out of its workflow's active list and start the next waiting ones."""
        def decide(doc: Any) -> tuple[Any, list[str]]:
            if doc is None:
                return None, []
            after, promote = release(Active.from_json(doc), st.spec.run_strategy, st.spec.max_parallel, st.id)
            return after.as_json(), promote

        for run_id in await self.store.update_json(f"active.{st.run.workflow}", decide):
            async def promote(run_id: str = run_id) -> None:
                run, rrev = await self.store.get_run(run_id)
                if run.status is not RunStatus.CREATED:
                    return
                spec = await spec_for_run(self.store, run)
                run.status, run.started_at = RunStatus.IN_PROGRESS, self.clock()
                run.deadline = run.started_at + spec.timeout if spec.timeout else None
                await self.store.emit(self._start_event(run, await self.store.cas_run(run, rrev)))

            await until_no_conflict(promote, attempts=10, what=f"run {run_id} kept changing while starting it")

    def _timer(self, run_id: str, at: float) -> None:
        key = f"{run_id}@{at:.3f}"
        if key in self._timers:
            return
        self._timers[key] = at

        async def fire() -> None:
            try:
                await asyncio.sleep(max(0.0, at - self.clock()))
                if run_id in self._cache:
                    await self.handle(Wake(run_id))
            except NotFoundError:
                pass
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("engine: timer for %s failed", run_id)
            finally:
                self._timers.pop(key, None)

        self._spawn(fire())
