"""The worker: pulls ready steps from the work queue, claims each with a compare-and-set, runs it,
heartbeats long ones, and reports the outcome as an event.

Claiming raises the step's fence; completing is a compare-and-set on the revision the claim
(or the last heartbeat) produced. So if this worker stalls and another takes the step over after
the lease, this worker's late result fails its compare-and-set and is dropped: a step is
recorded complete exactly once, whatever happens to workers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import socket
import uuid
from dataclasses import dataclass
from typing import Any, Mapping

from rdg.errors import ConflictError, RdgTimeoutError, RetryableError, ServerError, UserStepError
from rdg.spec import RetrySpec
from rdg.workflow._decide import attempt_ended
from rdg.workflow._events import StepEnded
from rdg.workflow._models import STEP_TERMINAL, StepRecord, StepStatus, now
from rdg.workflow._runtimes import DEFAULT_OUTPUT_LIMIT, runtimes as builtin_runtimes
from rdg.workflow._store import Store
from rdg.workflow._task import StepContext, StepRuntime

__all__ = ["Worker"]

log = logging.getLogger("rdg.workflow.worker")


@dataclass
class _Outcome:
    """How one attempt of a step ended, as the worker saw it."""

    status: StepStatus
    outputs: dict[str, Any]
    error: str | None = None
    final: bool = False
    """The step's code said not to retry (a non-retryable user error)."""


class _Claim:
    """This worker's hold on one step: the record and revision it last wrote."""

    def __init__(self, rec: StepRecord, rev: int) -> None:
        self.rec = rec
        self.rev = rev
        self.lock = asyncio.Lock()
        self.lost = False


