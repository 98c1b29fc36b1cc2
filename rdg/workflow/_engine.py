"""The engine: reacts to each event at once and dispatches the steps that became ready.

Inputs are events (a step ended, an action was taken, a child run ended, a run started) on a
work-queue stream shared by all engines. For each, the engine reads the run (cached, refreshed
on a lost compare-and-set), decides, and writes every transition as a compare-and-set. Ready
steps go onto the work queue for workers; ``foreach`` and ``subworkflow`` steps are run here by
starting child runs. Timers exist only for backoff, timeouts and cron; a slow reconciliation
loop repairs anything an event missed (a lost dispatch, an expired lease, a due retry).

``poll_interval`` turns the same engine into a polling engine (events are looked at only on a
tick): the baseline the benchmark compares against.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections import OrderedDict
from dataclasses import asdict
from typing import Any, Awaitable, Callable

from rdg.errors import ConflictError, NotFoundError, RdgError
from rdg.spec import (
    ExpressionError, FailureMode, RunStrategy, StepSpec, StepType, WorkflowSpec, evaluate_async, render_async,
)
from rdg.workflow._admission import Active, release
from rdg.workflow._events import ActionTaken, ChildEnded, Event, RunStarted, StepEnded, Wake, from_wire
from rdg.workflow._models import (
    RUN_TERMINAL, STEP_COMPLETE, STEP_FAILED, STEP_NON_TERMINAL, RunRecord, RunStatus, StepRecord, StepStatus, now,
)
from rdg.workflow._store import Store

__all__ = ["Engine", "PAGE", "spec_for_run"]

log = logging.getLogger("rdg.workflow.engine")

PAGE = 1000
"""Foreach items and completion bits are kept in KV pages of this many iterations."""


async def spec_for_run(store: Store, run: RunRecord) -> WorkflowSpec:
    """The definition a run follows (descending into inline foreach children by ``run.path``)."""
    spec, _ = await store.get_definition(run.workflow, run.version)
    for sid in run.path:
        child = spec.step(sid).child
        if child is None:
            raise NotFoundError(f"step '{sid}' of workflow '{spec.id}' has no inline steps")
        spec = child
    return spec


def _tag(rec: StepRecord) -> str:
    return f"{rec.run_attempt}-{rec.attempt}"


class _RunState:
    def __init__(self, run_id: str) -> None:
        self.id = run_id
        self.lock = asyncio.Lock()
        self.loaded = False
        self.closed = False
        self.run: RunRecord
        self.rev = 0
        self.spec: WorkflowSpec
        self.steps: dict[str, list[Any]] = {}
        self.inbox: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self.touched = 0.0
        """When the last event for this run arrived (the reconciliation pass skips busy runs)."""


class Engine:
    """Drives runs. Scale out by starting more processes (``rdg engine``); they share the events.

    Args:
        store: An open :class:`Store`.
        poll_interval: ``None`` (event-driven, the default) or seconds between polls (baseline mode).
        reconcile_interval: Seconds between repair passes (not in the hot path).
        cache_size: Runs kept in memory; finished runs leave at once.
        clock: Wall-clock seconds (tests pass a fake one to jump over retry backoffs and deadlines).
    """

    def __init__(self, store: Store, *, poll_interval: float | None = None, reconcile_interval: float = 5.0,
                 cache_size: int = 2000, cron_refresh: float = 5.0, max_inflight: int = 128,
                 clock: Callable[[], float] = now) -> None:
        self.store = store
        self.clock = clock
        self.poll_interval = poll_interval
        self.reconcile_interval = reconcile_interval
        self.cache_size = cache_size
        self.cron_refresh = cron_refresh
        self.max_inflight = max_inflight
        self.events_handled = 0
        self._cache: OrderedDict[str, _RunState] = OrderedDict()
        self._timers: dict[str, float] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pages: OrderedDict[str, Any] = OrderedDict()
        self._stop = asyncio.Event()

    def stop(self) -> None:
        """Ask every loop to end."""
        self._stop.set()

    async def run(self) -> None:
        """Run the event, signal, cron and reconciliation loops until :meth:`stop`."""
        loops = [asyncio.create_task(self._events_loop()), asyncio.create_task(self._signals_loop()),
                 asyncio.create_task(self._cron_loop()), asyncio.create_task(self._reconcile_loop())]
        try:
            await self._stop.wait()
        finally:
            for task in loops + list(self._tasks):
                task.cancel()
            await asyncio.gather(*loops, *self._tasks, return_exceptions=True)

    # -- loops -------------------------------------------------------------------------------

    async def _events_loop(self) -> None:
        sem = asyncio.Semaphore(self.max_inflight)
        if not self.poll_interval:
            # Event-driven: the server pushes each event the moment it is stored.
            async def on_event(msg: Any) -> None:
                await sem.acquire()
                self._spawn(self._handle_msg(msg, sem))

            sub = await self.store.push("events", "engine", on_event)
            try:
                await self._stop.wait()
            finally:
                await sub.unsubscribe()
            return
        sub = await self.store.pull("events", "engine-poll")
        while not self._stop.is_set():
            await asyncio.sleep(self.poll_interval)
            msgs: list[Any] = []
            while True:  # a poll drains what has piled up since the last tick
                try:
                    got = await sub.fetch(256, timeout=0.05)
                except asyncio.TimeoutError:
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as err:
                    log.warning("engine: fetching events failed (%s); retrying", err)
                    break
                msgs.extend(got)
                if len(got) < 256:
                    break
            for msg in msgs:
                await sem.acquire()
                self._spawn(self._handle_msg(msg, sem))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle_msg(self, msg: Any, sem: asyncio.Semaphore) -> None:
        try:
            try:
                event = from_wire(json.loads(msg.data))
            except ValueError as err:  # not an event this engine knows: nothing to retry
                log.warning("engine: dropping a malformed event: %s", err)
                await msg.ack()
                return
            try:
                await self.handle(event)
            except NotFoundError as err:
                log.warning("engine: dropping %s: %s", type(event).__name__, err)
            except Exception:
                log.exception("engine: %s for run %s failed; it will be retried", type(event).__name__, event.run)
                await msg.nak(delay=1.0)
                return
            await msg.ack()
            self.events_handled += 1
        finally:
            sem.release()

    async def _signals_loop(self) -> None:
        from rdg.workflow._client import start_run

        sub = await self.store.pull("signals", "engine-signals")
        while not self._stop.is_set():
            try:
                msgs = await sub.fetch(16, timeout=1.0)
            except asyncio.TimeoutError:
                continue
            except asyncio.CancelledError:
                raise
            except Exception as err:
                log.warning("engine: fetching signals failed (%s)", err)
                await asyncio.sleep(0.5)
                continue
            for msg in msgs:
                data = json.loads(msg.data)
                seq = msg.metadata.sequence.stream
                for wf_id in await self.store.workflows_for_signal(data["name"]):
                    try:
                        spec, _ = await self.store.get_definition(wf_id)
                        params = {k: v for k, v in (data.get("params") or {}).items() if k in spec.params}
                        await start_run(self.store, wf_id, params, run_id=f"sig-{seq}-{wf_id}",
                                        trigger=f"signal:{data['name']}")
                    except ConflictError:
                        pass  # redelivered signal: that run exists already
                    except RdgError as err:
                        log.warning("engine: signal %s could not start %s: %s", data["name"], wf_id, err)
                await msg.ack()

    async def _cron_loop(self) -> None:
        from croniter import croniter

        from rdg.workflow._client import start_run

        while not self._stop.is_set():
            wake = self.clock() + self.cron_refresh
            try:
                for d in await self.store.list_definitions():
                    if not d["cron"]:
                        continue
                    key = f"cron.{d['id']}"
                    raw, rev = await _get(self.store.defs, key)
                    if raw is None:
                        await _cas(self.store.defs, key, {"last": self.clock()}, 0)
                        continue
                    last = float(raw["last"])
                    due = min(croniter(expr, last).get_next(float) for expr in d["cron"])
                    if due <= self.clock():
                        try:
                            await _cas(self.store.defs, key, {"last": due}, rev)
                        except ConflictError:
                            continue  # another engine fired it
                        await start_run(self.store, d["id"], {}, run_id=f"cron-{d['id']}-{int(due * 1000)}",
                                        trigger="cron")
                        wake = self.clock()
                    else:
                        wake = min(wake, due)
            except asyncio.CancelledError:
                raise
            except Exception as err:
                log.warning("engine: cron pass failed: %s", err)
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=max(0.0, wake - self.clock()))
            except asyncio.TimeoutError:
                pass

    async def _reconcile_loop(self) -> None:
        passes = 0
        while not self._stop.is_set():
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=self.reconcile_interval if passes else 0.0)
                return
            except asyncio.TimeoutError:
                pass
            if passes % 12 == 0:  # at start, then now and then: adopt runs no engine holds in memory
                try:
                    await self.adopt()
                except asyncio.CancelledError:
                    raise
                except Exception as err:
                    log.warning("engine: adopting unfinished runs failed: %s", err)
            passes += 1
            for run_id in list(self._cache):
                try:
                    await self.reconcile(run_id)
                except asyncio.CancelledError:
                    raise
                except Exception as err:
                    log.warning("engine: reconciling %s failed: %s", run_id, err)

    async def adopt(self) -> int:
        """Load the unfinished recent runs of every workflow that this engine does not hold yet
        (after an engine restart, a run waiting on a retry timer or a deadline has no event to
        come). Returns how many were taken up."""
        adopted = 0
        for d in await self.store.list_definitions():
            for run_id in await self.store.recent_runs(d["id"]):
                if run_id in self._cache:
                    continue
                try:
                    run, _ = await self.store.get_run(run_id)
                except NotFoundError:
                    continue
                if run.status in (RunStatus.IN_PROGRESS, RunStatus.PAUSED):
                    await self.handle(Wake(run_id))
                    adopted += 1
        return adopted

    async def reconcile(self, run_id: str) -> None:
        """Repair one run: re-send lost dispatches, retry due steps, enforce deadlines."""
        st = self._cache.get(run_id)
        if st is None or self.clock() - st.touched < self.reconcile_interval:
            return  # unknown here, or events are flowing: nothing to repair
        async with st.lock:
            await self._reload(st)
            if st.run.status in RUN_TERMINAL:
                await self._close(st)
                return
            stale = max(30.0, 2 * self.store.lease)
            for step in st.spec.steps:
                rec, _ = st.steps[step.id]
                lost = rec.status is StepStatus.QUEUED and self.clock() - (rec.queued_at or 0) > stale
                dead = rec.status is StepStatus.RUNNING and self.clock() - (rec.lease_until or self.clock()) > stale
                if lost or dead:
                    await self._resend(st, step, rec)
            await self._guarded_advance(st)

    async def _resend(self, st: _RunState, step: StepSpec, rec: StepRecord) -> None:
        """Send a queued step's work item again. Safe to repeat: the stream drops a copy of a work
        item it holds (same ``Nats-Msg-Id`` within its duplicate window), and a worker acks a copy
        whose step was claimed or finished since."""
        if step.type in (StepType.FOREACH, StepType.SUBWORKFLOW):
            return
        try:
            task = await self._task(st, step, rec)
        except ExpressionError as err:
            log.warning("engine: cannot re-send %s.%s: %s", st.id, step.id, err)
            return
        log.info("engine: re-sending %s.%s (%s)", st.id, step.id, rec.status.value)
        await self.store.dispatch(task)

    # -- event handling ----------------------------------------------------------------------

    async def handle(self, event: Event) -> None:
        """Apply one event (public so tests and tools can inject one)."""
        run_id = event.run
        st = self._cache.get(run_id)
        if st is None:
            st = _RunState(run_id)
            self._cache[run_id] = st
            self._evict()
        else:
            self._cache.move_to_end(run_id)
        st.touched = self.clock()
        if isinstance(event, ChildEnded):
            await self._handle_child(st, event)
            return
        async with st.lock:
            if not st.loaded or isinstance(event, ActionTaken):
                await self._reload(st, started=event if isinstance(event, RunStarted) else None)
            async def apply() -> None:
                if isinstance(event, StepEnded) and event.step in st.steps:
                    if event.rev > st.steps[event.step][1]:
                        st.steps[event.step] = [StepRecord.from_json(event.rec), event.rev]
                await self._advance(st, {event.step} if isinstance(event, StepEnded) else None)

            await self._until_no_conflict(st, apply)

    async def _until_no_conflict(self, st: _RunState, decide: Callable[[], Awaitable[None]]) -> None:
        """Run a decision; when a compare-and-set loses (another engine, a worker or a client wrote
        first), read the run again and decide again, up to 10 times.

        Raises:
            ConflictError: Still losing after 10 tries (the event is retried later).
        """
        for _ in range(10):
            try:
                await decide()
                return
            except ConflictError:
                await self._reload(st)
        raise ConflictError(f"run {st.id}: too many conflicting writers",
                            hint="another engine keeps changing this run; it will be retried")

    async def _handle_child(self, st: _RunState, event: ChildEnded) -> None:
        """Child-run endings for one parent are applied in batches: one write per batch, not per child."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        st.inbox.append((event, fut))
        async with st.lock:
            if not fut.done():
                batch, st.inbox = st.inbox, []
                try:
                    if not st.loaded:
                        await self._reload(st)
                    async def apply() -> None:
                        await self._advance(st, await self._on_children(st, [e for e, _ in batch]))

                    await self._until_no_conflict(st, apply)
                except BaseException as err:
                    for _, f in batch:
                        if f is not fut and not f.done():
                            f.set_exception(err)
                    fut.cancel()
                    raise
                for _, f in batch:
                    if not f.done():
                        f.set_result(None)
        await fut

    async def _guarded_advance(self, st: _RunState) -> None:
        try:
            await self._until_no_conflict(st, lambda: self._advance(st))
        except ConflictError as err:
            log.info("engine: %s (the next pass tries again)", err.message)

    def _evict(self) -> None:
        while len(self._cache) > self.cache_size:
            run_id, st = next(iter(self._cache.items()))
            if st.lock.locked():
                self._cache.move_to_end(run_id)
                if all(s.lock.locked() for s in self._cache.values()):
                    return
                continue
            del self._cache[run_id]

    async def _reload(self, st: _RunState, started: RunStarted | None = None) -> None:
        """Read the run and its steps from KV (``started``: the event of a run just created, which
        may carry its record). The first time this engine takes up a run it did not start, it
        re-sends the run's queued steps at once: an engine that died between recording a step as
        QUEUED and sending its work item leaves nothing else to wake it."""
        new = started is not None
        taken_up = not st.loaded and not new
        if started is not None and started.rec is not None and not st.loaded:  # the run as created
            st.run, st.rev = RunRecord.from_json(started.rec), started.rev
        else:
            st.run, st.rev = await self.store.get_run(st.id)
        st.spec = await spec_for_run(self.store, st.run)
        if new and st.run.attempt == 1 and not st.loaded:
            st.steps = {s.id: [StepRecord(), 0] for s in st.spec.steps}
        else:
            recs = await asyncio.gather(*(self.store.get_step(st.id, s.id) for s in st.spec.steps))
            st.steps = {s.id: [rec, rev] for s, (rec, rev) in zip(st.spec.steps, recs)}
        st.loaded = True
        if st.run.status not in RUN_TERMINAL:
            st.closed = False
            if taken_up:
                for step in st.spec.steps:
                    rec = st.steps[step.id][0]
                    if rec.status is StepStatus.QUEUED:
                        await self._resend(st, step, rec)

    # -- decisions ---------------------------------------------------------------------------

    async def _advance(self, st: _RunState, touched: set[str] | None = None) -> None:
        """Decide what happens next. ``touched``: the steps that just changed (None: look at all)."""
        run = st.run
        if run.status in RUN_TERMINAL:
            await self._close(st)
            return
        if run.status is RunStatus.CREATED:
            return
        if run.deadline:
            if self.clock() >= run.deadline:
                await self._finish(st, RunStatus.TIMED_OUT, "the run's timeout passed")
                return
            self._timer(st.id, run.deadline)
        candidates = None if touched is None else self._candidates(st.spec, touched)
        for _ in range(len(st.spec.steps) + 2):
            if await self._handle_failures(st):
                return
            if st.run.status is RunStatus.PAUSED:
                return
            changed = await self._start_ready(st, candidates)
            if not changed:
                break
            candidates = self._candidates(st.spec, changed)
        if await self._handle_failures(st):
            return
        if all(rec.status in STEP_COMPLETE for rec, _ in st.steps.values()):
            await self._finish(st, RunStatus.SUCCEEDED, None)

    async def _handle_failures(self, st: _RunState) -> bool:
        failed = [sid for sid, (rec, _) in st.steps.items() if rec.status in STEP_FAILED]
        if not failed:
            return False
        first = st.steps[failed[0]][0]
        reason = f"step '{failed[0]}' {first.status.value}: {first.error or ''}".strip()
        if any(st.spec.step(sid).on_failure is FailureMode.FAIL for sid in failed):
            await self._finish(st, RunStatus.FAILED, reason)
            return True
        busy = False
        for sid, (rec, _) in list(st.steps.items()):
            if rec.status in (StepStatus.WAITING_RETRY, StepStatus.PAUSED):
                await self._stop_step(st, sid)
            elif rec.status in (StepStatus.QUEUED, StepStatus.RUNNING):
                busy = True
        if not busy:
            await self._finish(st, RunStatus.FAILED, reason)
        return True

    def _candidates(self, spec: WorkflowSpec, touched: set[str]) -> list[StepSpec]:
        """The touched steps and their direct dependents, in definition order."""
        wanted: set[int] = set()
        for sid in touched:
            if sid in spec.positions:
                wanted.add(spec.positions[sid])
                wanted.update(spec.dependents[sid])
        return [spec.steps[i] for i in sorted(wanted)]

    async def _start_ready(self, st: _RunState, candidates: list[StepSpec] | None = None) -> set[str]:
        progressed: set[str] = set()
        names: dict[str, Any] | None = None
        names_full = False
        for step in (st.spec.steps if candidates is None else candidates):
            rec, _ = st.steps[step.id]
            if rec.status is StepStatus.WAITING_RETRY:
                if (rec.retry_at or 0) <= self.clock():
                    names, names_full = self._names(st), True
                    await self._start(st, step, names)
                    progressed.add(step.id)
                else:
                    self._timer(st.id, rec.retry_at or self.clock())
                continue
            if rec.status is not StepStatus.NOT_CREATED:
                continue
            deps = [st.steps[d][0] for d in step.depends_on]
            if any(d.status not in STEP_COMPLETE for d in deps):
                continue
            if deps and not any(d.taken for d in deps):
                await self._set_step(st, step.id, status=StepStatus.SKIPPED, taken=False, ended_at=self.clock(),
                                     error="no upstream branch was taken")
                progressed.add(step.id)
                continue
            if (rec.breakpoint or step.breakpoint) and not rec.released:
                await self._set_step(st, step.id, status=StepStatus.PAUSED, breakpoint=True)
                continue
            need = step.has_expressions
            if names is None or (need and not names_full):
                names, names_full = self._names(st, full=need), need
            if step.condition:
                try:
                    taken = bool(await evaluate_async(step.condition, names))
                except ExpressionError as err:
                    await self._fail_step(st, step, StepStatus.USER_FAILED, f"if: {err}")
                    return progressed | {step.id}
                if not taken:
                    await self._set_step(st, step.id, status=StepStatus.SKIPPED, taken=False, ended_at=self.clock(),
                                         error="condition was false")
                    progressed.add(step.id)
                    continue
            await self._start(st, step, names)
            progressed.add(step.id)
            names = None  # outputs may have changed (a foreach over nothing completes at once)
        return progressed

    def _names(self, st: _RunState, *, full: bool = True) -> dict[str, Any]:
        """What expressions may read. ``full=False`` leaves out step outputs (for steps without
        expressions, so a long chain does not collect every output on every step)."""
        outputs = {sid: rec.outputs for sid, (rec, _) in st.steps.items() if rec.status in STEP_COMPLETE} if full else {}
        return {
            "params": st.run.params, "item": st.run.item, "index": st.run.index, "steps": outputs,
            "run": {"id": st.run.id, "attempt": st.run.attempt, "workflow": st.run.workflow},
        }

    async def _task(self, st: _RunState, step: StepSpec, rec: StepRecord,
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

    async def _start(self, st: _RunState, step: StepSpec, names: dict[str, Any]) -> None:
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

    async def _set_step(self, st: _RunState, step_id: str, **changes: Any) -> StepRecord:
        rec, rev = st.steps[step_id]
        new = dataclasses.replace(rec, **changes)
        st.steps[step_id] = [new, await self.store.cas_step(st.id, step_id, new, rev)]
        return new

    async def _fail_step(self, st: _RunState, step: StepSpec, status: StepStatus, error: str,
                         **changes: Any) -> None:
        if step.on_failure is FailureMode.IGNORE:
            status = StepStatus.COMPLETED_WITH_ERROR
        await self._set_step(st, step.id, status=status, error=error, ended_at=self.clock(), **changes)

    async def _stop_step(self, st: _RunState, step_id: str) -> None:
        for _ in range(10):
            rec, rev = st.steps[step_id]
            if rec.status not in STEP_NON_TERMINAL or rec.status is StepStatus.NOT_CREATED:
                return
            try:
                await self._set_step(st, step_id, status=StepStatus.STOPPED, ended_at=self.clock(), owner=None,
                                     error=rec.error or "stopped with its run")
            except ConflictError:
                st.steps[step_id] = list(await self.store.get_step(st.id, step_id))
                continue
            step = st.spec.step(step_id)
            if step.type is StepType.FOREACH:
                for i in range(rec.fanout.get("next", 0)):
                    await self._stop_run(f"{st.id}.{step_id}.{_tag(rec)}.{i}")
            elif step.type is StepType.SUBWORKFLOW and rec.child:
                await self._stop_run(rec.child)
            return

    async def _stop_run(self, run_id: str) -> None:
        for _ in range(10):
            try:
                run, rev = await self.store.get_run(run_id)
            except NotFoundError:
                return
            if run.status in RUN_TERMINAL:
                return
            run.status, run.ended_at, run.reason = RunStatus.STOPPED, self.clock(), "its parent stopped"
            try:
                await self.store.cas_run(run, rev)
            except ConflictError:
                continue
            await self.store.emit(ActionTaken(run_id))
            return

    async def _finish(self, st: _RunState, status: RunStatus, reason: str | None) -> None:
        run = dataclasses.replace(st.run, status=status, ended_at=self.clock(), reason=reason)
        st.rev = await self.store.cas_run(run, st.rev)
        st.run = run
        await self._close(st)

    async def _close(self, st: _RunState) -> None:
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

    async def _release(self, st: _RunState) -> None:
        """Take a finished run out of its workflow's active list and start the next waiting ones."""
        def decide(doc: Any) -> tuple[Any, list[str]]:
            if doc is None:
                return None, []
            after, promote = release(Active.from_json(doc), st.spec.run_strategy, st.spec.max_parallel, st.id)
            return after.as_json(), promote

        for run_id in await self.store.update_json(f"active.{st.run.workflow}", decide):
            for _ in range(10):
                try:
                    run, rrev = await self.store.get_run(run_id)
                    if run.status is not RunStatus.CREATED:
                        break
                    spec = await spec_for_run(self.store, run)
                    run.status, run.started_at = RunStatus.IN_PROGRESS, self.clock()
                    run.deadline = run.started_at + spec.timeout if spec.timeout else None
                    await self.store.emit(self._start_event(run, await self.store.cas_run(run, rrev)))
                    break
                except ConflictError:
                    continue

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

    # -- foreach and subworkflow -------------------------------------------------------------

    async def _start_foreach(self, st: _RunState, step: StepSpec, rec: StepRecord, names: dict[str, Any]) -> None:
        try:
            over = await evaluate_async(str(step.config["over"]), names)
        except ExpressionError as err:
            await self._fail_step(st, step, StepStatus.USER_FAILED, f"over: {err}")
            return
        if isinstance(over, int) and not isinstance(over, bool):
            over = range(over)
        if isinstance(over, range):
            fan = {"total": len(over), "r0": over.start, "rs": over.step}
        elif isinstance(over, (list, tuple)):
            fan = {"total": len(over), "list": 1}
            tag = _tag(rec)
            writes = [self.store.runs.put(f"fi.{st.id}.{step.id}.{tag}.{p}",
                                          json.dumps(list(over[p * PAGE:(p + 1) * PAGE])).encode())
                      for p in range((len(over) + PAGE - 1) // PAGE)]
            await asyncio.gather(*writes)
        else:
            await self._fail_step(st, step, StepStatus.USER_FAILED,
                                  f"over: expected a list or a number, got {type(over).__name__}")
            return
        fan.update(next=0, running=0, ok=0, failed=0)
        rec = dataclasses.replace(rec, status=StepStatus.RUNNING, started_at=self.clock(), fanout=fan)
        await self._fanout(st, step, rec, names)

    async def _item(self, st: _RunState, step: StepSpec, rec: StepRecord, index: int) -> Any:
        fan = rec.fanout
        if not fan.get("list"):
            return fan.get("r0", 0) + index * fan.get("rs", 1)
        key = f"fi.{st.id}.{step.id}.{_tag(rec)}.{index // PAGE}"
        page = self._pages.get(key)
        if page is None:
            entry = await self.store.runs.get(key)
            page = json.loads(entry.value or b"[]")
            self._pages[key] = page
            while len(self._pages) > 8:
                self._pages.popitem(last=False)
        return page[index % PAGE]

    async def _fanout(self, st: _RunState, step: StepSpec, rec: StepRecord, names: dict[str, Any] | None) -> None:
        fan = dict(rec.fanout)
        conc = int(step.config.get("concurrency", 10))
        halt = fan["failed"] > 0 and step.on_failure is FailureMode.FAIL
        launch: list[int] = []
        while not halt and fan["running"] < conc and fan["next"] < fan["total"]:
            launch.append(fan["next"])
            fan["next"] += 1
            fan["running"] += 1
        children: list[RunRecord] = []
        revs: list[int] = []
        if launch:
            names = names or self._names(st)
            try:
                children = [await self._child(st, step, rec, i, names) for i in launch]
            except (ExpressionError, ValueError, NotFoundError) as err:
                await self._fail_step(st, step, StepStatus.USER_FAILED, f"foreach child: {err}")
                return
            revs = await asyncio.gather(*(self._create(c) for c in children))
        if fan["running"] == 0 and (fan["next"] >= fan["total"] or halt):
            outputs = {"total": fan["total"], "ok": fan["ok"], "failed": fan["failed"]}
            if fan["failed"]:
                await self._fail_step(st, step, StepStatus.USER_FAILED,
                                      f"{fan['failed']} of {fan['total']} iterations failed", fanout=fan, outputs=outputs)
                if step.on_failure is FailureMode.IGNORE:
                    return
            else:
                await self._set_step(st, step.id, status=StepStatus.SUCCEEDED, ended_at=self.clock(), fanout=fan,
                                     outputs=outputs)
            return
        rec = dataclasses.replace(rec, fanout=fan)
        st.steps[step.id] = [rec, await self.store.cas_step(st.id, step.id, rec, st.steps[step.id][1])]
        await asyncio.gather(*(self.store.emit(self._start_event(c, r)) for c, r in zip(children, revs)))

    async def _create(self, run: RunRecord) -> int:
        try:
            return await self.store.cas_run(run, 0)
        except ConflictError:
            return 0  # created by an earlier try of this decision

    @staticmethod
    def _start_event(run: RunRecord, rev: int) -> RunStarted:
        return RunStarted(run.id, run.as_dict(), rev) if rev else RunStarted(run.id)

    async def _child(self, st: _RunState, step: StepSpec, rec: StepRecord, index: int,
                     names: dict[str, Any]) -> RunRecord:
        item = await self._item(st, step, rec, index)
        scope = {**names, "item": item, "index": index}
        extra = await render_async(dict(step.config.get("child_params") or {}), scope)
        started = self.clock()
        parent = {"run": st.id, "step": step.id, "index": index}
        run_id = f"{st.id}.{step.id}.{_tag(rec)}.{index}"
        if step.child is not None:
            return RunRecord(id=run_id, workflow=st.run.workflow, version=st.run.version, path=st.run.path + [step.id],
                             status=RunStatus.IN_PROGRESS, params={**st.run.params, **extra}, created_at=started,
                             started_at=started, parent=parent, item=item, index=index, trigger="foreach")
        wf_id = str(await render_async(step.config["workflow"], names))
        spec, version = await self.store.get_definition(wf_id)
        params = spec.resolve_params(extra)
        return RunRecord(id=run_id, workflow=wf_id, version=version, status=RunStatus.IN_PROGRESS, params=params,
                         created_at=started, started_at=started, parent=parent, item=item, index=index,
                         deadline=started + spec.timeout if spec.timeout else None, trigger="foreach")

    async def _on_children(self, st: _RunState, events: list[ChildEnded]) -> set[str]:
        """Apply child-run endings; returns the steps they touched."""
        touched: set[str] = set()
        by_step: dict[str, list[ChildEnded]] = {}
        for event in events:
            by_step.setdefault(event.step, []).append(event)
        for sid, evs in by_step.items():
            if sid not in st.steps:
                continue
            rec, _ = st.steps[sid]
            step = st.spec.step(sid)
            if rec.status is not StepStatus.RUNNING:
                continue
            touched.add(sid)
            if step.type is StepType.SUBWORKFLOW:
                for event in evs:
                    if event.child != rec.child:
                        continue
                    if event.status == RunStatus.SUCCEEDED.value:
                        await self._set_step(st, sid, status=StepStatus.SUCCEEDED, ended_at=self.clock(),
                                             outputs={"run_id": event.child, "status": event.status})
                    else:
                        await self._fail_step(st, step, StepStatus.USER_FAILED,
                                              f"subworkflow run {event.child} ended {event.status}")
                continue
            tag = _tag(rec)
            pages: dict[int, list[ChildEnded]] = {}
            for event in evs:
                index = int(event.index or 0)
                if event.child == f"{st.id}.{sid}.{tag}.{index}":  # else: a child of an earlier attempt
                    pages.setdefault(index // PAGE, []).append(event)
            fan = dict(rec.fanout)
            for page, page_events in pages.items():
                key = f"fd.{st.id}.{sid}.{tag}.{page}"
                cached = self._pages.get(key)
                if cached is None:
                    done, rev = await self.store.get_json(key)
                    cached = [int(done or "0", 16), rev]
                bits = cached[0]
                counted = 0
                for event in page_events:
                    bit = 1 << (int(event.index or 0) % PAGE)
                    if bits & bit:
                        continue  # this child's end was counted already
                    bits |= bit
                    counted += 1
                    fan["ok" if event.status == RunStatus.SUCCEEDED.value else "failed"] += 1
                fan["running"] -= counted
                if counted:
                    try:
                        rev = await self.store.cas_json(key, format(bits, "x"), cached[1])
                    except ConflictError:
                        self._pages.pop(key, None)
                        raise
                    self._pages[key] = [bits, rev]
                    self._pages.move_to_end(key)
                    while len(self._pages) > 64:
                        self._pages.popitem(last=False)
            await self._fanout(st, step, dataclasses.replace(rec, fanout=fan), None)
        return touched

    async def _start_sub(self, st: _RunState, step: StepSpec, rec: StepRecord, names: dict[str, Any]) -> None:
        try:
            config = await render_async(dict(step.config), names)
            given = await render_async(dict(step.params), names)
            spec, version = await self.store.get_definition(str(config["workflow"]))
            params = spec.resolve_params(given)
        except (ExpressionError, NotFoundError, ValueError) as err:
            await self._fail_step(st, step, StepStatus.USER_FAILED, f"subworkflow: {err}")
            return
        wait = bool(config.get("wait", True))
        started = self.clock()
        child_id = f"{st.id}.{step.id}.{_tag(rec)}"
        child = RunRecord(id=child_id, workflow=spec.id, version=version, status=RunStatus.IN_PROGRESS, params=params,
                          created_at=started, started_at=started, trigger="subworkflow",
                          parent={"run": st.id, "step": step.id} if wait else None,
                          deadline=started + spec.timeout if spec.timeout else None)
        child_rev = await self._create(child)
        if wait:
            new = dataclasses.replace(rec, status=StepStatus.RUNNING, started_at=started, child=child_id)
        else:
            new = dataclasses.replace(rec, status=StepStatus.SUCCEEDED, started_at=started, ended_at=self.clock(),
                                      child=child_id, outputs={"run_id": child_id})
        st.steps[step.id] = [new, await self.store.cas_step(st.id, step.id, new, st.steps[step.id][1])]
        await self.store.emit(self._start_event(child, child_rev))


async def _get(kv: Any, key: str) -> tuple[Any, int]:
    from rdg.bus import kv_get

    raw, rev = await kv_get(kv, key)
    return (json.loads(raw) if raw else None), rev


async def _cas(kv: Any, key: str, value: Any, rev: int) -> int:
    from rdg.bus import kv_cas

    return await kv_cas(kv, key, json.dumps(value).encode(), rev)

