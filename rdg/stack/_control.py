"""``up``, ``down``, ``status`` for the local stack, and :func:`start_for_tests` for pytest.

Each server lives in ``<stack_dir>/run/<name>/`` (config, data, ``server.log``, ``state.json``).
``up`` checks every port before starting anything, starts the servers, waits until each
answers a real request, and stops everything it started if one of them fails. ``down`` stops
only processes that ``up`` started (by the pid it recorded).

>>> parse_only("kafka, nats")
['nats', 'kafka']
>>> parse_only("kafak")
Traceback (most recent call last):
...
rdg.errors.ConfigError: unknown server 'kafak' (did you mean 'kafka'?) (hint: choose from nats, kafka, janusgraph)
"""

from __future__ import annotations

import difflib
import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Callable, Iterator, Mapping, Sequence

from rdg.config import Settings, load_settings
from rdg.errors import ConfigError, RdgError
from rdg.stack import _janusgraph, _kafka, _nats
from rdg.stack._plan import HOST, Plan, PortSpec
from rdg.stack._process import (
    ProcessInfo,
    check_port_free,
    free_ports,
    is_ours,
    port_in_use,
    read_state,
    spawn,
    stop,
    wait_healthy,
)

__all__ = ["SERVERS", "ServerStatus", "down", "parse_only", "prepare", "start_for_tests", "status", "up"]

SERVERS: dict[str, ModuleType] = {"nats": _nats, "kafka": _kafka, "janusgraph": _janusgraph}
"""Every server ``rdg stack`` knows, in start order."""

DEFAULT_TIMEOUT = 180.0
Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    """A progress callback that prints nothing."""


@dataclass(frozen=True)
class ServerStatus:
    """One row of ``rdg stack status``."""

    name: str
    """Server name."""
    state: str
    """``healthy``, ``unhealthy`` (running but not answering), ``stopped`` or ``never started``."""
    url: str | None
    """What clients connect to."""
    pid: int | None
    """Process id while running."""
    uptime_s: float | None
    """Seconds since the start, while running."""
    home: str
    """The server's folder (config, data, log)."""
    detail: str = ""
    """Version, backend, or why it is unhealthy."""


def parse_only(only: str | Sequence[str] | None) -> list[str]:
    """Turn ``--only nats,kafka`` into known server names, in start order.

    Raises:
        ConfigError: A name that is not a server rdg knows.
    """
    if not only:
        return list(SERVERS)
    items = only.split(",") if isinstance(only, str) else [p for part in only for p in part.split(",")]
    wanted = [item.strip().lower() for item in items if item.strip()]
    for name in wanted:
        if name not in SERVERS:
            close = difflib.get_close_matches(name, SERVERS, n=1)
            guess = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"unknown server '{name}'{guess}", hint=f"choose from {', '.join(SERVERS)}")
    return [name for name in SERVERS if name in wanted]


def _home(settings: Settings, name: str) -> Path:
    return Path(settings.stack_dir).expanduser() / "run" / name


def _port_specs(name: str, ports: Mapping[str, int]) -> list[PortSpec]:
    """Every port of server ``name`` from ``ports`` (keys ``nats``, ``nats_monitor``, ``kafka``,
    ``kafka_controller``, ``janusgraph``); a derived port missing or 0 follows its main port."""
    if name == "nats":
        return _nats.ports(ports["nats"], ports.get("nats_monitor"))
    if name == "kafka":
        return _kafka.ports(ports["kafka"], ports.get("kafka_controller"))
    return _janusgraph.ports(ports["janusgraph"])


def _chosen_ports(settings: Settings, overrides: Mapping[str, int] | None) -> dict[str, int]:
    chosen = {"nats": settings.nats_port, "nats_monitor": settings.nats_monitor_port,
              "kafka": settings.kafka_port, "kafka_controller": settings.kafka_controller_port,
              "janusgraph": settings.janusgraph_port}
    chosen.update(overrides or {})
    return chosen


def _plan(name: str, home: Path, specs: list[PortSpec], *, stack_dir: str, backend: str,
          progress: Progress, secure: bool = False, nats_server: str | None = None,
          jvm_options: Sequence[str] = ()) -> Plan:
    if name == "nats":
        if jvm_options:
            raise ConfigError("jvm_options were given for nats-server, which is not a Java server",
                              hint="they apply to kafka and janusgraph")
        return _nats.plan(home, specs, secure=secure, stack_dir=stack_dir, chosen=nats_server, progress=progress)
    if name == "kafka":
        return _kafka.plan(home, specs, stack_dir=stack_dir, progress=progress, secure=secure, jvm_options=jvm_options)
    return _janusgraph.plan(home, specs, stack_dir=stack_dir, backend=backend, progress=progress, secure=secure,
                            jvm_options=jvm_options)


def _healthy(info: ProcessInfo) -> bool:
    try:
        secured = Path(info.home) if info.extra.get("secure") else None  # where its client secrets are
        return bool(SERVERS[info.name].healthy(info.ports, info.url, secured))
    except Exception:  # noqa: BLE001 - any failure to answer means "not healthy"
        return False


