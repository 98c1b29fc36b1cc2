"""Step runtimes: noop, sleep, python, shell, http and pipeline (foreach and subworkflow are run
by the engine itself, since they only start child runs).

Parameters reach shell commands and pipelines as environment variables, never spliced into the
command text.

>>> import asyncio
>>> ctx = StepContext("r", "s", "shell", 1, 1, params={"who": "world"}, config={"command": 'echo "hi $WHO"'})
>>> asyncio.run(RUNTIMES["shell"].run(ctx))["stdout"]
'hi world'
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import os
import signal
import sys
from typing import Any, Callable, Mapping

from rdg.errors import RetryableError, UserStepError
from rdg.workflow._task import StepContext, StepRuntime

__all__ = ["RUNTIMES", "env_for", "load_callable"]

_TAIL = 4000


def load_callable(path: str) -> Callable[..., Any]:
    """Import ``package.module:function`` (or ``package.module.function``).

    Raises:
        UserStepError: The module or function cannot be found (not retried).
    """
    module_name, _, attr = path.partition(":") if ":" in path else path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
        func = getattr(module, attr)
    except (ImportError, AttributeError) as err:
        raise UserStepError(f"cannot load callable {path!r}: {err}", non_retryable=True,
                            hint="is the module on PYTHONPATH of the worker?") from err
    if not callable(func):
        raise UserStepError(f"{path!r} is not callable", non_retryable=True)
    return func


def env_for(params: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The environment a command sees: ours, plus each parameter as ``NAME`` (upper case).

    >>> env_for({"day": "mon", "n": 3, "ids": [1, 2]})["IDS"]
    '[1, 2]'
    """
    env = dict(os.environ)
    for source in (params, extra or {}):
        for name, value in source.items():
            env[str(name).upper()] = value if isinstance(value, str) else json.dumps(value)
    return env


def _outputs_from(stdout: str) -> dict[str, Any]:
    out: dict[str, Any] = {"stdout": stdout[-_TAIL:].rstrip("\n")}
    last = stdout.strip().splitlines()[-1] if stdout.strip() else ""
    if last.startswith("{"):
        try:
            parsed = json.loads(last)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            out.update(parsed)
    return out


async def _exec(argv: list[str] | None, command: str | None, env: dict[str, str], cwd: str | None,
                what: str) -> dict[str, Any]:
    if argv is not None:
        proc = await asyncio.create_subprocess_exec(*argv, env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE, start_new_session=True)
    else:
        proc = await asyncio.create_subprocess_shell(command or "", env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE,
                                                     stderr=asyncio.subprocess.PIPE, start_new_session=True)
    try:
        out, err = await proc.communicate()
    except asyncio.CancelledError:  # timeout, stop or fencing: take the whole process group down
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        await proc.wait()
        raise
    stdout = out.decode(errors="replace")
    if proc.returncode != 0:
        tail = err.decode(errors="replace").strip()[-_TAIL:] or stdout.strip()[-_TAIL:]
        raise UserStepError(f"{what} exited with code {proc.returncode}: {tail}")
    outputs = _outputs_from(stdout)
    outputs["exit_code"] = 0
    return outputs


class _Noop:
    async def run(self, ctx: StepContext) -> dict[str, Any]:
        return {}


class _Sleep:
    async def run(self, ctx: StepContext) -> dict[str, Any]:
        seconds = float(ctx.config.get("seconds", 0))
        await asyncio.sleep(seconds)
        return {"slept": seconds}


class _Python:
    async def run(self, ctx: StepContext) -> dict[str, Any]:
        func = load_callable(str(ctx.config["callable"]))
        result = func(ctx)
        if inspect.isawaitable(result):
            result = await result
        if result is None:
            return {}
        return result if isinstance(result, dict) else {"result": result}


class _ThreadedPython(_Python):
    """Synchronous callables run in a thread so heartbeats and other steps keep going."""

    async def run(self, ctx: StepContext) -> dict[str, Any]:
        func = load_callable(str(ctx.config["callable"]))
        if inspect.iscoroutinefunction(func):
            return await super().run(ctx)
        result = await asyncio.to_thread(func, ctx)
        if result is None:
            return {}
        return result if isinstance(result, dict) else {"result": result}


class _Shell:
    async def run(self, ctx: StepContext) -> dict[str, Any]:
        command = ctx.config["command"]
        env = env_for(ctx.params, ctx.config.get("env"))
        cwd = ctx.config.get("cwd")
        if isinstance(command, list):
            return await _exec([str(a) for a in command], None, env, cwd, f"command {command[0]!r}")
        return await _exec(None, str(command), env, cwd, "shell command")


class _Http:
    async def run(self, ctx: StepContext) -> dict[str, Any]:
        import httpx

        cfg = ctx.config
        expect = cfg.get("expect_status") or list(range(200, 300))
        try:
            async with httpx.AsyncClient(timeout=ctx.timeout or 30.0) as client:
                resp = await client.request(str(cfg.get("method", "GET")).upper(), str(cfg["url"]),
                                            json=cfg.get("json"), headers=cfg.get("headers"))
        except httpx.TransportError as err:
            raise RetryableError(f"HTTP request to {cfg['url']} failed: {err}") from err
        out: dict[str, Any] = {"status": resp.status_code}
        try:
            out["json"] = resp.json()
        except ValueError:
            out["text"] = resp.text[-_TAIL:]
        if resp.status_code not in expect:
            msg = f"HTTP {resp.status_code} from {cfg['url']}: {resp.text[:300]}"
            if resp.status_code >= 500 or resp.status_code == 429:
                raise RetryableError(msg)
            raise UserStepError(msg)
        return out


class _Pipeline:
    """``python -m rdg run PIPELINE --spec FILE --events FILE``: a bounded run of an rdg pipeline."""

    async def run(self, ctx: StepContext) -> dict[str, Any]:
        cfg = ctx.config
        argv = [sys.executable, "-m", "rdg", "run", str(cfg["pipeline"]), "--spec", str(cfg["spec"]),
                "--events", str(cfg["events"]), *[str(a) for a in cfg.get("args", [])]]
        return await _exec(argv, None, env_for(ctx.params), cfg.get("cwd"), f"pipeline {cfg['pipeline']!r}")


RUNTIMES: dict[str, StepRuntime] = {
    "noop": _Noop(), "sleep": _Sleep(), "python": _ThreadedPython(), "shell": _Shell(), "http": _Http(),
    "pipeline": _Pipeline(),
}
"""Runtime per step type; a worker accepts extra ones (``Worker(runtimes={...})``)."""
