"""What an engine holds per run while it works on it, and the definition a run follows."""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Mapping

from rdg.errors import NotFoundError
from rdg.spec import (
    WorkflowSpec,
)
from rdg.workflow._models import (
    RunRecord,
    StepRecord,
)
from rdg.workflow._store import Store

__all__ = ["PAGE", "EnginePart", "RunState", "StepTable", "attempt_tag", "spec_for_run"]

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


def attempt_tag(rec: StepRecord) -> str:
    return f"{rec.run_attempt}-{rec.attempt}"


class StepTable(dict):  # type: ignore[type-arg]
    """Each step's ``[record, revision]`` by step id, with the records alone kept beside them in
    a plain dict (:attr:`records`): what :func:`rdg.workflow._decide.decide` reads on every event,
    so it scans a dict in C instead of unpacking pairs (a run of 1,000 steps is decided often)."""

    def __init__(self, pairs: Mapping[str, list[Any]] | None = None) -> None:
        super().__init__()
        self.records: dict[str, StepRecord] = {}
        for step_id, pair in (pairs or {}).items():
            self[step_id] = pair

    def __setitem__(self, step_id: str, pair: list[Any]) -> None:
        super().__setitem__(step_id, pair)
        self.records[step_id] = pair[0]


class RunState:
    def __init__(self, run_id: str) -> None:
        self.id = run_id
        self.lock = asyncio.Lock()
        self.loaded = False
        self.closed = False
        self.run: RunRecord
        self.rev = 0
        self.spec: WorkflowSpec
        self._steps = StepTable()
        self.inbox: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self.touched = 0.0
        """When the last event for this run arrived (the reconciliation pass skips busy runs)."""

    @property
    def steps(self) -> StepTable:
        """Each step's ``[record, revision]`` by step id, in definition order."""
        return self._steps

    @steps.setter
    def steps(self, pairs: Mapping[str, list[Any]]) -> None:
        self._steps = StepTable(pairs)

    @property
    def records(self) -> Mapping[str, StepRecord]:
        """Each step's record by step id, in definition order (kept in step with :attr:`steps`)."""
        return self._steps.records


class EnginePart:
    """What every part of the engine reads (set by ``Engine.__init__``); the parts are mixins."""

    store: Store
    clock: Callable[[], float]
    cron_refresh: float
    _cache: Any
    _pages: Any
    _timers: dict[str, float]
    _stop: asyncio.Event