def _preflight(names: Sequence[str]) -> None:
    """Fail early, before anything starts, if a tool is missing."""
    if "kafka" in names or "janusgraph" in names:
        from rdg.stack._maven import java_binary

        java_binary()


def prepare(settings: Settings, *, only: str | Sequence[str] | None = None,
            progress: Progress = _quiet) -> dict[str, str]:
    """Fetch the jars and build ``nats-server`` now, starting nothing (``rdg stack fetch``): later
    starts need no network. Returns ``{server: what it will run}``.

    Raises:
        EnvironmentMissingError: Java, Maven, or both Go and a system nats-server are missing.
        ServerError: Maven or Go failed.
    """
    from rdg.stack._maven import fetch_jars, pom_version

    ready: dict[str, str] = {}
    for name in parse_only(only):
        if name == "nats":
            path = _nats.binary(settings.stack_dir, chosen=settings.nats_server, progress=progress)
            ready[name] = f"nats-server {_nats.version_of(path)} ({path})"
        else:
            ready[name] = f"{name} {pom_version(name)} ({fetch_jars(name, settings.stack_dir, progress=progress)})"
    return ready


def _start_all(
    plans: Sequence[tuple[Plan, Path]],
    *,
    timeout: float,
    progress: Progress,
    tied_to_parent: bool = False,
) -> list[ProcessInfo]:
    """Spawn every plan, then wait for each to be healthy; on any failure stop them all."""
    started: list[ProcessInfo] = []
    try:
        for plan, home in plans:
            progress(f"starting {plan.name} on {plan.url} (log: {home / 'server.log'})")
            started.append(spawn(plan.name, plan.argv, home=home, url=plan.url, ports=plan.ports,
                                 env=plan.env, extra=plan.extra, tied_to_parent=tied_to_parent))
        for info in started:
            took = wait_healthy(info, lambda info=info: _healthy(info), timeout=timeout, progress=progress)
            version = f"version {info.extra['version']}, " if info.extra.get("version") else ""
            progress(f"{info.name} is healthy on {info.url} ({version}pid {info.pid}, {took:.1f}s)")
    except BaseException:
        for info in started:
            if stop(info):
                progress(f"stopped {info.name} (pid {info.pid}) so nothing is left half-running")
        raise
    return started


def up(
    settings: Settings,
    *,
    only: str | Sequence[str] | None = None,
    backend: str | None = None,
    ports: Mapping[str, int] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    fresh: bool = False,
    secure: bool = False,
    progress: Progress = _quiet,
) -> list[ProcessInfo]:
    """Start the local servers that are not already running, and wait until they are healthy.

    Args:
        settings: Where the cache and data live (``stack_dir``), default ports and backend.
        only: Server names (``"nats,kafka"``); all three by default.
        backend: JanusGraph storage, ``inmemory`` or ``berkeleyje`` (default from settings).
        ports: Ports overriding the settings, keyed ``nats``, ``nats_monitor``, ``kafka``,
            ``kafka_controller``, ``janusgraph`` (a derived port left out or 0 follows its main one).
        timeout: Seconds to wait for each server to answer.
        fresh: Delete the servers' data first (not the jar cache).
        secure: NATS with TLS and an nkey user, Kafka with SASL_SSL, JanusGraph with TLS and a
            password (see each module's ``plan``).
        progress: Called with each progress line.

    Returns:
        One :class:`ProcessInfo` per server, including ones that were already running.

    Raises:
        ConfigError: An unknown server or backend, or ports that clash.
        EnvironmentMissingError: Java, Maven or nats-server is missing.
        ServerError: A port is in use, or a server failed to start (its last log lines shown).
    """
    names = parse_only(only)
    backend = backend or settings.janusgraph_backend
    if backend not in _janusgraph.BACKENDS:
        raise ConfigError(f"unknown JanusGraph backend {backend!r}",
                          hint=f"use one of: {', '.join(_janusgraph.BACKENDS)}")
    chosen = _chosen_ports(settings, ports)
    running: list[ProcessInfo] = []
    to_start: list[str] = []
    for name in names:
        info = read_state(_home(settings, name))
        if info is not None and is_ours(info.pid, info.home):
            progress(f"{name} is already running on {info.url} (pid {info.pid})")
            running.append(info)
        else:
            to_start.append(name)
    if not to_start:
        return running
    _preflight(to_start)
    specs = {name: _port_specs(name, chosen) for name in to_start}
    seen: dict[int, str] = {}
    for name, plist in specs.items():
        for spec in plist:
            if spec.port in seen:
                raise ConfigError(f"{name} {spec.role} port {spec.port} clashes with {seen[spec.port]}",
                                  hint=f"give each its own port ({spec.flag} moves the {name} {spec.role})")
            seen[spec.port] = f"{name} {spec.role}"
    for name, plist in specs.items():
        for spec in plist:
            check_port_free(spec.port, what=f"{name} {spec.role}", flag=spec.flag)
    plans: list[tuple[Plan, Path]] = []
    for name in to_start:
        home = _home(settings, name)
        if fresh:
            shutil.rmtree(home / "data", ignore_errors=True)
        plans.append((_plan(name, home, specs[name], stack_dir=settings.stack_dir, backend=backend,
                            progress=progress, secure=secure, nats_server=settings.nats_server), home))
    return running + _start_all(plans, timeout=timeout, progress=progress)


