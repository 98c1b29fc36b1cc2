"""``rdg stack up | down | status``: the local NATS, Kafka and JanusGraph servers."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from rdg.cli import settings_from

_ONLY = click.option("--only", metavar="NAMES", default=None,
                     help="Comma-separated servers: nats, kafka, janusgraph (default: all).")


def _echo(line: str) -> None:
    click.echo(line, err=True)


@click.group("stack")
def stack() -> None:
    """Start, stop and inspect the local servers (no Docker needed).

    \b
    NATS 2.15 (JetStream), Kafka 4.4 (KRaft, one node) and JanusGraph Server 1.1 run
    on 127.0.0.1 from ~/.cache/rdg (jars fetched once with Maven, nats-server built
    once with Go, or the one on PATH). Ports come from the settings nats_port,
    kafka_port, janusgraph_port, or the flags of `up`.
    """


@stack.command("up")
@_ONLY
@click.option("--backend", type=click.Choice(["inmemory", "berkeleyje"]), default=None,
              help="JanusGraph storage (default: the janusgraph_backend setting, inmemory).")
@click.option("--nats-port", type=click.IntRange(1, 65535), default=None, help="NATS client port.")
@click.option("--nats-monitor-port", type=click.IntRange(1, 65535), default=None,
              help="NATS HTTP monitor port (default: the nats_monitor_port setting, else client + 4000).")
@click.option("--kafka-port", type=click.IntRange(1, 65535), default=None, help="Kafka broker port.")
@click.option("--kafka-controller-port", type=click.IntRange(1, 65535), default=None,
              help="Kafka KRaft controller port (default: the kafka_controller_port setting, else broker + 1).")
@click.option("--janusgraph-port", type=click.IntRange(1, 65535), default=None, help="JanusGraph Gremlin port.")
@click.option("--timeout", type=click.FloatRange(1, 3600), default=180, show_default=True,
              help="Seconds to wait for each server to answer.")
@click.option("--fresh", is_flag=True, help="Delete the data of the servers it starts (keeps the jar cache; running ones are left alone).")
@click.option("--secure", is_flag=True,
              help="TLS from a CA of its own and logins: NATS with an nkey user, Kafka with SASL_SSL, "
                   "JanusGraph with a password; prints the settings clients need (secrets stay in 0600 files).")
@click.option("--json", "as_json", is_flag=True, help="Print the started servers as JSON.")
@click.pass_context
def up(ctx: click.Context, only: str | None, backend: str | None, nats_port: int | None,
       nats_monitor_port: int | None, kafka_port: int | None, kafka_controller_port: int | None,
       janusgraph_port: int | None, timeout: float, fresh: bool, secure: bool, as_json: bool) -> None:
    """Start the servers and wait until each answers a real request.

    \b
    Examples:
      rdg stack up                                  all three, default ports
      rdg stack up --only kafka,janusgraph --backend berkeleyje
      rdg stack up --only nats --nats-port 4333
      rdg stack up --kafka-port 19092 --kafka-controller-port 19192
      rdg stack up --secure                         TLS and logins; prints the RDG_* to export
    """
    from rdg.stack import up as stack_up

    settings = settings_from(ctx)
    ports = {k: v for k, v in (("nats", nats_port), ("nats_monitor", nats_monitor_port), ("kafka", kafka_port),
                               ("kafka_controller", kafka_controller_port), ("janusgraph", janusgraph_port)) if v}
    began = time.monotonic()
    infos = stack_up(settings, only=only, backend=backend, ports=ports, timeout=timeout, fresh=fresh,
                     secure=secure, progress=_echo)
    if as_json:
        click.echo(json.dumps([{"name": i.name, "url": i.url, "pid": i.pid, "ports": i.ports,
                                "home": i.home, **i.extra} for i in infos], indent=2))
        return
    _echo(f"ready in {time.monotonic() - began:.1f}s")
    for info in infos:
        click.echo(f"{info.name:<11} {info.url:<32} pid {info.pid}")
    wanted = {"janusgraph": ("gremlin_url", "RDG_GREMLIN_URL"), "kafka": ("kafka_bootstrap", "RDG_KAFKA_BOOTSTRAP"),
              "nats": ("nats_url", "RDG_NATS_URL")}
    exports = [f"{wanted[i.name][1]}={i.url}" for i in infos
               if getattr(settings, wanted[i.name][0]) != i.url and not i.extra.get("secure")]
    for info in infos:
        if info.extra.get("secure"):
            from rdg.stack import SERVERS

            settings_for = SERVERS[info.name].client_settings(Path(info.home), info.url)
            exports += [f"RDG_{k.upper()}={v}" for k, v in settings_for.items()]
    if exports:
        _echo(f"point rdg at them: export {' '.join(exports)}")
    for info in infos:
        if info.name == "nats" and info.extra.get("secure"):
            _echo(f"gateways and the prefetch API log in as the restricted user (no publishing of broadcasts): "
                  f"RDG_NATS_NKEY_SEED_FILE={Path(info.home) / 'secrets' / 'gateway-user.nk'}")


@stack.command("down")
@_ONLY
@click.pass_context
def down(ctx: click.Context, only: str | None) -> None:
    """Stop the servers `rdg stack up` started (by their recorded pid, nothing else).

    \b
    Example:
      rdg stack down --only kafka
    """
    from rdg.stack import down as stack_down

    stack_down(settings_from(ctx), only=only, progress=click.echo)


@stack.command("fetch")
@_ONLY
@click.option("--json", "as_json", is_flag=True, help="Print what each server will run as JSON.")
@click.pass_context
def fetch(ctx: click.Context, only: str | None, as_json: bool) -> None:
    """Fetch the jars and build nats-server now, starting nothing.

    Later `rdg stack up` needs no network. nats-server is built from its Go module
    when Go is installed (else the one on PATH is used, e.g. Debian's 2.9).

    \b
    Example:
      rdg stack fetch && rdg stack up
    """
    from rdg.stack import prepare

    ready = prepare(settings_from(ctx), only=only, progress=_echo)
    if as_json:
        click.echo(json.dumps(ready, indent=2))
    else:
        for name, what in ready.items():
            click.echo(f"{name:<11} {what}")


@stack.command("status")
@_ONLY
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def status(ctx: click.Context, only: str | None, as_json: bool) -> None:
    """Show each server: healthy (answers a real request), unhealthy, stopped.

    Exits 1 if any server asked about is not healthy.

    \b
    Example:
      rdg stack status --json
    """
    from dataclasses import asdict

    from rdg.stack import status as stack_status

    rows = stack_status(settings_from(ctx), only=only)
    if as_json:
        click.echo(json.dumps([asdict(r) for r in rows], indent=2))
    else:
        click.echo(f"{'SERVER':<11} {'STATE':<13} {'PID':<8} {'UPTIME':<8} {'URL':<32} DETAIL")
        for r in rows:
            uptime = f"{r.uptime_s:.0f}s" if r.uptime_s is not None else "-"
            click.echo(f"{r.name:<11} {r.state:<13} {r.pid or '-'!s:<8} {uptime:<8} {r.url or '-':<32} {r.detail}")
    if any(r.state != "healthy" for r in rows):
        ctx.exit(1)
