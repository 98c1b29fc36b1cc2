"""The engine on the real NATS server: order, conditions, parameters, retries, timeouts, failure
modes, subworkflows, foreach, triggers and fencing."""

from __future__ import annotations

import asyncio
import json

import pytest

from rdg.workflow import Event, RunStatus, StepEnded, StepStatus, Worker, get_run, list_runs, start_run
from rdg.workflow._worker import _Outcome

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


async def test_dependency_order_and_conditions(wf) -> None:
    await wf.push("""
id: diamond
params:
  mode: {type: string, default: fast}
steps:
  - {id: a, type: noop}
  - {id: b, type: sleep, seconds: 0.05, depends_on: [a]}
  - {id: c, type: noop, depends_on: [a]}
  - {id: d, type: noop, depends_on: [b, c]}
  - {id: slow_path, type: noop, depends_on: [d], if: "params.mode == 'slow'"}
  - {id: after_slow, type: noop, depends_on: [slow_path]}
  - {id: fast_path, type: noop, depends_on: [d], if: "params.mode == 'fast'"}
  - {id: join, type: noop, depends_on: [slow_path, fast_path]}
""")
    run = await (await start_run(wf.store, "diamond")).wait(timeout=30)
    assert run.status is RunStatus.SUCCEEDED
    steps = {s["id"]: s for s in (await (await get_run(wf.store, run.id)).describe())["steps"]}
    assert steps["b"]["started_at"] >= steps["a"]["ended_at"]
    assert steps["c"]["started_at"] >= steps["a"]["ended_at"]
    assert steps["d"]["started_at"] >= max(steps["b"]["ended_at"], steps["c"]["ended_at"])
    assert steps["slow_path"]["status"] == "SKIPPED" and steps["slow_path"]["error"] == "condition was false"
    assert steps["after_slow"]["status"] == "SKIPPED"  # reached only through the branch not taken
    assert steps["fast_path"]["status"] == "SUCCEEDED"
    assert steps["join"]["status"] == "SUCCEEDED"  # one branch taken is enough


async def test_malformed_events_are_dropped_and_the_engine_goes_on(wf, caplog: pytest.LogCaptureFixture) -> None:
    await wf.push("id: tiny\nsteps:\n  - {id: a, type: noop}\n")
    for junk in (b"not json", b'{"t": "tea", "run": "r1"}', b'{"t": "step", "run": "r1"}', b"[1, 2]"):
        await wf.store.nc.publish(wf.store.names.events, junk)
    run = await (await start_run(wf.store, "tiny")).wait(timeout=30)
    assert run.status is RunStatus.SUCCEEDED
    assert "dropping a malformed event: unknown event kind 'tea'" in caplog.text
    assert "dropping a malformed event: event 'step' lacks" in caplog.text
    assert "dropping a malformed event: an event is a JSON object, not list" in caplog.text
    assert "Traceback" not in caplog.text


async def test_a_lost_step_event_is_repaired_by_the_reconciliation_pass(wf) -> None:
    """The worker records step a but its event never reaches the engine: the repair pass reads
    the run again (the engine here reconciles every second) and the run goes on."""
    await wf.push("id: pair\nsteps:\n  - {id: a, type: noop}\n  - {id: b, type: noop, depends_on: [a]}\n")
    emit, lost = wf.store.emit, []

    async def losing_emit(event: Event) -> None:
        if isinstance(event, StepEnded) and event.step == "a" and not lost:
            lost.append(event)
            return
        await emit(event)

    wf.store.emit = losing_emit  # type: ignore[method-assign]
    run = await (await start_run(wf.store, "pair")).wait(timeout=30)
    assert lost and run.status is RunStatus.SUCCEEDED


async def test_parameters_flow_between_steps(wf) -> None:
    await wf.push("""
id: flow
params:
  n: {type: int, default: 2}
  label: {type: string, default: "x; rm -rf /"}
steps:
  - id: produce
    type: python
    callable: tests.workflow.steps:produce
  - id: consume
    type: python
    callable: tests.workflow.steps:consume
    depends_on: [produce]
    params: {factor: "${{ steps.produce.rows * params.n }}"}
  - id: shell
    type: shell
    depends_on: [consume]
    command: 'printf "%s|%s" "$RDG_P_LABEL" "$RDG_P_SEEN"'
    params: {seen: "${{ steps.consume.seen_rows }}"}
""")
    run = await (await start_run(wf.store, "flow", {"n": 3})).wait(timeout=30)
    assert run.status is RunStatus.SUCCEEDED, run.reason
    handle = await get_run(wf.store, run.id)
    assert (await handle.step("produce")).outputs == {"rows": 30, "ids": [0, 1, 2]}
    consume = (await handle.step("consume")).outputs
    assert consume["seen_rows"] == 30 and consume["factor"] == 90
    # The parameter reached the command as environment, never as command text.
    assert (await handle.step("shell")).outputs["stdout"] == "x; rm -rf /|30"


