"""``rdg workflow ...``, ``rdg engine`` and ``rdg worker``: thin commands over ``rdg.workflow``.

Longer than most modules: one click command per workflow action, each a few lines plus the help text that teaches it.

Each command parses, imports the package lazily, calls one function and prints a table (or
JSON with ``--json``). Errors are rdg errors: the top-level wrapper prints them and exits 1.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable

import click

from rdg.cli import settings_from
from rdg.cli._output import table

_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
_NS = click.option("--namespace", "-n", "namespace", default="main", envvar="RDG_NAMESPACE", show_default=True,
                   help="Keeps deployments apart on one NATS: the workflow buckets and streams are named "
                        "after it (rdg_NS_wf_runs, ...), as for `rdg live --namespace`.")
_PARAM = click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
                      help="A parameter; VALUE is read as YAML (3, true, [a, b]). Repeat for more.")


def _parse_params(items: tuple[str, ...]) -> dict[str, Any]:
    import yaml

    from rdg.errors import SpecError
    from rdg.spec import plain_yaml

    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise click.UsageError(f"parameter {item!r} must look like NAME=VALUE")
        name, value = item.split("=", 1)
        try:
            out[name.strip()] = plain_yaml(value, f"parameter {name.strip()}") if value.strip() else ""
        except SpecError as err:  # an alias or a nesting bomb: refused, never expanded
            raise click.UsageError(err.message) from err
        except yaml.YAMLError:
            out[name.strip()] = value
    return out


def _with_store(ctx: click.Context, namespace: str, fn: Callable[[Any], Awaitable[Any]], *, lease: float = 30.0) -> Any:
    from rdg.bus import connect_with
    from rdg.workflow import Store

    settings = settings_from(ctx)

    async def main() -> Any:
        nc = await connect_with(settings, name="rdg-workflow")
        try:
            return await fn(await Store.open(nc, namespace=namespace, lease=lease))
        finally:
            await nc.close()

    return asyncio.run(main())


def _when(ts: float | None) -> str:
    if not ts:
        return ""
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%H:%M:%S.%f")[:-3]


def _emit(data: Any, as_json: bool, text: Callable[[], str]) -> None:
    click.echo(json.dumps(data, indent=2, default=str) if as_json else text())


@click.group("workflow")
def workflow() -> None:
    """Define workflows and drive their runs (on NATS JetStream).

    \b
    Example:
      rdg workflow validate docs/examples/workflows/hello.yaml
      rdg workflow push docs/examples/workflows/hello.yaml
      rdg engine &  rdg worker --concurrency 4 &
      rdg workflow start hello -p name=rdg --wait
      rdg workflow status RUN_ID
    """


@workflow.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@_JSON
def validate(files: tuple[str, ...], as_json: bool) -> None:
    """Check workflow files; every problem as file:line:col. Exit 1 if any has errors.

    \b
    Example:
      rdg workflow validate flows/*.yaml
    """
    from rdg.errors import SpecError
    from rdg.spec import load_workflow

    results = []
    failed = False
    for path in files:
        try:
            spec = load_workflow(path)
            results.append({"file": path, "id": spec.id, "steps": len(spec.steps), "lints": []})
        except SpecError as err:
            failed = True
            results.append({"file": path, "lints": [lint.as_dict() for lint in err.lints]})
            if not as_json:
                for lint in err.lints:
                    click.echo(str(lint), err=True)
    if as_json:
        click.echo(json.dumps(results, indent=2))
    else:
        for r in results:
            if not r["lints"]:
                click.echo(f"{r['file']}: ok ({r['id']}, {r['steps']} steps)")
    if failed:
        sys.exit(1)


@workflow.command("push")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@_NS
@_JSON
@click.pass_context
def push(ctx: click.Context, files: tuple[str, ...], namespace: str, as_json: bool) -> None:
    """Validate and store workflow definitions (each push is a new version).

    \b
    Example:
      rdg workflow push docs/examples/workflows/hello.yaml
    """
    from rdg.spec import load_workflow

    specs = [load_workflow(p) for p in files]  # all valid before anything is stored

    async def go(store: Any) -> list[dict[str, Any]]:
        return [{"id": s.id, "version": await store.push_definition(s), "file": s.file} for s in specs]

    out = _with_store(ctx, namespace, go)
    _emit(out, as_json, lambda: "\n".join(f"pushed {d['id']} version {d['version']} ({d['file']})" for d in out))


@workflow.command("list")
@_NS
@_JSON
@click.pass_context
def list_(ctx: click.Context, namespace: str, as_json: bool) -> None:
    """List stored workflows with their version and triggers.

    \b
    Example:
      rdg workflow list --json
    """
    out = _with_store(ctx, namespace, lambda store: store.list_definitions())
    _emit(out, as_json, lambda: table(
        [[d["id"], d["version"], d["steps"], ",".join(d["cron"]), ",".join(d["signals"]), d["description"]]
         for d in out], ["workflow", "version", "steps", "cron", "signals", "description"]) if out
        else "no workflows (push one with `rdg workflow push FILE`)")


@workflow.command("start")
@click.argument("workflow_id")
@_PARAM
@click.option("--run-id", default=None, help="Choose the run id (default: random).")
@click.option("--wait", is_flag=True, help="Wait for the run to end; exit 1 unless it succeeded.")
@click.option("--timeout", default=3600.0, show_default=True, help="Seconds to --wait.")
@_NS
@_JSON
@click.pass_context
def start(ctx: click.Context, workflow_id: str, params: tuple[str, ...], run_id: str | None, wait: bool,
          timeout: float, namespace: str, as_json: bool) -> None:
    """Start a run of a workflow (needs `rdg engine` and `rdg worker` running).

    \b
    Example:
      rdg workflow start etl -p day=2024-06-01 -p ids='[1, 2, 3]' --wait
    """
    from rdg.workflow import start_run

    values = _parse_params(params)

    async def go(store: Any) -> dict[str, Any]:
        handle = await start_run(store, workflow_id, values, run_id=run_id)
        run = await handle.wait(timeout=timeout) if wait else await handle.record()
        return run.as_dict()

    run = _with_store(ctx, namespace, go)
    _emit(run, as_json, lambda: f"run {run['id']} of {workflow_id}: {run['status']}"
          + (f" ({run['reason']})" if run.get("reason") else ""))
    if wait and run["status"] != "SUCCEEDED":
        sys.exit(1)


@workflow.command("status")
@click.argument("run_id")
@_NS
@_JSON
@click.pass_context
def status(ctx: click.Context, run_id: str, namespace: str, as_json: bool) -> None:
    """Show a run and its steps as a tree: state, attempt, timings.

    \b
    Example:
      rdg workflow status 3f2a9c1b7d4e
    """
    from rdg.workflow import get_run

    async def go(store: Any) -> dict[str, Any]:
        return await (await get_run(store, run_id)).describe()

    d = _with_store(ctx, namespace, go)

    def text() -> str:
        run = d["run"]
        head = (f"run {run['id']}  workflow {run['workflow']} v{run['version']}  {run['status']}  "
                f"attempt {run['attempt']}" + (f"  ({run['reason']})" if run.get("reason") else ""))
        rows = []
        for s in d["steps"]:
            name = "  " * s["depth"] + ("└ " if s["depth"] else "") + s["id"]
            extra = ""
            if s["fanout"]:
                f = s["fanout"]
                extra = f"{f.get('ok', 0)}/{f.get('total', 0)} ok, {f.get('failed', 0)} failed, {f.get('running', 0)} running"
            elif s["child"]:
                extra = f"child run {s['child']}"
            elif s["error"]:
                extra = s["error"][:80]
            rows.append([name, s["type"], s["status"], s["attempt"], _when(s["started_at"]), _when(s["ended_at"]),
                         "" if s["duration_s"] is None else f"{s['duration_s']:.3f}s", extra])
        return head + "\n" + table(rows, ["step", "type", "status", "attempt", "started", "ended", "took", "note"])

    _emit(d, as_json, text)


@workflow.command("history")
@click.argument("workflow_id")
@click.option("--limit", default=20, show_default=True)
@_NS
@_JSON
@click.pass_context
def history(ctx: click.Context, workflow_id: str, limit: int, namespace: str, as_json: bool) -> None:
    """List a workflow's recent runs, newest first.

    \b
    Example:
      rdg workflow history etl --limit 5
    """
    from rdg.workflow import list_runs

    out = _with_store(ctx, namespace, lambda store: list_runs(store, workflow_id, limit=limit))
    _emit(out, as_json, lambda: table(
        [[r["id"], r["status"], r["attempt"], r["trigger"], _when(r["started_at"]), _when(r["ended_at"]),
          r["reason"] or ""] for r in out], ["run", "status", "attempt", "trigger", "started", "ended", "reason"])
        if out else f"no runs of {workflow_id} yet")


def _action(name: str, doc: str) -> click.Command:
    @click.command(name, help=doc)
    @click.argument("run_id")
    @click.option("--step", default=None, help="Act on one step's breakpoint instead of the run (pause/resume).")
    @_NS
    @_JSON
    @click.pass_context
    def command(ctx: click.Context, run_id: str, step: str | None, namespace: str, as_json: bool) -> None:
        from rdg.workflow import get_run

        if step and name not in ("pause", "resume"):
            raise click.UsageError(f"--step works with pause and resume, not {name}")

        async def go(store: Any) -> dict[str, Any]:
            handle = await get_run(store, run_id)
            if step:
                rec = await (handle.pause_step(step) if name == "pause" else handle.resume_step(step))
                return {"run": run_id, "step": step, "status": rec.status.value, "breakpoint": rec.breakpoint}
            return (await getattr(handle, name)()).as_dict()

        out = _with_store(ctx, namespace, go)
        _emit(out, as_json, lambda: f"{name}: run {run_id}" + (f" step {step}" if step else "")
              + f" is now {out['status']}")

    return command


for _name, _doc in (
    ("stop", "Stop a run (STOPPED); running steps are stopped.\n\n\b\nExample:\n  rdg workflow stop RUN_ID"),
    ("kill", "Kill a run at once (FAILED, 'killed').\n\n\b\nExample:\n  rdg workflow kill RUN_ID"),
    ("pause", "Pause a run (no new steps start), or with --step set a breakpoint on a step.\n\n\b\nExample:\n"
              "  rdg workflow pause RUN_ID --step load"),
    ("resume", "Resume a paused run, or with --step release a step's breakpoint.\n\n\b\nExample:\n"
               "  rdg workflow resume RUN_ID"),
):
    workflow.add_command(_action(_name, _doc))


@workflow.command("restart")
@click.argument("run_id")
@click.option("--from-beginning", "mode", flag_value="beginning", help="Rerun every step.")
@click.option("--from-failed", "mode", flag_value="failed", default=True,
              help="Rerun the steps that did not complete and those after them (default).")
@click.option("--from-step", "from_step", default=None, help="Rerun this step and every step after it.")
@_NS
@_JSON
@click.pass_context
def restart(ctx: click.Context, run_id: str, mode: str, from_step: str | None, namespace: str, as_json: bool) -> None:
    """Restart a finished run as a new attempt (the old attempt stays in the history).

    \b
    Example:
      rdg workflow restart RUN_ID --from-step load
    """
    from rdg.workflow import get_run

    async def go(store: Any) -> dict[str, Any]:
        handle = await get_run(store, run_id)
        run = await handle.restart("step" if from_step else mode, step=from_step)
        return run.as_dict()

    out = _with_store(ctx, namespace, go)
    _emit(out, as_json, lambda: f"restarted run {run_id}: attempt {out['attempt']}, {out['status']}")


@workflow.command("skip")
@click.argument("run_id")
@click.argument("step")
@_NS
@_JSON
@click.pass_context
def skip(ctx: click.Context, run_id: str, step: str, namespace: str, as_json: bool) -> None:
    """Skip a step that has not completed; the steps after it go on.

    \b
    Example:
      rdg workflow skip RUN_ID slow_report
    """
    from rdg.workflow import get_run

    async def go(store: Any) -> dict[str, Any]:
        rec = await (await get_run(store, run_id)).skip(step)
        return {"run": run_id, "step": step, "status": rec.status.value}

    out = _with_store(ctx, namespace, go)
    _emit(out, as_json, lambda: f"step {step} of run {run_id} is now {out['status']}")


@workflow.command("signal")
@click.argument("name")
@_PARAM
@_NS
@click.pass_context
def signal_(ctx: click.Context, name: str, params: tuple[str, ...], namespace: str) -> None:
    """Publish a named signal; every workflow listing it under triggers.signals starts a run.

    \b
    Example:
      rdg workflow signal data_ready -p day=2024-06-01
    """
    values = _parse_params(params)

    async def go(store: Any) -> None:
        await store.publish_signal(name, values)

    _with_store(ctx, namespace, go)
    click.echo(f"signal {name} published")


def _serve(ctx: click.Context, namespace: str, lease: float, make: Callable[[Any], Any], what: str) -> None:
    import logging

    from rdg.bus import connect_with
    from rdg.redact import install_log_redaction
    from rdg.workflow import Store

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    install_log_redaction()
    settings = settings_from(ctx)

    async def main() -> None:
        nc = await connect_with(settings, name=f"rdg-{what}")
        store = await Store.open(nc, namespace=namespace, lease=lease)
        proc = make(store)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, proc.stop)
        click.echo(f"rdg {what} running on {settings.nats_url} (namespace {namespace}); Ctrl-C stops it", err=True)
        try:
            await proc.run()
        finally:
            await nc.close()

    asyncio.run(main())


@click.command("engine")
@_NS
@click.option("--poll-interval", type=float, default=None,
              help="Baseline mode: look at events only every N seconds (for comparisons; default: react at once).")
@click.option("--reconcile-interval", type=float, default=5.0, show_default=True,
              help="Seconds between repair passes (a safety net, not the hot path).")
@click.option("--lease", type=float, default=30.0, show_default=True, help="Seconds a worker holds a step.")
@click.pass_context
def engine(ctx: click.Context, namespace: str, poll_interval: float | None, reconcile_interval: float,
           lease: float) -> None:
    """Run a workflow engine process (start more for scale and failover).

    \b
    Example:
      rdg engine --namespace staging
    """
    from rdg.workflow import Engine

    _serve(ctx, namespace, lease, lambda store: Engine(store, poll_interval=poll_interval,
                                                    reconcile_interval=reconcile_interval), "engine")


@click.command("worker")
@_NS
@click.option("--concurrency", default=4, show_default=True, help="Steps this worker runs at once.")
@click.option("--lease", type=float, default=30.0, show_default=True,
              help="Seconds without a heartbeat before another worker may take a step over.")
@click.pass_context
def worker(ctx: click.Context, namespace: str, concurrency: int, lease: float) -> None:
    """Run a workflow worker process (start more for scale).

    \b
    Example:
      rdg worker --concurrency 8
    """
    from rdg.workflow import Worker

    if concurrency < 1:
        raise click.UsageError("--concurrency must be at least 1")
    limit = settings_from(ctx).workflow_output_limit
    _serve(ctx, namespace, lease, lambda store: Worker(store, concurrency=concurrency, output_limit=limit), "worker")
