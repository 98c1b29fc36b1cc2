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
import json
import logging
from collections import OrderedDict
from typing import Any, Awaitable, Callable

from rdg.bus import until_no_conflict
from rdg.errors import ConflictError, NotFoundError
from rdg.spec import (
    ExpressionError,
    StepSpec,
    StepType,
)
from rdg.workflow._decisions import Decisions
from rdg.workflow._events import (
    ActionTaken,
    ChildEnded,
    Event,
    RunStarted,
    StepEnded,
    Wake,
    from_wire,
)
from rdg.workflow._fanout import FanOut
from rdg.workflow._models import (
    RUN_TERMINAL,
    RunRecord,
    RunStatus,
    StepRecord,
    StepStatus,
    now,
)
from rdg.workflow._run_state import PAGE, RunState, spec_for_run
from rdg.workflow._store import Store
from rdg.workflow._triggers import Triggers

__all__ = ["Engine", "PAGE", "spec_for_run"]

log = logging.getLogger("rdg.workflow.engine")


class Engine(Decisions, FanOut, Triggers):
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
        self._cache: OrderedDict[str, RunState] = OrderedDict()
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

    async def _resend(self, st: RunState, step: StepSpec, rec: StepRecord) -> None:
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
            st = RunState(run_id)
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

    async def _until_no_conflict(self, st: RunState, decide: Callable[[], Awaitable[None]]) -> None:
        """Run a decision; when a compare-and-set loses (another engine, a worker or a client wrote
        first), read the run again and decide again, up to 10 times.

        Raises:
            ConflictError: Still losing after 10 tries (the event is retried later).
        """
        await until_no_conflict(decide, attempts=10, what=f"run {st.id}: too many conflicting writers",
                                hint="another engine keeps changing this run; it will be retried",
                                between=lambda: self._reload(st))

    async def _handle_child(self, st: RunState, event: ChildEnded) -> None:
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

    async def _guarded_advance(self, st: RunState) -> None:
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

    async def _reload(self, st: RunState, started: RunStarted | None = None) -> None:
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