async def test_user_retries_back_off_then_succeed(wf) -> None:
    await wf.push("""
id: flaky
steps:
  - id: f
    type: python
    callable: tests.workflow.steps:flaky
    params: {succeed_on: 3}
    retry: {user: 2, backoff: 0.2, factor: 2}
""")
    run = await (await start_run(wf.store, "flaky")).wait(timeout=30)
    assert run.status is RunStatus.SUCCEEDED
    rec = await (await get_run(wf.store, run.id)).step("f")
    assert rec.attempt == 3 and rec.user_retries == 2 and rec.outputs == {"attempt": 3}
    assert [h["status"] for h in rec.history] == ["USER_FAILED", "USER_FAILED"]
    # Backoff: attempt 2 started no sooner than 0.2 s after attempt 1 ended, attempt 3 0.4 s after 2.
    assert rec.history[1]["started_at"] - rec.history[0]["ended_at"] >= 0.2
    assert rec.started_at - rec.history[1]["ended_at"] >= 0.4


async def test_retries_exhausted_fail_the_run(wf) -> None:
    await wf.push("""
id: flaky2
steps:
  - {id: f, type: python, callable: tests.workflow.steps:flaky, params: {succeed_on: 9}, retry: {user: 1, backoff: 0.05}}
  - {id: never, type: noop, depends_on: [f]}
""")
    run = await (await start_run(wf.store, "flaky2")).wait(timeout=30)
    assert run.status is RunStatus.FAILED and "step 'f' USER_FAILED" in run.reason
    handle = await get_run(wf.store, run.id)
    assert (await handle.step("f")).attempt == 2
    assert (await handle.step("never")).status is StepStatus.NOT_CREATED


async def test_platform_and_user_limits_are_separate(wf) -> None:
    await wf.push("""
id: limits
steps:
  - {id: down, type: python, callable: tests.workflow.steps:platform_down, retry: {user: 0, platform: 2, backoff: 0.05}}
  - {id: fatal, type: python, callable: tests.workflow.steps:fatal, retry: {user: 5, backoff: 0.05}, on_failure: ignore}
""")
    run = await (await start_run(wf.store, "limits")).wait(timeout=30)
    handle = await get_run(wf.store, run.id)
    down = await handle.step("down")
    assert down.status is StepStatus.PLATFORM_FAILED and down.attempt == 3 and down.platform_retries == 2
    fatal = await handle.step("fatal")  # non-retryable: one attempt despite user: 5
    assert fatal.status is StepStatus.COMPLETED_WITH_ERROR and fatal.attempt == 1
    assert run.status is RunStatus.FAILED


async def test_step_timeout_and_run_timeout(wf) -> None:
    await wf.push("""
id: slowstep
steps:
  - {id: s, type: sleep, seconds: 30, timeout: 0.3}
""")
    await wf.push("""
id: slowrun
timeout: 0.5
steps:
  - {id: s, type: sleep, seconds: 30}
""")
    r1 = await (await start_run(wf.store, "slowstep")).wait(timeout=30)
    assert r1.status is RunStatus.FAILED
    assert (await (await get_run(wf.store, r1.id)).step("s")).status is StepStatus.TIMED_OUT
    r2 = await (await start_run(wf.store, "slowrun")).wait(timeout=30)
    assert r2.status is RunStatus.TIMED_OUT
    assert (await (await get_run(wf.store, r2.id)).step("s")).status is StepStatus.STOPPED


