"""``rdg live ...``: schedule, drive and serve live events (thin; the work is in ``rdg.live``)."""

from __future__ import annotations

import getpass
import json
import time
from typing import Any

import click

from rdg.cli import settings_from

_NS = click.option("--namespace", "-n", default="main", envvar="RDG_NAMESPACE", show_default=True,
                   help="Keeps deployments apart on one NATS: the live-events bucket and stream are named "
                        "after it (rdg_NS_live_events, rdg_NS_live_bcast), as for `rdg workflow --namespace`.")
_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
_BY = click.option("--by", default=lambda: getpass.getuser(), show_default="current user",
                   help="Who is doing this (kept in the event history).")


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts)) + "Z"


def _print_events(events: list[Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([e.as_dict() for e in events], indent=2))
        return
    if not events:
        click.echo("no live events (create one with `rdg live create`)")
        return
    rows = [("EVENT", "STATE", "STAGE", "SEQ", "START", "END", "TITLE")]
    rows += [(e.event_id, e.state.value, e.stage or "-", str(e.seq), _when(e.start), _when(e.end), e.title)
             for e in events]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


def _print_event(event: Any, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(event.as_dict(), indent=2))
        return
    _print_events([event], False)
    click.echo(f"stages: {', '.join(f'{s.name}@+{s.offset_s:g}s' for s in event.stages)}")
    if event.tags or event.related_titles:
        click.echo(f"tags: {event.tags}  related: {', '.join(event.related_titles) or '-'}")
    click.echo("history:")
    for h in event.history:
        stage = f" [{h.stage}]" if h.stage else ""
        note = f"  ({h.note})" if h.note else ""
        click.echo(f"  seq {h.seq:<3} {_when(h.at)}  {h.action:<7} -> {h.state}{stage}  by {h.by}{note}")


def _log_to_stderr() -> None:
    """Long-running commands say what they do: rdg.live at INFO, timestamped, on stderr."""
    import logging

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("rdg.live")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def _pairs(items: tuple[str, ...], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r}: expected KEY=VALUE", param_hint=what)
        out[key] = value
    return out


@click.group("live")
def live() -> None:
    """Schedule live events, move them through their states, and serve devices.

    \b
    Example:
      rdg live create final --title "Cup final" --start +10m --duration 2h \\
          --stage pre-show:0 --stage main:15m --stage post-show:1h45m --tag sport=football
      rdg live scheduler &        # fires start/stage/end at their times
      rdg live delay final --by-time 10m
      rdg live status final
    """


@live.command("create")
@click.argument("event_id")
@click.option("--title", required=True, help="What members see.")
@click.option("--start", required=True, help="ISO-8601 with zone, 'now', '+15m' or epoch seconds.")
@click.option("--end", default=None, help="Expected end (same formats; '+2h' is after the start).")
@click.option("--duration", default=None, help="Instead of --end: e.g. 2h (default 2h).")
@click.option("--stage", "stages", multiple=True, help="NAME:OFFSET from the start, repeatable (default main:0).")
@click.option("--tag", "tags", multiple=True, help="KEY=VALUE the recommender matches (sport=football).")
@click.option("--related", "related", multiple=True, help="A related title_id, repeatable.")
@_BY
@_NS
@_JSON
@click.pass_context
def create(ctx: click.Context, event_id: str, title: str, start: str, end: str | None, duration: str | None,
           stages: tuple[str, ...], tags: tuple[str, ...], related: tuple[str, ...], by: str, namespace: str,
           as_json: bool) -> None:
    """Schedule a new event.

    \b
    Example:
      rdg live create final --title "Cup final" --start 2026-11-26T20:00:00Z --end +2h \\
          --stage pre-show:0 --stage main:15m --tag sport=football --related t-derby
    """
    from rdg.live import ops

    event = ops.create(settings_from(ctx), event_id, title=title, start=start, end=end, duration=duration,
                        stages=stages, tags=_pairs(tags, "--tag"), related_titles=related, by=by,
                        namespace=namespace)
    _print_event(event, as_json)


@live.command("list")
@_NS
@_JSON
@click.pass_context
def list_(ctx: click.Context, namespace: str, as_json: bool) -> None:
    """List every event, soonest first.

    \b
    Example:
      rdg live list --json
    """
    from rdg.live import ops

    _print_events(ops.list_events(settings_from(ctx), namespace=namespace), as_json)


@live.command("status")
@click.argument("event_id")
@_NS
@_JSON
@click.pass_context
def status(ctx: click.Context, event_id: str, namespace: str, as_json: bool) -> None:
    """Show one event: state, stage, schedule and its history (who did what when).

    \b
    Example:
      rdg live status final
    """
    from rdg.live import ops

    _print_event(ops.get(settings_from(ctx), event_id, namespace=namespace), as_json)


def _action(name: str, doc: str) -> click.Command:
    @click.argument("event_id")
    @_BY
    @_NS
    @_JSON
    @click.pass_context
    def command(ctx: click.Context, event_id: str, by: str, namespace: str, as_json: bool, **extra: Any) -> None:
        from rdg.live import ops

        kwargs = {k: v for k, v in extra.items() if v is not None}
        _print_event(ops.transition(settings_from(ctx), event_id, name, by=by, namespace=namespace, **kwargs),
                     as_json)

    command.__doc__ = doc
    return click.command(name)(command)


live.add_command(_action("start", "Start an event now (early, or on time by hand).\n\n"
                                          "\b\nExample:\n  rdg live start final"))
live.add_command(_action("end", "End a live event now (an early end ends it now).\n\n"
                                      "\b\nExample:\n  rdg live end final"))
live.add_command(_action("cancel", "Cancel an event that has not started.\n\n"
                                            "\b\nExample:\n  rdg live cancel final"))


@live.command("stage")
@click.argument("event_id")
@click.argument("stage", required=False)
@_BY
@_NS
@_JSON
@click.pass_context
def stage(ctx: click.Context, event_id: str, stage: str | None, by: str, namespace: str, as_json: bool) -> None:
    """Move a live event to STAGE (default: the next one). Stages only move forwards.

    \b
    Example:
      rdg live stage final main
    """
    from rdg.live import ops

    _print_event(ops.transition(settings_from(ctx), event_id, "stage", by=by, namespace=namespace, stage=stage),
                 as_json)


@live.command("delay")
@click.argument("event_id")
@click.option("--to", "to", default=None, help="New start (ISO-8601 with zone, '+15m' from now, epoch).")
@click.option("--by-time", "by_time", default=None, help="Move the start later by this much (e.g. 10m).")
@_BY
@_NS
@_JSON
@click.pass_context
def delay(ctx: click.Context, event_id: str, to: str | None, by_time: str | None, by: str, namespace: str,
          as_json: bool) -> None:
    """Move the start (and the expected end) of a scheduled event later.

    \b
    Example:
      rdg live delay final --by-time 10m
      rdg live delay final --to 2026-11-26T20:30:00Z
    """
    from rdg.live import ops, parse_duration, parse_time

    if (to is None) == (by_time is None):
        raise click.UsageError("give exactly one of --to TIME or --by-time DURATION")
    settings = settings_from(ctx)
    if to is not None:
        new_start = parse_time(to)
    else:
        new_start = ops.get(settings, event_id, namespace=namespace).start + parse_duration(by_time or "0")
    _print_event(ops.transition(settings, event_id, "delay", by=by, namespace=namespace, new_start=new_start),
                 as_json)


@live.command("scheduler")
@_NS
@click.pass_context
def scheduler(ctx: click.Context, namespace: str) -> None:
    """Fire each event's start, stages and end at their times (follows delays and early ends).

    Several may run; compare-and-set lets exactly one fire each transition.

    \b
    Example:
      rdg live scheduler
    """
    from rdg.live import ops

    _log_to_stderr()
    click.echo(f"scheduler following namespace {namespace!r} (Ctrl-C to stop)", err=True)
    ops.run_scheduler(settings_from(ctx), namespace=namespace)


@live.command("api")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--max-age", "max_age", default=300.0, show_default=True, type=float,
              help="Base cache lifetime of a response, seconds.")
