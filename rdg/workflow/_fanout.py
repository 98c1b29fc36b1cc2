"""Steps the engine runs itself: ``foreach`` (a child run per item, counted in KV pages) and
``subworkflow`` (one child run). Mixed into :class:`rdg.workflow.Engine`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

from rdg.errors import ConflictError, NotFoundError
from rdg.spec import (
    ExpressionError,
    FailureMode,
    StepSpec,
    StepType,
    evaluate_async,
    render_async,
)
from rdg.workflow._events import ChildEnded, RunStarted
from rdg.workflow._models import (
    RunRecord,
    RunStatus,
    StepRecord,
    StepStatus,
)
from rdg.workflow._run_state import PAGE, EnginePart, RunState, attempt_tag

__all__ = ["FanOut"]

log = logging.getLogger("rdg.workflow.engine")


class FanOut(EnginePart):
    """Child runs of foreach and subworkflow steps (a mixin of :class:`rdg.workflow.Engine`)."""


    async def _start_foreach(self, st: RunState, step: StepSpec, rec: StepRecord, names: dict[str, Any]) -> None:
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
            tag = attempt_tag(rec)
            writes = [self.store.put_items(f"fi.{st.id}.{step.id}.{tag}.{p}", list(over[p * PAGE:(p + 1) * PAGE]))
                      for p in range((len(over) + PAGE - 1) // PAGE)]
            await asyncio.gather(*writes)
        else:
            await self._fail_step(st, step, StepStatus.USER_FAILED,
                                  f"over: expected a list or a number, got {type(over).__name__}")
            return
        fan.update(next=0, running=0, ok=0, failed=0)
        rec = dataclasses.replace(rec, status=StepStatus.RUNNING, started_at=self.clock(), fanout=fan)
        await self._fanout(st, step, rec, names)

    async def _item(self, st: RunState, step: StepSpec, rec: StepRecord, index: int) -> Any:
        fan = rec.fanout
        if not fan.get("list"):
            return fan.get("r0", 0) + index * fan.get("rs", 1)
        key = f"fi.{st.id}.{step.id}.{attempt_tag(rec)}.{index // PAGE}"
        page = self._pages.get(key)
        if page is None:
            page = await self.store.get_items(key)
            self._pages[key] = page
            while len(self._pages) > 8:
                self._pages.popitem(last=False)
        return page[index % PAGE]

    async def _fanout(self, st: RunState, step: StepSpec, rec: StepRecord, names: dict[str, Any] | None) -> None:
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

    async def _child(self, st: RunState, step: StepSpec, rec: StepRecord, index: int,
                     names: dict[str, Any]) -> RunRecord:
        item = await self._item(st, step, rec, index)
        scope = {**names, "item": item, "index": index}
        extra = await render_async(dict(step.config.get("child_params") or {}), scope)
        started = self.clock()
        parent = {"run": st.id, "step": step.id, "index": index}
        run_id = f"{st.id}.{step.id}.{attempt_tag(rec)}.{index}"
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

    async def _on_children(self, st: RunState, events: list[ChildEnded]) -> set[str]:
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
            tag = attempt_tag(rec)
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

    async def _start_sub(self, st: RunState, step: StepSpec, rec: StepRecord, names: dict[str, Any]) -> None:
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
        child_id = f"{st.id}.{step.id}.{attempt_tag(rec)}"
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