class Worker:
    """Runs steps. Scale out by starting more processes (``rdg worker``); they share one queue.

    Args:
        store: An open :class:`Store`.
        concurrency: Steps run at once by this worker.
        name: Worker id shown in step records (default host-pid-random).
        runtimes: Extra or replacement step runtimes by type name.
        output_limit: Most bytes of outputs a shell step may write (setting ``workflow_output_limit``).
    """

    def __init__(self, store: Store, *, concurrency: int = 4, name: str | None = None,
                 runtimes: Mapping[str, StepRuntime] | None = None,
                 output_limit: int = DEFAULT_OUTPUT_LIMIT) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self.store = store
        self.concurrency = concurrency
        self.id = name or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:4]}"
        self.runtimes: dict[str, StepRuntime] = {**builtin_runtimes(output_limit), **(runtimes or {})}
        self.completed = 0
        self._stop = asyncio.Event()

    def stop(self) -> None:
        """Ask the loops to finish after the steps in hand."""
        self._stop.set()

    async def run(self) -> None:
        """Pull and run steps until :meth:`stop` is called."""
        sub = await self.store.pull("tasks", "workers")
        loops = [asyncio.create_task(self._loop(sub)) for _ in range(self.concurrency)]
        try:
            await self._stop.wait()
        finally:
            for task in loops:
                task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)

    async def _loop(self, sub: Any) -> None:
        while not self._stop.is_set():
            try:
                msgs = await sub.fetch(1, timeout=2.0)
            except asyncio.TimeoutError:
                continue
            except asyncio.CancelledError:
                raise
            except Exception as err:  # connection trouble: the client reconnects, we back off a little
                log.warning("worker %s: fetch failed (%s); retrying", self.id, err)
                await asyncio.sleep(0.5)
                continue
            for msg in msgs:
                try:
                    await self.handle(msg)
                except asyncio.CancelledError:
                    raise
                except Exception:  # never let one step take the loop down; the lease brings it back
                    log.exception("worker %s: failed handling a task; it will be redelivered", self.id)

    async def handle(self, msg: Any) -> None:
        """Claim, run and complete one work item (public so tests can drive a single delivery)."""
        import json

        task = json.loads(msg.data)
        claim = await self._claim(task, msg)
        if claim is None:
            return
        done = await self._complete(task, claim, await self._execute(task, claim, msg))
        if done is not None:
            await self.store.emit(StepEnded(task["run"], task["step"], done[1], done[0].as_dict()))
            self.completed += 1
        await msg.ack()

    async def _claim(self, task: dict[str, Any], msg: Any) -> _Claim | None:
        run_id, step_id, dispatch = task["run"], task["step"], task["dispatch"]
        retry = RetrySpec(**task.get("retry", {}))
        hint = (StepRecord.from_json(task["rec"]), int(task["rev"])) if "rec" in task else None
        for _ in range(20):
            if hint is not None:  # first try: the record as the engine wrote it when dispatching
                (rec, rev), hint = hint, None
            else:
                rec, rev = await self.store.get_step(run_id, step_id)
            if rec.dispatch != dispatch:
                await msg.ack()  # stale work item from an earlier dispatch
                return None
            if rec.status in STEP_TERMINAL or rec.status is StepStatus.WAITING_RETRY:
                # Done already (maybe the worker died between recording and acking): tell the engine again.
                await self.store.emit(StepEnded(run_id, step_id, rev, rec.as_dict()))
                await msg.ack()
                return None
            if rec.status is StepStatus.RUNNING:
                wait = (rec.lease_until or 0) - now()
                if wait > 0:  # someone holds a live lease: look again when it would expire
                    await msg.nak(delay=wait + 0.05)
                    return None
                rec.platform_retries += 1
                log.warning("worker %s: taking over %s.%s from %s (lease expired)", self.id, run_id, step_id, rec.owner)
                if rec.platform_retries > retry.platform:
                    rec.history.append(rec.summary())
                    rec.status, rec.ended_at = StepStatus.PLATFORM_FAILED, now()
                    rec.error = f"worker {rec.owner} stopped responding {rec.platform_retries} times"
                    if task.get("ignore"):
                        rec.status = StepStatus.COMPLETED_WITH_ERROR
                    try:
                        rev = await self.store.cas_step(run_id, step_id, rec, rev)
                    except ConflictError:
                        continue
                    await self.store.emit(StepEnded(run_id, step_id, rev, rec.as_dict()))
                    await msg.ack()
                    return None
            elif rec.status is not StepStatus.QUEUED:
                await msg.ack()  # stopped, skipped or reset meanwhile
                return None
            rec.status = StepStatus.RUNNING
            rec.fence += 1
            rec.owner = self.id
            rec.lease_until = now() + self.store.lease
            rec.started_at = rec.started_at if rec.platform_retries and rec.started_at else now()
            try:
                rev = await self.store.cas_step(run_id, step_id, rec, rev)
            except ConflictError:
                continue
            return _Claim(rec, rev)
        await msg.nak(delay=0.1)
        return None

    async def _heartbeat(self, task: dict[str, Any], claim: _Claim, msg: Any, runner: asyncio.Task[Any]) -> None:
        period = max(0.05, self.store.lease / 3)
        while True:
            await asyncio.sleep(period)
            try:
                await msg.in_progress()
            except Exception as err:  # the lease in KV still protects the step
                log.debug("in-progress ack failed: %s", err)
            async with claim.lock:
                rec = dataclasses.replace(claim.rec, lease_until=now() + self.store.lease)
                try:
                    claim.rev = await self.store.cas_step(task["run"], task["step"], rec, claim.rev)
                    claim.rec = rec
                except ConflictError:
                    cur, _ = await self.store.get_step(task["run"], task["step"])
                    if cur.fence != claim.rec.fence or cur.status is not StepStatus.RUNNING:
                        claim.lost = True  # stopped, skipped or taken over: stop working on it
                        runner.cancel()
                        return

    async def _execute(self, task: dict[str, Any], claim: _Claim, msg: Any) -> _Outcome:
        runtime = self.runtimes.get(task["type"])
        ctx = StepContext(
            run_id=task["run"], step_id=task["step"], step_type=task["type"], attempt=claim.rec.attempt,
            fence=claim.rec.fence, params=task.get("params", {}), config=task.get("config", {}),
            steps=task.get("steps", {}), item=task.get("item"), index=task.get("index"), timeout=task.get("timeout"),
        )
        if runtime is None:
            return _Outcome(StepStatus.USER_FAILED, {}, f"no runtime for step type {task['type']!r} on worker {self.id}")
        runner = asyncio.create_task(asyncio.wait_for(runtime.run(ctx), task.get("timeout")))
        beat = asyncio.create_task(self._heartbeat(task, claim, msg, runner))
        try:
            outputs = await runner
            return _Outcome(StepStatus.SUCCEEDED, outputs)
        except asyncio.CancelledError:
            if claim.lost:
                return _Outcome(StepStatus.STOPPED, {}, "fenced")
            raise
        except (asyncio.TimeoutError, RdgTimeoutError):
            return _Outcome(StepStatus.TIMED_OUT, {}, f"step timed out after {task.get('timeout')} s")
        except UserStepError as err:
            return _Outcome(StepStatus.USER_FAILED, {}, str(err), final=err.non_retryable)
        except (RetryableError, ServerError, ConnectionError) as err:
            return _Outcome(StepStatus.PLATFORM_FAILED, {}, str(err))
        except Exception as err:  # the step's own code failed
            return _Outcome(StepStatus.USER_FAILED, {}, f"{type(err).__name__}: {err}")
        finally:
            beat.cancel()
            await asyncio.gather(beat, return_exceptions=True)

    async def _complete(self, task: dict[str, Any], claim: _Claim, outcome: _Outcome) -> tuple[StepRecord, int] | None:
        if claim.lost:
            log.info("worker %s: result of %s.%s dropped (fenced)", self.id, task["run"], task["step"])
            return None
        async with claim.lock:
            rec = attempt_ended(claim.rec, outcome.status, outputs=outcome.outputs, error=outcome.error,
                                final=outcome.final,
                                retry=RetrySpec(**task.get("retry", {})), ignore=bool(task.get("ignore")), now=now(),
                                worker=self.id)
            try:
                rev = await self.store.cas_step(task["run"], task["step"], rec, claim.rev)
            except ConflictError:
                cur, _ = await self.store.get_step(task["run"], task["step"])
                log.info("worker %s: result of %s.%s dropped: the step is now %s (fence %s, ours %s)", self.id,
                         task["run"], task["step"], cur.status.value, cur.fence, claim.rec.fence)
                return None
        return rec, rev