async def test_failure_modes(wf) -> None:
    await wf.push("""
id: modes
steps:
  - {id: bad, type: python, callable: tests.workflow.steps:fatal, on_failure: fail}
  - {id: long, type: sleep, seconds: 0.6}
  - {id: after_bad, type: noop, depends_on: [bad]}
""")
    run = await (await start_run(wf.store, "modes")).wait(timeout=30)
    handle = await get_run(wf.store, run.id)
    assert run.status is RunStatus.FAILED
    assert (await handle.step("long")).status is StepStatus.STOPPED  # fail: stop what runs, at once

    await wf.push("""
id: modes2
steps:
  - {id: bad, type: python, callable: tests.workflow.steps:fatal, on_failure: finish_running}
  - {id: long, type: sleep, seconds: 0.6}
  - {id: after_bad, type: noop, depends_on: [bad]}
""")
    run = await (await start_run(wf.store, "modes2")).wait(timeout=30)
    handle = await get_run(wf.store, run.id)
    assert run.status is RunStatus.FAILED
    assert (await handle.step("long")).status is StepStatus.SUCCEEDED  # allowed to finish
    assert (await handle.step("after_bad")).status is StepStatus.NOT_CREATED

    await wf.push("""
id: modes3
steps:
  - {id: bad, type: python, callable: tests.workflow.steps:fatal, on_failure: ignore}
  - {id: after_bad, type: noop, depends_on: [bad]}
""")
    run = await (await start_run(wf.store, "modes3")).wait(timeout=30)
    handle = await get_run(wf.store, run.id)
    assert run.status is RunStatus.SUCCEEDED
    assert (await handle.step("bad")).status is StepStatus.COMPLETED_WITH_ERROR
    assert (await handle.step("after_bad")).status is StepStatus.SUCCEEDED


async def test_subworkflow_wait_and_fire_and_forget(wf) -> None:
    await wf.push("""
id: child
params:
  n: {type: int}
steps:
  - {id: p, type: python, callable: tests.workflow.steps:produce}
""")
    await wf.push("""
id: parent
steps:
  - {id: sub, type: subworkflow, workflow: child, params: {n: 4}}
  - {id: bg, type: subworkflow, workflow: child, wait: false, params: {n: 1}}
  - {id: after, type: noop, depends_on: [sub]}
""")
    run = await (await start_run(wf.store, "parent")).wait(timeout=30)
    assert run.status is RunStatus.SUCCEEDED
    handle = await get_run(wf.store, run.id)
    sub = await handle.step("sub")
    child = await (await get_run(wf.store, sub.child)).wait(timeout=10)
    assert child.status is RunStatus.SUCCEEDED and child.params == {"n": 4}
    assert sub.ended_at >= child.ended_at  # waited for the child
    bg = await handle.step("bg")
    assert bg.outputs == {"run_id": bg.child}
    assert (await (await get_run(wf.store, bg.child)).wait(timeout=10)).status is RunStatus.SUCCEEDED


async def test_foreach_of_1000_iterations(wf) -> None:
    await wf.push("""
id: fan
params:
  size: {type: int, default: 1000}
steps:
  - id: each
    type: foreach
    over: "range(params.size)"
    concurrency: 100
    steps:
      - {id: work, type: noop}
  - {id: done, type: noop, depends_on: [each]}
""")
    run = await (await start_run(wf.store, "fan")).wait(timeout=100)
    assert run.status is RunStatus.SUCCEEDED, run.reason
    each = await (await get_run(wf.store, run.id)).step("each")
    assert each.outputs == {"total": 1000, "ok": 1000, "failed": 0}
    assert each.fanout["next"] == 1000 and each.fanout["running"] == 0
    last = await get_run(wf.store, f"{run.id}.each.1-1.999")
    assert (await last.record()).status is RunStatus.SUCCEEDED and (await last.record()).item == 999


async def test_foreach_over_a_list_with_child_params_and_failures(wf) -> None:
    await wf.push("""
id: fanlist
params:
  items: {type: list}
steps:
  - id: each
    type: foreach
    over: "params.items"
    concurrency: 2
    child_params: {succeed_on: "${{ item }}"}
    steps:
      - {id: f, type: python, callable: tests.workflow.steps:flaky}
    on_failure: ignore
""")
    run = await (await start_run(wf.store, "fanlist", {"items": [1, 1, 5, 1]})).wait(timeout=30)
    assert run.status is RunStatus.SUCCEEDED
    each = await (await get_run(wf.store, run.id)).step("each")
    assert each.status is StepStatus.COMPLETED_WITH_ERROR
    assert each.outputs == {"total": 4, "ok": 3, "failed": 1}


