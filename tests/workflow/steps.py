"""Python step functions the workflow tests run (imported by workers as tests.workflow.steps)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from rdg.errors import RetryableError, UserStepError
from rdg.workflow import StepContext


def produce(ctx: StepContext) -> dict[str, Any]:
    n = int(ctx.params["n"])
    return {"rows": n * 10, "ids": list(range(n))}


def consume(ctx: StepContext) -> dict[str, Any]:
    return {"seen_rows": ctx.steps["produce"]["rows"], "factor": ctx.params["factor"], "item": ctx.item}


def flaky(ctx: StepContext) -> dict[str, Any]:
    """Fails (a user error) until attempt ``succeed_on``."""
    if ctx.attempt < int(ctx.params["succeed_on"]):
        raise ValueError(f"attempt {ctx.attempt} fails on purpose")
    return {"attempt": ctx.attempt}


def platform_down(ctx: StepContext) -> dict[str, Any]:
    raise RetryableError("the service is down (on purpose)")


def fatal(ctx: StepContext) -> dict[str, Any]:
    raise UserStepError("bad input (on purpose)", non_retryable=True)


def needs_flag(ctx: StepContext) -> dict[str, Any]:
    """Fails until the file named by ``params.flag`` exists (so a restart can succeed)."""
    if not Path(ctx.params["flag"]).exists():
        raise UserStepError("flag file missing", non_retryable=True)
    return {"ok": True}


def ledger(ctx: StepContext) -> dict[str, Any]:
    """An idempotent-aware side effect for the kill -9 test.

    Every execution appends one line to ``executions.log`` (so the test can see re-executions
    after kills); the side effect itself, ``ledger/<key>``, is created at most once per step
    identity (O_EXCL), recording the fence of the claim that made it.
    """
    root = Path(ctx.params["ledger"])
    with open(root / "executions.log", "a") as log:
        log.write(f"{ctx.key} {ctx.fence} {os.getpid()}\n")
    time.sleep(float(ctx.params.get("work_s", 0.02)))
    try:
        fd = os.open(root / "ledger" / ctx.key, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return {"fence": ctx.fence, "first": False}
    with os.fdopen(fd, "w") as out:
        out.write(str(ctx.fence))
    return {"fence": ctx.fence, "first": True}