@click.option("--jitter", default=0.2, show_default=True, type=click.FloatRange(0, 0.99),
              help="Each lifetime varies by up to this fraction.")
@click.option("--graph", "graph_url", default=None, help="Graph URL (default: the gremlin_url setting).")
@_NS
@click.pass_context
def api(ctx: click.Context, host: str, port: int, max_age: float, jitter: float, graph_url: str | None,
        namespace: str) -> None:
    """Serve the prefetch API: GET /v1/members/MEMBER/live.

    \b
    Example:
      rdg live api --port 8080 &
      curl -i localhost:8080/v1/members/p1/live
    """
    from rdg.live import ops

    click.echo(f"prefetch API on http://{host}:{port}/v1/members/MEMBER/live", err=True)
    ops.run_api(settings_from(ctx), host=host, port=port, namespace=namespace, max_age_s=max_age,
                 jitter=jitter, graph_url=graph_url)


@live.command("gateway")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=int)
@_NS
@click.pass_context
def gateway(ctx: click.Context, host: str, port: int, namespace: str) -> None:
    """Serve devices over WebSocket: one NATS subscription, fanned out to every connection.

    \b
    Example:
      rdg live gateway --port 8765 &
      python -m websockets ws://127.0.0.1:8765/     # prints the snapshot, then each broadcast
    """
    from rdg.live import ops

    def ready(url: str) -> None:
        click.echo(f"gateway listening on {url}", err=True)

    _log_to_stderr()
    ops.run_gateway(settings_from(ctx), host=host, port=port, namespace=namespace, ready=ready)


