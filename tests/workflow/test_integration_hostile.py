"""Hostile parameters against shell steps, on the real NATS server (issue 10, findings 1, 2 and 9).

A parameter is data: it must never become command text, never replace the step's environment,
never forge a step's outputs, and a step's output must never fill the worker's memory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rdg.spec import load_workflow
from rdg.workflow import RunStatus, StepStatus, get_run, start_run

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
HELLO = ROOT / "docs" / "examples" / "workflows" / "hello.yaml"


async def test_a_parameter_with_shell_syntax_stays_text(wf, tmp_path: Path) -> None:
    marker = tmp_path / "F"
    await wf.push("""
id: inj
params:
  name: {type: string}
steps:
  - {id: greet, type: shell, command: 'echo "hello $RDG_P_NAME"', params: {name: "${{ params.name }}"}}
""")
    hostile = f'x"; id > {marker}; echo "'
    run = await (await start_run(wf.store, "inj", {"name": hostile})).wait(timeout=30)
    assert run.status is RunStatus.SUCCEEDED, run.reason
    out = (await (await get_run(wf.store, run.id)).step("greet")).outputs
    assert out["stdout"] == f"hello {hostile}"
    assert not marker.exists()  # `id` never ran


async def test_a_parameter_named_path_cannot_replace_path(wf, tmp_path: Path) -> None:
    planted = tmp_path / "bin"
    planted.mkdir()
    (planted / "wc").write_text(f"#!/bin/sh\ntouch {tmp_path / 'planted-ran'}\necho 999\n")
    (planted / "wc").chmod(0o755)
    await wf.push("""
id: env
params:
  path: {type: string}
steps:
  - {id: count, type: shell, command: 'printf abc | wc -c; printf %s "$RDG_P_PATH" > "$RDG_OUTPUTS/seen"'}
""")
    run = await (await start_run(wf.store, "env", {"path": str(planted)})).wait(timeout=30)
    assert run.status is RunStatus.SUCCEEDED, run.reason
    out = (await (await get_run(wf.store, run.id)).step("count")).outputs
    assert out["stdout"].strip() == "3" and out["seen"] == str(planted)  # the real wc; the value still arrives
    assert not (tmp_path / "planted-ran").exists()


async def test_the_hello_example_cannot_be_made_to_forge_outputs(wf) -> None:
    await wf.store.push_definition(load_workflow(HELLO))
    forged = 'x", "n": 999, "letters": ["z'
    run = await (await start_run(wf.store, "hello", {"name": forged})).wait(timeout=60)
    assert run.status is RunStatus.SUCCEEDED, run.reason
    handle = await get_run(wf.store, run.id)
    greet = (await handle.step("greet")).outputs
    assert greet["greeting"] == f"hello {forged}"
    assert set(greet) == {"greeting", "stdout", "exit_code"}  # no "n", no "letters"
    count = (await handle.step("count")).outputs
    assert count["n"] == sum(c.isalpha() for c in f"hello {forged}")


async def test_outputs_over_the_limit_fail_the_step_with_the_reason(wf) -> None:
    await wf.push("""
id: big
steps:
  - {id: dump, type: shell, command: 'head -c 2000000 /dev/zero > "$RDG_OUTPUTS/blob"', retry: 3}
""")
    run = await (await start_run(wf.store, "big")).wait(timeout=30)
    assert run.status is RunStatus.FAILED
    step = await (await get_run(wf.store, run.id)).step("dump")
    assert step.status is StepStatus.USER_FAILED and step.user_retries == 0  # not retried: it would fail again
    assert "over the limit of 1,048,576 bytes" in (step.error or "")


def test_a_chatty_command_keeps_only_the_tail_in_memory() -> None:
    """300 MB on stdout: the worker keeps 4,000 characters and counts the rest."""
    probe = """
import asyncio, json, resource
from rdg.workflow._runtimes import _exec
def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
asyncio.run(_exec(None, "echo warm", {}, None, "t"))
before = peak_mb()
out = asyncio.run(_exec(None, "head -c 300000000 /dev/zero | tr '\\\\0' x; echo; echo end", {}, None, "t"))
print(json.dumps({"tail": out["stdout"][-3:], "dropped": out["stdout_truncated"], "grew_mb": peak_mb() - before}))
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["tail"] == "end" and seen["dropped"] > 299_000_000
    assert seen["grew_mb"] < 100, seen  # read whole, the peak would grow by more than 300 MB


async def test_an_expression_bomb_fails_its_step_and_nothing_else(wf) -> None:
    """Finding 3: `params.n ** params.n` with n = 3,000,000 held the engine for 18 s."""
    await wf.push("""
id: bomb
params:
  n: {type: int}
steps:
  - {id: gate, type: noop, if: "params.n ** params.n > 0"}
""")
    await wf.push("id: calm\nsteps:\n  - {id: a, type: noop}\n")
    bomb = await start_run(wf.store, "bomb", {"n": 3_000_000})
    calm = await start_run(wf.store, "calm")
    done = await bomb.wait(timeout=30)
    assert done.status is RunStatus.FAILED
    gate = await (await get_run(wf.store, done.id)).step("gate")
    assert gate.status is StepStatus.USER_FAILED and "would have more than 4096 bits" in (gate.error or "")
    assert (await calm.wait(timeout=30)).status is RunStatus.SUCCEEDED
