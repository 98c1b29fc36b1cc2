"""Who runs now: a workflow's run strategy as two pure decisions over its active list.

A workflow that is not plain unlimited ``parallel`` keeps ``active.<workflow>`` in KV: the runs
that hold a slot and the runs waiting for one, oldest first. :func:`admit` decides for a new run
and :func:`release` for a run that ended; the client and the engine apply them with one
compare-and-set each (:meth:`rdg.workflow.Store.update_json`), so this file is the only place
the strategies are written down.

>>> active, status, stop = admit(Active(["r1"], []), RunStrategy.SEQUENTIAL, 0, "r2")
>>> active, status.value, stop
(Active(running=['r1'], waiting=['r2']), 'CREATED', [])
>>> release(active, RunStrategy.SEQUENTIAL, 0, "r1")
(Active(running=['r2'], waiting=[]), ['r2'])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rdg.spec import RunStrategy
from rdg.workflow._models import RunStatus

__all__ = ["Active", "admit", "limit", "release"]


@dataclass
class Active:
    """The runs holding a slot and the runs waiting for one (``active.<workflow>`` in KV)."""

    running: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, doc: Any) -> "Active":
        doc = doc or {}
        return cls(list(doc.get("running", [])), list(doc.get("waiting", [])))

    def as_json(self) -> dict[str, list[str]]:
        return {"running": self.running, "waiting": self.waiting}


def limit(strategy: RunStrategy, max_parallel: int) -> int:
    """Runs that may hold a slot at once: 1 for ``sequential``, else ``max_parallel`` (at least 1).

    >>> limit(RunStrategy.SEQUENTIAL, 5), limit(RunStrategy.PARALLEL, 3), limit(RunStrategy.PARALLEL, 0)
    (1, 3, 1)
    """
    return 1 if strategy is RunStrategy.SEQUENTIAL else (max_parallel or 1)


def admit(active: Active, strategy: RunStrategy, max_parallel: int,
          run_id: str) -> tuple[Active, RunStatus, list[str]]:
    """A new run's fate: ``(active list after, its status, runs to stop)``.

    ``first_only``: refused (``STOPPED``) while another runs; ``last_only``: it runs and every
    running one is stopped; ``sequential``/``parallel``: it runs if a slot is free, else waits
    (``CREATED``) in line.
    """
    after = Active(list(active.running), list(active.waiting))
    if strategy is RunStrategy.FIRST_ONLY:
        if after.running:
            return after, RunStatus.STOPPED, []
        after.running.append(run_id)
        return after, RunStatus.IN_PROGRESS, []
    if strategy is RunStrategy.LAST_ONLY:
        return Active([run_id], after.waiting), RunStatus.IN_PROGRESS, after.running
    if len(after.running) < limit(strategy, max_parallel):
        after.running.append(run_id)
        return after, RunStatus.IN_PROGRESS, []
    after.waiting.append(run_id)
    return after, RunStatus.CREATED, []


def release(active: Active, strategy: RunStrategy, max_parallel: int, run_id: str) -> tuple[Active, list[str]]:
    """A run ended: ``(active list after, waiting runs to start now)``, oldest first."""
    running = [r for r in active.running if r != run_id]
    waiting = [r for r in active.waiting if r != run_id]
    promote: list[str] = []
    if strategy in (RunStrategy.SEQUENTIAL, RunStrategy.PARALLEL):
        while waiting and len(running) < limit(strategy, max_parallel):
            promote.append(waiting.pop(0))
            running.append(promote[-1])
    return Active(running, waiting), promote
