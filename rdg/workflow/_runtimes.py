"""Step runtimes: noop, sleep, python, shell, http and pipeline (foreach and subworkflow are run
by the engine itself, since they only start child runs).

Parameters reach shell commands and pipelines only as environment variables named
``RDG_P_<NAME>``: never spliced into the command text, never replacing a variable the process
already has (``PATH``, ``HOME``...). A shell step's outputs come from files it writes into the
folder ``$RDG_OUTPUTS`` (one file per output, ``NAME`` for text, ``NAME.json`` for JSON), not
from its stdout, so a parameter printed by the command cannot forge an output.

>>> import asyncio
>>> cmd = 'echo "hi $RDG_P_WHO"; printf %s "$RDG_P_WHO" > "$RDG_OUTPUTS/who"'
>>> ctx = StepContext("r", "s", "shell", 1, 1, params={"who": "world"}, config={"command": cmd})
>>> out = asyncio.run(RUNTIMES["shell"].run(ctx))
>>> out["stdout"], out["who"]
('hi world', 'world')
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import os
import re
import signal
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Mapping

from rdg.errors import RetryableError, UserStepError
from rdg.spec import PARAM_PREFIX
from rdg.workflow._task import StepContext, StepRuntime

__all__ = ["DEFAULT_OUTPUT_LIMIT", "PARAM_PREFIX", "RUNTIMES", "env_for", "load_callable", "runtimes"]

_TAIL = 4000
"""Characters of stdout and stderr kept (the end); what came before is counted, not kept."""
DEFAULT_OUTPUT_LIMIT = 1 << 20
"""Most bytes a shell step may write into ``$RDG_OUTPUTS`` (setting ``workflow_output_limit``)."""
_OUTPUT_NAME = re.compile(r"^([A-Za-z][A-Za-z0-9_]{0,63})(\.json)?$")


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
    """The environment a command sees: ours, the step's ``env:``, then each parameter as
    ``RDG_P_<NAME>`` (upper case, other characters as ``_``). No parameter can replace a variable.

    >>> env = env_for({"day": "mon", "ids": [1, 2], "path": "/tmp/evil"})
    >>> env["RDG_P_IDS"], env["RDG_P_PATH"], env.get("PATH") == os.environ.get("PATH")
    ('[1, 2]', '/tmp/evil', True)
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(PARAM_PREFIX)}
    env.update({str(name): _text(value) for name, value in (extra or {}).items()})
    for name, value in params.items():
        env[PARAM_PREFIX + re.sub(r"[^A-Z0-9_]", "_", str(name).upper())] = _text(value)
    return env


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


