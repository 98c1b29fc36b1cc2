"""What an engine holds per run while it works on it, and the definition a run follows."""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Iterator, Mapping

from rdg.errors import NotFoundError
from rdg.spec import (
    WorkflowSpec,
)
from rdg.workflow._models import (
    RunRecord,
    StepRecord,
)
from rdg.workflow._store import Store

__all__ = ["PAGE", "EnginePart", "RunState", "attempt_tag", "spec_for_run"]

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


class _Records(Mapping[str, StepRecord]):
    """The step records of a run state as a read-only mapping (no copy: a run of 1,000 steps is
    decided on every event)."""

    def __init__(self, steps: dict[str, list[Any]]) -> None:
        self._steps = steps

    def __getitem__(self, step_id: str) -> StepRecord:
        return self._steps[step_id][0]

    def __iter__(self) -> Iterator[str]:
        return iter(self._steps)

    def __len__(self) -> int:
        return len(self._steps)


class RunState:
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

    @property
    def records(self) -> Mapping[str, StepRecord]:
        """Each step's record by step id (a view of ``steps``, whose values are ``[record, revision]``)."""
        return _Records(self.steps)


class EnginePart:
    """What every part of the engine reads (set by ``Engine.__init__``); the parts are mixins."""

    store: Store
    clock: Callable[[], float]
    cron_refresh: float
    _cache: Any
    _pages: Any
    _timers: dict[str, float]
    _stop: asyncio.Event