def down(settings: Settings, *, only: str | Sequence[str] | None = None,
         progress: Progress = _quiet) -> list[tuple[str, int | None]]:
    """Stop the servers ``up`` started (only those pids). Returns ``(name, pid or None)``."""
    result: list[tuple[str, int | None]] = []
    for name in reversed(parse_only(only)):
        info = read_state(_home(settings, name))
        if info is not None and stop(info):
            progress(f"stopped {name} (pid {info.pid})")
            result.append((name, info.pid))
        else:
            progress(f"{name} was not running")
            result.append((name, None))
    return result


def _external(settings: Settings, name: str, home: Path) -> ServerStatus | None:
    """A healthy server on the configured port that ``rdg stack up`` did not start, if any."""
    chosen = _chosen_ports(settings, None)
    port = chosen[name]
    ports = {spec.role: spec.port for spec in _port_specs(name, chosen)}
    url = {"nats": f"nats://{HOST}:{port}", "kafka": f"{HOST}:{port}", "janusgraph": f"ws://{HOST}:{port}/gremlin"}[name]
    probe = ProcessInfo(name=name, pid=0, url=url, home=str(home), ports=ports)
    if not port_in_use(port) or not _healthy(probe):
        return None
    return ServerStatus(name, "healthy", url, None, None, str(home), "not started by rdg stack")


def status(settings: Settings, *, only: str | Sequence[str] | None = None) -> list[ServerStatus]:
    """Whether each server is running and answering a real request.

    A server that ``rdg stack up`` did not start but that answers on the configured port
    (another ``stack_dir``, Docker, a system service) shows as healthy, "not started by rdg stack".
    """
    rows = []
    for name in parse_only(only):
        home = _home(settings, name)
        info = read_state(home)
        if info is None or not is_ours(info.pid, info.home):
            external = _external(settings, name, home)
            if external is not None:
                rows.append(external)
            elif info is None:
                rows.append(ServerStatus(name, "never started", None, None, None, str(home)))
            else:
                detail = ", ".join(f"{k} {v}" for k, v in sorted(info.extra.items()))
                rows.append(ServerStatus(name, "stopped", info.url, None, None, info.home, detail))
            continue
        detail = ", ".join(f"{k} {v}" for k, v in sorted(info.extra.items()))
        state = "healthy" if _healthy(info) else "unhealthy"
        rows.append(ServerStatus(name, state, info.url, info.pid, time.time() - info.started_at, info.home, detail))
    return rows


@contextmanager
def start_for_tests(name: str, directory: str | os.PathLike[str], *,
                    timeout: float = DEFAULT_TIMEOUT, secure: bool = False, backend: str = "inmemory",
                    jvm_options: Sequence[str] = (), progress: Progress = _quiet) -> Iterator[str]:
    """Start one real server on free ports under ``directory``; yield its URL; stop it after.

    The server is also told to stop if this Python process dies. Jars come from the usual
    cache (``RDG_STACK_DIR`` or ``~/.cache/rdg``). Also what a benchmark uses for a private
    server, e.g. a persistent JanusGraph with a bigger heap::

        with start_for_tests("janusgraph", folder, backend="berkeleyje", jvm_options=["-Xmx4g"]) as url:
            ...

    Args:
        name: ``nats``, ``kafka`` or ``janusgraph``.
        directory: A fresh folder for the server's config, data and log (``directory/<name>``).
        secure: TLS and logins (settings for clients from each module's ``client_settings``).
        backend: JanusGraph's storage, ``inmemory`` (the default) or ``berkeleyje``.
        jvm_options: Kafka's or JanusGraph's extra Java options, after the defaults
            (``-Xms256m -Xmx1g``), so a later ``-Xmx`` wins.
        progress: Told about a first build or fetch, and the server's version once it is healthy.

    Raises:
        ConfigError: An unknown backend, or ``jvm_options`` for nats.
        RdgError: The server could not start; the message has its last log lines.
    """
    (server,) = parse_only(name)
    settings = load_settings(config_file=None)
    stack_dir = settings.stack_dir
    home = Path(directory) / server
    _preflight([server])
    main, derived = free_ports(2)  # distinct, and neither derived from the other
    specs = _port_specs(server, {server: main, f"{server}_controller": derived, f"{server}_monitor": derived})
    plan = _plan(server, home, specs, stack_dir=stack_dir, backend=backend, progress=progress, secure=secure,
                 nats_server=settings.nats_server, jvm_options=jvm_options)
    try:
        (info,) = _start_all([(plan, home)], timeout=timeout, progress=progress, tied_to_parent=True)
    except RdgError as err:
        raise type(err)(f"could not start {server} for the tests: {err.message}", hint=err.hint) from err
    try:
        yield info.url
    finally:
        stop(info)