class _Tail:
    """The last ``_TAIL`` characters of a stream, and how many bytes came before them."""

    def __init__(self) -> None:
        self.kept = bytearray()
        self.total = 0

    async def drain(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(1 << 16):
            self.total += len(chunk)
            self.kept += chunk
            if len(self.kept) > 4 * _TAIL:
                del self.kept[:-4 * _TAIL]

    def text(self) -> str:
        return self.kept.decode(errors="replace")[-_TAIL:]

    @property
    def dropped(self) -> int:
        return self.total - len(self.text().encode())


def _read_outputs(folder: Path, limit: int) -> dict[str, Any]:
    """The outputs a step wrote: one regular file per output, within ``limit`` bytes in all."""
    entries = sorted(folder.iterdir())
    outputs: dict[str, Any] = {}
    size = 0
    for path in entries:
        info = path.lstat()
        found = _OUTPUT_NAME.match(path.name)
        if not stat.S_ISREG(info.st_mode) or found is None:
            raise UserStepError(f"$RDG_OUTPUTS/{path.name} is not an output: each output is a regular file "
                                "named NAME (text) or NAME.json (JSON), NAME made of letters, digits and _",
                                non_retryable=True)
        size += info.st_size
        if size > limit:
            raise UserStepError(f"the step's outputs in $RDG_OUTPUTS are over the limit of {limit:,} bytes",
                                non_retryable=True, hint="write large data to a file and output its path, "
                                "or raise the setting workflow_output_limit")
        raw = path.read_bytes()[:info.st_size]
        name, is_json = found.group(1), bool(found.group(2))
        if is_json:
            try:
                outputs[name] = json.loads(raw)
            except ValueError as err:
                raise UserStepError(f"$RDG_OUTPUTS/{path.name} is not valid JSON: {err}", non_retryable=True) from err
        else:
            text = raw.decode(errors="replace")
            outputs[name] = text[:-1] if text.endswith("\n") else text
    return outputs


async def _exec(argv: list[str] | None, command: str | None, env: dict[str, str], cwd: str | None,
                what: str, output_limit: int = DEFAULT_OUTPUT_LIMIT) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="rdg-outputs-") as folder:  # 0700, private to this attempt
        env = {**env, "RDG_OUTPUTS": folder}
        pipes = {"env": env, "cwd": cwd, "stdin": asyncio.subprocess.DEVNULL, "stdout": asyncio.subprocess.PIPE,
                 "stderr": asyncio.subprocess.PIPE, "start_new_session": True}
        if argv is not None:
            proc = await asyncio.create_subprocess_exec(*argv, **pipes)
        else:
            proc = await asyncio.create_subprocess_shell(command or "", **pipes)
        out, err = _Tail(), _Tail()
        try:  # read as it comes, keeping only the tails: a chatty command cannot fill the worker's memory
            assert proc.stdout is not None and proc.stderr is not None
            await asyncio.gather(out.drain(proc.stdout), err.drain(proc.stderr))
            await proc.wait()
        except asyncio.CancelledError:  # timeout, stop or fencing: take the whole process group down
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            await proc.wait()
            raise
        stdout = out.text().rstrip("\n")
        if proc.returncode != 0:
            tail = err.text().strip() or stdout.strip()
            raise UserStepError(f"{what} exited with code {proc.returncode}: {tail}")
        outputs = _read_outputs(Path(folder), output_limit)
    outputs["stdout"] = stdout
    if out.dropped:
        outputs["stdout_truncated"] = out.dropped  # bytes before the kept tail
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
    def __init__(self, output_limit: int = DEFAULT_OUTPUT_LIMIT) -> None:
        self.output_limit = output_limit

    async def run(self, ctx: StepContext) -> dict[str, Any]:
        command = ctx.config["command"]
        env = env_for(ctx.params, ctx.config.get("env"))
        cwd = ctx.config.get("cwd")
        if isinstance(command, list):
            return await _exec([str(a) for a in command], None, env, cwd, f"command {command[0]!r}",
                               self.output_limit)
        return await _exec(None, str(command), env, cwd, "shell command", self.output_limit)


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
    """``python -m rdg.pipeline._once PIPELINE --spec FILE --events FILE`` (``rdg run``'s options
    for a bounded run, without the CLI): a bounded run of an rdg pipeline; its JSON summary
    (``events_in``, ``vertices``...) becomes the step's outputs."""

    async def run(self, ctx: StepContext) -> dict[str, Any]:
        cfg = ctx.config
        argv = [sys.executable, "-m", "rdg.pipeline._once", str(cfg["pipeline"]), "--spec", str(cfg["spec"]),
                "--events", str(cfg["events"]), *[str(a) for a in cfg.get("args", [])]]
        outputs = await _exec(argv, None, env_for(ctx.params, cfg.get("env")), cfg.get("cwd"),
                              f"pipeline {cfg['pipeline']!r}")
        lines = outputs["stdout"].strip().splitlines()
        try:
            summary = json.loads(lines[-1]) if lines else None
        except ValueError:
            summary = None
        if not isinstance(summary, dict):
            raise UserStepError(f"pipeline {cfg['pipeline']!r} printed no JSON summary: {outputs['stdout'][-300:]}")
        return {**summary, "exit_code": 0}


def runtimes(output_limit: int = DEFAULT_OUTPUT_LIMIT) -> dict[str, StepRuntime]:
    """The built-in runtime per step type; ``output_limit`` bounds a shell step's outputs in bytes."""
    return {"noop": _Noop(), "sleep": _Sleep(), "python": _ThreadedPython(), "shell": _Shell(output_limit),
            "http": _Http(), "pipeline": _Pipeline()}


RUNTIMES: dict[str, StepRuntime] = runtimes()
"""Runtime per step type; a worker accepts extra ones (``Worker(runtimes={...})``)."""
