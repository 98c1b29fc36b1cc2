"""Every action from every run status, on the real NATS server: legal ones work, illegal ones are
refused with the reason and change nothing. Restarts keep history and rerun only what they should."""

from __future__ import annotations

from pathlib import Path

import pytest

from rdg.errors import IllegalActionError, NotFoundError
from rdg.workflow import RUN_ACTIONS, RunAction, RunHandle, RunStatus, StepStatus, get_run, start_run

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

HOLD = """
id: hold
steps:
  - {id: gate, type: sleep, seconds: 30}
  - {id: after, type: noop, depends_on: [gate]}
"""
SEQ = """
id: seq
run_strategy: sequential
steps:
  - {id: gate, type: sleep, seconds: 30}
"""
QUICK = "id: quick\nsteps:\n  - {id: a, type: noop}\n  - {id: b, type: noop, depends_on: [a]}\n"
BAD = "id: bad\nsteps:\n  - {id: a, type: python, callable: tests.workflow.steps:fatal}\n"
SLOWRUN = "id: slowrun\ntimeout: 0.3\nsteps:\n  - {id: a, type: sleep, seconds: 30}\n"


async def _run_in(wf, status: RunStatus) -> RunHandle:
    """A fresh run in the given status."""
    for text in (HOLD, SEQ, QUICK, BAD, SLOWRUN):
        await wf.push(text)
    if status is RunStatus.CREATED:
        await start_run(wf.store, "seq")  # holds the only slot
        handle = await start_run(wf.store, "seq")
        assert await handle.status() is RunStatus.CREATED
        return handle
    if status in (RunStatus.IN_PROGRESS, RunStatus.PAUSED, RunStatus.STOPPED):
        handle = await start_run(wf.store, "hold")
        await wf.step_status(handle, "gate", "RUNNING")
        if status is RunStatus.PAUSED:
            await handle.pause()
        if status is RunStatus.STOPPED:
            await handle.stop()
        return handle
    name = {RunStatus.SUCCEEDED: "quick", RunStatus.FAILED: "bad", RunStatus.TIMED_OUT: "slowrun"}[status]
    handle = await start_run(wf.store, name)
    assert (await handle.wait(timeout=30)).status is status
    return handle


async def _do(handle: RunHandle, action: RunAction) -> None:
    if action is RunAction.SKIP:
        await handle.skip("after" if (await handle.record()).workflow == "hold" else "a")
    elif action is RunAction.PAUSE_STEP:
        await handle.pause_step("after")
    elif action is RunAction.RESUME_STEP:
        await handle.resume_step("after")
    elif action is RunAction.RESTART:
        await handle.restart("beginning")
    else:
        await getattr(handle, action.value)()


@pytest.mark.parametrize("status", list(RunStatus), ids=lambda s: s.value)
async def test_illegal_actions_are_refused_and_change_nothing(wf, status: RunStatus) -> None:
    handle = await _run_in(wf, status)
    for action in RunAction:
        if action in RUN_ACTIONS[status]:
            continue
        before = (await handle.record()).as_dict()
        with pytest.raises(IllegalActionError, match=f"cannot {action.value}") as err:
            await _do(handle, action)
        assert "allowed now:" in str(err.value)
        after = (await handle.record()).as_dict()
        assert after["status"] == before["status"] and after["attempt"] == before["attempt"]
    if status in (RunStatus.IN_PROGRESS, RunStatus.PAUSED):
        await handle.stop()


@pytest.mark.parametrize("status,action,expect", [
    (RunStatus.CREATED, RunAction.STOP, RunStatus.STOPPED),
    (RunStatus.CREATED, RunAction.KILL, RunStatus.FAILED),
    (RunStatus.IN_PROGRESS, RunAction.STOP, RunStatus.STOPPED),
    (RunStatus.IN_PROGRESS, RunAction.KILL, RunStatus.FAILED),
    (RunStatus.IN_PROGRESS, RunAction.PAUSE, RunStatus.PAUSED),
    (RunStatus.PAUSED, RunAction.RESUME, RunStatus.IN_PROGRESS),
    (RunStatus.PAUSED, RunAction.STOP, RunStatus.STOPPED),
    (RunStatus.PAUSED, RunAction.KILL, RunStatus.FAILED),
    (RunStatus.SUCCEEDED, RunAction.RESTART, RunStatus.SUCCEEDED),
    (RunStatus.FAILED, RunAction.RESTART, RunStatus.FAILED),
    (RunStatus.STOPPED, RunAction.RESTART, RunStatus.IN_PROGRESS),
    (RunStatus.TIMED_OUT, RunAction.RESTART, RunStatus.TIMED_OUT),
], ids=lambda v: getattr(v, "value", v))
async def test_legal_run_actions(wf, status: RunStatus, action: RunAction, expect: RunStatus) -> None:
    handle = await _run_in(wf, status)
    await _do(handle, action)
    if action is RunAction.RESTART:
        run = await handle.record()
        assert run.attempt == 2 and run.history[0]["status"] == status.value
        if expect is not RunStatus.IN_PROGRESS:  # the rerun ends the same way
            assert (await handle.wait(timeout=30)).status is expect
        else:
            assert run.status is RunStatus.IN_PROGRESS
            await handle.stop()
        return
    assert (await handle.record()).status is expect
    if expect in (RunStatus.STOPPED, RunStatus.FAILED) and status is not RunStatus.CREATED:
        # the running step is stopped, and the worker's late result (if any) is ignored
        await wf.step_status(handle, "gate", "STOPPED")
    if expect in (RunStatus.IN_PROGRESS, RunStatus.PAUSED):
        await handle.stop()