@live.command("simulate")
@click.option("--devices", default=5000, show_default=True, type=click.IntRange(1), help="Simulated devices.")
@click.option("--gateways", default=2, show_default=True, type=click.IntRange(1), help="Gateway processes.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1), help="Device-fleet processes.")
@click.option("--conns", default=None, type=click.IntRange(1),
              help="WebSocket connections in all (devices multiplexed; default min(devices, 100 per worker)).")
@click.option("--members", default=500, show_default=True, type=click.IntRange(1), help="Distinct members.")
@click.option("--browse", "browse_s", default=5.0, show_default=True, type=float,
              help="Seconds over which devices prefetch before the trigger.")
@click.option("--late", "late_fraction", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Share of devices that did not browse before the event (they fetch at kick-off).")
@click.option("--naive", is_flag=True, help="No prefetch: every device fetches when the event starts.")
@click.option("--compare", is_flag=True, help="Run prefetch and naive back to back and report the ratio.")
@click.option("--png", "png", default="live-simulation.png", show_default=True, help="Where to draw the plot.")
@click.option("--no-png", "no_png", is_flag=True, help="Do not draw the plot (no matplotlib needed).")
@_JSON
@click.pass_context
def simulate(ctx: click.Context, devices: int, gateways: int, workers: int, conns: int | None, members: int,
             browse_s: float, late_fraction: float, naive: bool, compare: bool, png: str, no_png: bool,
             as_json: bool) -> None:
    """Simulate a device fleet: prefetch while browsing, one broadcast, measure every device.

    Starts its own prefetch API and gateways (free ports, a temporary namespace) against the
    NATS server in the settings, and stops them at the end.

    \b
    Example:
      rdg live simulate --devices 20000 --gateways 2 --compare --png live.png
    """
    import rdg.sim as sim

    cfg = sim.SimConfig(devices=devices, gateways=gateways, workers=workers, conns=conns, members=members,
                        browse_s=browse_s, late_fraction=late_fraction, naive=naive,
                        nats_url=settings_from(ctx).nats_url)
    if compare:
        out = sim.compare(cfg)
        runs = [out["prefetch"], out["naive"]]
    else:
        runs = [sim.simulate(cfg)]
        out = {runs[0].mode: runs[0]}
    png_path = None if no_png else sim.plot_simulation(runs, png)
    if as_json:
        body = {k: (v.summary() if isinstance(v, sim.SimResult) else v) for k, v in out.items()}
        click.echo(json.dumps({**body, "png": png_path}, indent=2))
        return
    click.echo(f"{'MODE':<9} {'DEVICES':>8} {'UPDATED':>8} {'P50 MS':>8} {'P99 MS':>8} {'MAX MS':>8} "
               f"{'MISSES':>7} {'SERVED PEAK/S @START':>21} {'WANTED PEAK/S @START':>21} {'CONNS':>6}")
    for r in runs:
        click.echo(f"{r.mode:<9} {r.devices:>8} {r.updated:>8} {r.update_p50_ms:>8.1f} {r.update_p99_ms:>8.1f} "
                   f"{r.update_max_ms:>8.1f} {r.misses:>7} {r.origin_peak_rps_at_start:>21.0f} "
                   f"{r.offered_peak_rps_at_start:>21.0f} {r.connections:>6}")
    if compare:
        click.echo(f"origin peak ratio (prefetch / naive): {out['origin_peak_ratio']:.4f}")
    if png_path:
        click.echo(f"plot: {png_path}")