async def test_cron_trigger_starts_a_run(wf) -> None:
    await wf.push("""
id: ticker
triggers: {cron: ["* * * * * *"]}
steps: [{id: a, type: noop}]
""")
    for _ in range(300):
        runs = await list_runs(wf.store, "ticker")
        if runs and runs[-1]["status"] == "SUCCEEDED":
            break
        await asyncio.sleep(0.05)
    assert runs and runs[-1]["trigger"] == "cron" and runs[-1]["status"] == "SUCCEEDED"


async def test_signal_trigger_starts_a_run_with_its_params(wf) -> None:
    await wf.push("""
id: on_ready
params:
  day: {type: string, default: none}
triggers: {signals: [data_ready]}
steps: [{id: a, type: noop}]
""")
    await wf.store.publish_signal("data_ready", {"day": "2024-06-01", "unrelated": 1})
    for _ in range(300):
        runs = await list_runs(wf.store, "on_ready")
        if runs:
            break
        await asyncio.sleep(0.05)
    assert runs and runs[0]["trigger"] == "signal:data_ready"
    run = await (await get_run(wf.store, runs[0]["id"])).wait(timeout=10)
    assert run.status is RunStatus.SUCCEEDED and run.params == {"day": "2024-06-01"}


class _Msg:
    """Stands in for a JetStream delivery so the test can hand one work item to two workers."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.acked = False

    async def ack(self) -> None:
        self.acked = True

    async def nak(self, delay: float | None = None) -> None:
        pass

    async def in_progress(self) -> None:
        pass


async def test_a_late_result_from_a_fenced_worker_is_ignored(wf) -> None:
    wf.worker.stop()  # take the in-process worker away; this test plays the workers itself
    await asyncio.sleep(0.1)
    await wf.push("id: fence\nsteps: [{id: s, type: noop}]\n")
    handle = await start_run(wf.store, "fence")
    await wf.step_status(handle, "s", "QUEUED")
    sub = await wf.store.pull("tasks", "workers")
    [delivery] = await sub.fetch(1, timeout=5)
    await delivery.ack()
    task = json.loads(delivery.data)

    slow, fast = Worker(wf.store, name="slow"), Worker(wf.store, name="fast")
    claim = await slow._claim(task, _Msg(delivery.data))  # the slow worker claims, then stalls
    assert claim is not None and claim.rec.fence == 1
    rec, rev = await wf.store.get_step(handle.id, "s")
    rec.lease_until = 0.0  # its lease runs out (as if no heartbeat came for the ack wait)
    await wf.store.cas_step(handle.id, "s", rec, rev)

    await fast.handle(_Msg(delivery.data))  # redelivered: the fast worker takes over and completes
    done = await handle.step("s")
    assert done.status is StepStatus.SUCCEEDED and done.owner == "fast" and done.fence == 2
    assert done.platform_retries == 1

    late = await slow._complete(task, claim, _Outcome(StepStatus.SUCCEEDED, {"late": True}))
    assert late is None  # its compare-and-set lost: the late result is dropped
    again = await handle.step("s")
    assert again.outputs == {} and again.owner == "fast" and again.fence == 2
    assert (await handle.wait(timeout=10)).status is RunStatus.SUCCEEDED


async def test_a_new_engine_adopts_runs_waiting_on_a_timer(wf) -> None:
    import time

    from rdg.workflow import Engine

    wf.engine.stop()  # the first engine goes away while a step waits for its retry
    await asyncio.sleep(0.1)
    await wf.push("""
id: adopt
steps:
  - {id: f, type: python, callable: tests.workflow.steps:flaky, params: {succeed_on: 2}, retry: {user: 1, backoff: 600}}
""")
    first = Engine(wf.store)
    task = asyncio.create_task(first.run())
    handle = await start_run(wf.store, "adopt")
    await wf.step_status(handle, "f", "WAITING_RETRY")
    first.stop()
    await asyncio.gather(task, return_exceptions=True)
    # The backoff is 600 s, so however slowly the first engine stopped, the run still waits on
    # its timer here. The second engine's clock runs 600 s ahead: the retry is due at once.
    assert (await handle.step("f")).status is StepStatus.WAITING_RETRY
    second = Engine(wf.store, clock=lambda: time.time() + 600)  # knows nothing of the run; no event will come for it
    assert await second.adopt() == 1
    task = asyncio.create_task(second.run())
    try:
        assert (await handle.wait(timeout=30)).status is RunStatus.SUCCEEDED
    finally:
        second.stop()
        await asyncio.gather(task, return_exceptions=True)
