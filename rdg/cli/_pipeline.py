"""``rdg validate | preview | run | demo | sample | deploy | status | stop | logs``.

Thin commands: parse, import ``rdg.pipeline`` lazily, call one function, print.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from rdg.cli import settings_from
from rdg.cli._output import table

_SPEC = click.option("--spec", "spec_path", default="pipelines.yaml", show_default=True, envvar="RDG_SPEC",
                     type=click.Path(dir_okay=False), help="The pipelines spec file.")
_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def _progress_printer(enabled: bool) -> Any:
    tty = sys.stderr.isatty()

    def show(metrics: Any, elapsed: float) -> None:
        if not enabled:
            return
        line = metrics.progress_line(elapsed)
        if tty:
            click.echo("\r" + line.ljust(100), nl=False, err=True)
        else:
            click.echo(line, err=True)

    return show


@click.command("validate")
@click.argument("spec_file", default="pipelines.yaml", required=False, type=click.Path(dir_okay=False))
@_JSON
def validate(spec_file: str, as_json: bool) -> None:
    """Check a pipelines spec without running it; every problem as file:line:col.

    Exit 0 when clean, 1 when there are errors.

    \b
    Example:
      rdg validate pipelines.yaml
    """
    from rdg.spec import LintLevel, lint_pipelines

    spec, lints = lint_pipelines(spec_file)
    errors = [lint for lint in lints if lint.level is LintLevel.ERROR]
    if as_json:
        click.echo(json.dumps({"file": spec_file, "ok": not errors, "lints": [lint.as_dict() for lint in lints],
                               "pipelines": sorted(spec.pipelines) if spec else []}, indent=2))
    else:
        for lint in lints:
            click.echo(str(lint), err=True)
        if not errors and spec is not None:
            click.echo(f"{spec_file}: ok ({len(spec.pipelines)} pipelines: {', '.join(spec.pipelines)}; "
                       f"{len(spec.sources)} sources, {len(spec.tables)} tables, "
                       f"{len(spec.graph.vertices)} vertex and {len(spec.graph.edges)} edge labels)")
        else:
            click.echo(f"{spec_file}: {len(errors)} problem{'s' if len(errors) != 1 else ''}", err=True)
    if errors:
        sys.exit(1)


@click.command("preview")
@click.argument("pipeline")
@click.option("--events", required=True, type=click.Path(), help="JSONL file (or glob) of sample events.")
@click.option("-n", "limit", default=5, show_default=True, type=click.IntRange(min=1), help="How many events.")
@_SPEC
@_JSON
@click.pass_context
def preview(ctx: click.Context, pipeline: str, events: str, limit: int, spec_path: str, as_json: bool) -> None:
    """Show what sample events become: the canonical event, its vertices and edges, or why it
    would go to the dead-letter output. Writes nothing.

    \b
    Example:
      rdg preview games --events rdg/data/events/games.jsonl -n 3
    """
    from rdg.pipeline import load_spec
    from rdg.pipeline import preview as run_preview

    spec = load_spec(spec_path)
    items = run_preview(spec, pipeline, events, settings=settings_from(ctx), limit=limit)
    if as_json:
        click.echo(json.dumps([item.as_dict() for item in items], indent=2, default=str))
        return
    for item in items:
        click.secho(f"== {item.offset}", bold=True)
        if item.filtered:
            click.echo("   filtered out by a 'where' condition")
            continue
        if item.event is not None:
            shown = {k: v for k, v in item.event.items() if not k.startswith("_") or k == "_event_id"}
            click.echo(f"   event: {json.dumps(shown, default=str)}")
        if item.dead_letter is not None:
            click.secho(f"   dead letter at {item.dead_letter.step}: {item.dead_letter.reason}", fg="red")
            continue
        for w in item.writes:
            if hasattr(w, "key_value"):
                click.echo(f"   vertex {w.label}({w.key}={w.key_value!r}) {json.dumps(w.properties, default=str)}")
            else:
                click.echo(f"   edge   {w.from_vertex[0]}({w.from_vertex[2]!r}) -{w.label}-> "
                           f"{w.to_vertex[0]}({w.to_vertex[2]!r}) {json.dumps(w.properties, default=str)} "
                           f"ts={w.ts} event_id={w.event_id}")


@click.command("run")
@click.argument("pipeline")
@_SPEC
@click.option("--events", type=click.Path(), default=None,
              help="Run over this JSONL file (or glob) instead of the sources, then exit.")
@click.option("--to-end", is_flag=True, help="With Kafka sources: stop at the end of the topics.")
@click.option("--dead-letter", "dead_letter_file", type=click.Path(dir_okay=False), default=None,
              help="Write dead letters to this JSONL file instead of the spec's output.")
@click.option("--quiet", is_flag=True, help="No progress line.")
@_JSON
@click.pass_context
def run(ctx: click.Context, pipeline: str, spec_path: str, events: str | None, to_end: bool,
        dead_letter_file: str | None, quiet: bool, as_json: bool) -> None:
    """Run one pipeline in the foreground with a live progress line.

    With --events (or --to-end, or file sources) it stops when the input ends and prints a
    summary; otherwise it follows Kafka until Ctrl-C.

    \b
    Examples:
      rdg run games --events rdg/data/events/games.jsonl
      rdg run playback                     # follow Kafka into the configured graph
    """
    from rdg.pipeline import load_spec, run_pipeline
    from rdg.spec import DeadLetterSpec

    spec = load_spec(spec_path)
    dead = DeadLetterSpec("file", dead_letter_file) if dead_letter_file else None
    result = run_pipeline(spec, pipeline, settings=settings_from(ctx), events=events, to_end=to_end,
                          progress=_progress_printer(not quiet and not as_json), dead_letter=dead)
    if not quiet and not as_json and sys.stderr.isatty():
        click.echo("", err=True)
    if as_json:
        click.echo(json.dumps(result.as_dict()))
    else:
        click.echo(f"{pipeline}: {result.events_in} events in, {result.written} written "
                   f"({result.vertices} vertices, {result.edges} edges), {result.dead_letters} dead-lettered, "
                   f"{result.filtered} filtered, in {result.seconds:.2f}s")
        if result.dead_letters:
            click.echo(f"dead letters (with reasons): {result.dead_letter}")


@click.command("demo")
@_SPEC
@click.option("--data", type=click.Path(file_okay=False), default=None,
              help="Folder with events/<pipeline>.jsonl and side tables (default: the bundled samples).")
@click.option("--member", default="m1", show_default=True, help="Whose journey to print.")
@_JSON
@click.pass_context
def demo(ctx: click.Context, spec_path: str, data: str | None, member: str, as_json: bool) -> None:
    """Run the example pipelines over the bundled sample events into the embedded graph (no
    servers), then print a summary and one member's journey.

    \b
    Example:
      rdg demo && rdg journey m1
    """
    from rdg.pipeline import run_demo

    settings = settings_from(ctx)
    result = run_demo(settings, spec_path=spec_path, data=Path(data) if data else None, member=member)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
        return
    rows = [[r.pipeline, r.events_in, r.filtered, r.dead_letters, r.vertices, r.edges, f"{r.seconds:.2f}s"]
            for r in result.runs]
    click.echo(table(rows, ["pipeline", "events", "filtered", "dead-lettered", "vertex writes", "edge writes", "time"]))
    click.echo("")
    click.echo(f"graph {result.graph}:")
    click.echo("  vertices: " + ", ".join(f"{k} {v}" for k, v in result.vertices.items()))
    click.echo("  edges:    " + ", ".join(f"{k} {v}" for k, v in result.edges.items()))
    click.echo(f"  dead letters (with reasons): {result.dead_letter_file}")
    click.echo("")
    click.secho(f"journey of member {member}:", bold=True)
    for line in result.journey or ["(no activity)"]:
        click.echo("  " + line)


@click.command("sample")
@click.option("--out", "out_dir", default="sample-data", show_default=True, type=click.Path(file_okay=False),
              help="Folder to write events/<pipeline>.jsonl and the side tables into.")
@click.option("--members", default=6, show_default=True, type=click.IntRange(min=1), help="Number of member accounts (m1..mN), 1-3 profiles each.")
@click.option("--sessions", default=4, show_default=True, type=click.IntRange(min=1),
              help="Sessions per member per vertical.")
@click.option("--seed", default=1, show_default=True, type=int, help="Random seed (same seed, same files).")
def sample(out_dir: str, members: int, sessions: int, seed: int) -> None:
    """Write sample events for the example pipelines, with duplicates, out-of-order and
    malformed ones, plus the side tables they join.

    \b
    Example:
      rdg sample --out /tmp/s --members 100 && rdg demo --data /tmp/s
    """
    from rdg.pipeline import write_samples

    files = write_samples(Path(out_dir), members=members, seed=seed, sessions=sessions)
    for name, path in files.items():
        count = sum(1 for _ in path.open())
        click.echo(f"{name}: {count} events -> {path}")


@click.command("deploy")
@click.argument("pipelines", nargs=-1)
@_SPEC
@click.option("--processes", "-p", default=1, show_default=True, type=click.IntRange(min=1),
              help="Bytewax processes per pipeline (a cluster sharing the Kafka partitions).")
@click.option("--writers", default=1, show_default=True, type=click.IntRange(min=1),
              help="Graph writer processes, if not running yet (graph servers only: every pipeline hands its "
                   "writes to them, one owner per vertex).")
@_JSON
@click.pass_context
def deploy(ctx: click.Context, pipelines: tuple[str, ...], spec_path: str, processes: int, writers: int,
           as_json: bool) -> None:
    """Start pipelines (all by default) as supervised background processes with recovery: a
    restart resumes where the last one stopped. On a graph server (gremlin_url ws://...) the
    graph writers start too (`graph-writer` in `rdg status`): any number of pipelines and
    processes then build exactly the graph one serial writer would.

    \b
    Examples:
      rdg deploy                         every pipeline in pipelines.yaml
      rdg deploy playback --processes 2  a two-process Bytewax cluster
      rdg deploy --writers 2             two graph writer processes
    """
    from rdg.pipeline import load_spec
    from rdg.pipeline import deploy as start

    results = start(load_spec(spec_path), pipelines or None, settings=settings_from(ctx), processes=processes,
                    writers=writers)
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in results]))
        return
    for r in results:
        verb = "already running" if r.already_running else "started"
        click.echo(f"{r.pipeline}: {verb} (supervisor pid {r.pid}, {r.processes} process(es)); state in {r.folder}")
    click.echo("see progress with: rdg status   and   rdg logs PIPELINE")


@click.command("status")
@click.argument("pipelines", nargs=-1)
@click.option("--no-lag", is_flag=True, help="Skip asking Kafka for the lag.")
@_JSON
@click.pass_context
def status(ctx: click.Context, pipelines: tuple[str, ...], no_lag: bool, as_json: bool) -> None:
    """Show deployed pipelines: running or not, events in and out, dead letters, Kafka lag,
    last error.

    \b
    Example:
      rdg status --json
    """
    from rdg.pipeline import status as get_status

    rows = get_status(settings_from(ctx), pipelines or None, with_lag=not no_lag)
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in rows], indent=2))
        return
    if not rows:
        click.echo("no pipelines deployed (start them with: rdg deploy)")
        return
    rows = [[r.pipeline, "running" if r.running else "stopped", r.processes, r.restarts, r.events_in, r.written,
             r.dead_letters, "?" if r.lag is None else r.lag, (r.last_error or "")[:60]] for r in rows]
    click.echo(table(rows, ["pipeline", "state", "procs", "restarts", "in", "written", "dead", "lag", "last error"]))


@click.command("stop")
@click.argument("pipelines", nargs=-1)
@_JSON
@click.pass_context
def stop(ctx: click.Context, pipelines: tuple[str, ...], as_json: bool) -> None:
    """Stop deployed pipelines (all by default). Their recovery state is kept, so the next
    deploy resumes.

    \b
    Example:
      rdg stop games
    """
    from rdg.pipeline import stop as halt

    stopped = halt(pipelines or None, settings=settings_from(ctx))
    if as_json:
        click.echo(json.dumps({"stopped": stopped}))
        return
    click.echo(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@click.command("logs")
@click.argument("pipeline")
@click.option("-n", "lines", default=50, show_default=True, type=click.IntRange(min=1), help="Lines to show.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines (Ctrl-C to stop).")
@click.pass_context
def logs(ctx: click.Context, pipeline: str, lines: int, follow: bool) -> None:
    """Show a deployed pipeline's log (supervisor and workers).

    \b
    Example:
      rdg logs playback -n 100
    """
    import time

    from rdg.pipeline import log_path, read_log

    settings = settings_from(ctx)
    for line in read_log(settings, pipeline, lines):
        click.echo(line)
    if follow:
        with log_path(settings, pipeline).open("r", encoding="utf-8", errors="replace") as fh:
            fh.seek(0, 2)
            while True:
                line = fh.readline()
                if line:
                    click.echo(line.rstrip("\n"))
                else:
                    time.sleep(0.3)
