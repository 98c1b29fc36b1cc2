"""The contract between the worker (which runs steps) and step runtimes (what a step does).

Like Maestro's ``FlowTask``, the low layer defines the interface and the high layer fills it:
the worker knows nothing about shell commands or HTTP, only :class:`StepRuntime`.

>>> ctx = StepContext(run_id="r1", step_id="s", step_type="noop", attempt=1, fence=1, params={"n": 2})
>>> ctx.params["n"]
2
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, runtime_checkable

__all__ = ["StepContext", "StepRuntime"]


@dataclass(frozen=True)
class StepContext:
    """Everything one attempt of a step may read."""

    run_id: str
    step_id: str
    step_type: str
    attempt: int
    """Attempt number within this run attempt (1 for the first)."""
    fence: int
    """Claim token: unique per claim of this step; a side effect keyed by (run, step) can record it."""
    params: Mapping[str, Any] = field(default_factory=dict)
    """The run's parameters overlaid with the step's own (templates already evaluated)."""
    config: Mapping[str, Any] = field(default_factory=dict)
    """The step type's fields (``command``, ``url``...), templates already evaluated."""
    steps: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Outputs of the steps that ran before this one, by step id."""
    item: Any = None
    """The foreach item this child run was started for (``None`` outside a foreach)."""
    index: int | None = None
    timeout: float | None = None

    @property
    def key(self) -> str:
        """A stable identity for this step in this run: use it to make side effects idempotent."""
        return f"{self.run_id}.{self.step_id}"


@runtime_checkable
class StepRuntime(Protocol):
    """Runs one attempt of one step type.

    Return the step's outputs (a JSON-ready dict). Raise :class:`rdg.errors.UserStepError` (or
    any exception) for a failure of the step's own work, counted against ``retry.user``;
    raise :class:`rdg.errors.RetryableError` for a platform failure, counted against
    ``retry.platform``.
    """

    async def run(self, ctx: StepContext) -> dict[str, Any]:
        """Run one attempt."""
        ...