async def test_a_waiting_run_starts_when_the_running_one_ends(wf) -> None:
    first = await _run_in(wf, RunStatus.CREATED)  # 'seq': one running, this one waiting
    running = [r for r in await wf.store.recent_runs("seq") if r != first.id][0]
    await RunHandle(wf.store, running).stop()
    await wf.step_status(first, "gate", "RUNNING")
    assert await first.status() is RunStatus.IN_PROGRESS
    await first.stop()


async def test_pause_stops_new_steps_and_resume_carries_on(wf) -> None:
    await wf.push("""
id: two
steps:
  - {id: a, type: sleep, seconds: 0.3}
  - {id: b, type: noop, depends_on: [a]}
""")
    handle = await start_run(wf.store, "two")
    await wf.step_status(handle, "a", "RUNNING")
    await handle.pause()
    await wf.step_status(handle, "a", "SUCCEEDED")
    assert (await handle.step("b")).status is StepStatus.NOT_CREATED  # held while paused
    assert await handle.status() is RunStatus.PAUSED
    await handle.resume()
    assert (await handle.wait(timeout=30)).status is RunStatus.SUCCEEDED


async def test_skip_a_running_step_and_the_run_goes_on(wf) -> None:
    handle = await _run_in(wf, RunStatus.IN_PROGRESS)
    await handle.skip("gate")
    run = await handle.wait(timeout=30)
    assert run.status is RunStatus.SUCCEEDED
    assert (await handle.step("gate")).status is StepStatus.SKIPPED
    assert (await handle.step("after")).status is StepStatus.SUCCEEDED


async def test_step_breakpoint_holds_until_resumed(wf) -> None:
    handle = await _run_in(wf, RunStatus.IN_PROGRESS)
    await handle.pause_step("after")
    with pytest.raises(IllegalActionError, match="has not started"):
        await handle.pause_step("gate")  # already running
    await handle.skip("gate")
    await wf.step_status(handle, "after", "PAUSED")
    assert await handle.status() is RunStatus.IN_PROGRESS
    await handle.resume_step("after")
    assert (await handle.wait(timeout=30)).status is RunStatus.SUCCEEDED


async def test_restart_from_failed_steps_reruns_only_those(wf, tmp_path: Path) -> None:
    await wf.push("""
id: partial
params:
  flag: {type: string}
steps:
  - {id: a, type: noop}
  - {id: side, type: noop}
  - {id: b, type: python, callable: tests.workflow.steps:needs_flag, depends_on: [a]}
  - {id: c, type: noop, depends_on: [b]}
""")
    flag = tmp_path / "flag"
    handle = await start_run(wf.store, "partial", {"flag": str(flag)})
    assert (await handle.wait(timeout=30)).status is RunStatus.FAILED
    before = {s: await handle.step(s) for s in ("a", "side", "b", "c")}
    flag.write_text("ok")
    await handle.restart("failed")
    run = await handle.wait(timeout=30)
    assert run.status is RunStatus.SUCCEEDED and run.attempt == 2
    assert [h["status"] for h in run.history] == ["FAILED"]
    after = {s: await handle.step(s) for s in ("a", "side", "b", "c")}
    for kept in ("a", "side"):  # completed in attempt 1: not rerun
        assert after[kept].run_attempt == 1 and after[kept].started_at == before[kept].started_at
    for rerun in ("b", "c"):
        assert after[rerun].run_attempt == 2 and after[rerun].status is StepStatus.SUCCEEDED
    assert after["b"].history[-1]["status"] == "USER_FAILED"  # the failed attempt is kept


async def test_restart_from_a_named_step(wf) -> None:
    handle = await _run_in(wf, RunStatus.SUCCEEDED)  # quick: a -> b
    first_a = await handle.step("a")
    await handle.restart("step", step="b")
    assert (await handle.wait(timeout=30)).status is RunStatus.SUCCEEDED
    assert (await handle.step("a")).started_at == first_a.started_at
    assert (await handle.step("b")).run_attempt == 2
    with pytest.raises(NotFoundError, match="no step 'nope'"):
        await handle.restart("step", step="nope")


async def test_unknown_run_and_nothing_to_restart(wf) -> None:
    with pytest.raises(NotFoundError, match="no run 'does-not-exist'"):
        await get_run(wf.store, "does-not-exist")
    handle = await _run_in(wf, RunStatus.SUCCEEDED)
    with pytest.raises(IllegalActionError, match="no failed steps"):
        await handle.restart("failed")
    assert (await handle.record()).attempt == 1
