"""NATS server with JetStream: the stack's own build of the current release, else ``nats-server``
from ``PATH`` (Debian's package).

Which binary runs (:func:`binary`):

1. ``nats_server`` (setting ``RDG_NATS_SERVER``), if set: that file;
2. the stack's build of :data:`VERSION` under ``<stack_dir>/bin/``; the first start builds it
   with ``go install`` (about a minute on two cores) when Go is installed;
3. ``nats-server`` on ``PATH`` or ``/usr/sbin`` (Debian 12 ships 2.9.10): everything works, and
   :mod:`rdg.workflow` uses what it can (see ``docs/decisions.md``).

>>> [p.role for p in ports(4222)]
['client', 'monitor']
>>> ports(4222)[1].port
8222
>>> VERSION
'2.15.3'
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Callable

from rdg.errors import EnvironmentMissingError, ServerError
from rdg.stack._plan import HOST, Plan, PortSpec

__all__ = ["GATEWAY_DENIED", "MODULE", "NAME", "VERSION", "binary", "build", "client_settings", "healthy", "plan",
           "ports", "version_of"]

GATEWAY_DENIED = ("rdg.>", "$KV.>", "$JS.API.STREAM.DELETE.>", "$JS.API.STREAM.PURGE.>",
                  "$JS.API.STREAM.MSG.DELETE.>")
"""Subjects the gateway user of a secured stack may not publish to: every rdg data subject
(every namespace's subjects begin with ``rdg.``: broadcasts ``rdg.<ns>.live.bcast.*``, workflow
events and tasks ``rdg.<ns>.wf.*``; see :class:`rdg.bus.Namespace`), KV writes, and the
JetStream calls that delete or purge."""

NAME = "nats"
VERSION = "2.15.3"
"""The nats-server release the stack builds and tests run on."""
MODULE = "github.com/nats-io/nats-server/v2"
_HINT = (f"install Go (the stack then builds nats-server {VERSION} itself), or apt-get install -y nats-server, "
         "or set RDG_NATS_SERVER to a nats-server binary")


def _go() -> str | None:
    return shutil.which("go") or next((p for p in ("/usr/local/go/bin/go", "/usr/lib/go/bin/go")
                                       if os.access(p, os.X_OK)), None)


def _system() -> str | None:
    return shutil.which("nats-server") or ("/usr/sbin/nats-server" if Path("/usr/sbin/nats-server").exists() else None)


def build(stack_dir: str | os.PathLike[str], *, progress: Callable[[str], None] | None = None) -> Path:
    """The stack's ``nats-server`` :data:`VERSION`, built with ``go install`` the first time.

    Raises:
        EnvironmentMissingError: Go is not installed.
        ServerError: The build failed; the message has Go's last lines.
    """
    target = Path(stack_dir) / "bin" / f"nats-server-{VERSION}" / "nats-server"
    if os.access(target, os.X_OK):
        return target
    go = _go()
    if not go:
        raise EnvironmentMissingError(f"Go is not installed, so nats-server {VERSION} cannot be built", hint=_HINT)
    target.parent.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent.parent / ".nats-server.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be building it
        if os.access(target, os.X_OK):
            return target
        if progress:
            progress(f"building nats-server {VERSION} with Go into {target.parent} (first time only, about a minute)...")
        work = target.parent.with_name(target.parent.name + ".partial")
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        env = {**os.environ, "GOBIN": str(work), "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"}
        try:
            done = subprocess.run([go, "install", f"{MODULE}@v{VERSION}"], capture_output=True, text=True,
                                  env=env, timeout=900, check=False)
        except subprocess.TimeoutExpired as err:
            raise ServerError(f"building nats-server {VERSION} took over 15 minutes", hint=_HINT) from err
        if done.returncode != 0 or not (work / "nats-server").exists():
            last = "\n".join((done.stdout + done.stderr).strip().splitlines()[-10:])
            raise ServerError(f"Go could not build nats-server {VERSION}:\n{last}",
                              hint="check access to the Go module proxy (GOPROXY), or " + _HINT)
        shutil.rmtree(target.parent, ignore_errors=True)
        work.rename(target.parent)
        if progress:
            progress(f"built nats-server {VERSION}")
    return target


def binary(stack_dir: str | os.PathLike[str] | None = None, *, chosen: str | None = None,
           progress: Callable[[str], None] | None = None) -> str:
    """Path of the ``nats-server`` to run (the order is in the module's docstring); public as
    ``rdg.stack.nats_server_binary``. ``binary(None)`` is the system's, ``binary(stack_dir)``
    the stack's build (built now if need be).

    >>> import sys
    >>> from rdg.stack import nats_server_binary
    >>> nats_server_binary(None, chosen=sys.executable) == sys.executable  # the setting nats_server wins
    True

    Args:
        stack_dir: The stack cache root (``Settings.stack_dir``); ``None``: do not build, use ``PATH``.
        chosen: A binary the user named (setting ``nats_server``).
        progress: Told about a first build, or why the older system binary runs.

    Raises:
        EnvironmentMissingError: No way to get a nats-server.
    """
    if chosen:
        if not os.access(chosen, os.X_OK):
            raise EnvironmentMissingError(f"nats_server {chosen!r} is not an executable file",
                                          hint="set RDG_NATS_SERVER to a nats-server binary, or unset it")
        return chosen
    fallback = _system()
    if stack_dir is not None:
        try:
            return str(build(stack_dir, progress=progress))
        except (EnvironmentMissingError, ServerError) as err:
            if not fallback:
                raise
            if progress:
                progress(f"using {fallback} ({version_of(fallback)}) instead of nats-server {VERSION}: {err.message}")
    if not fallback:
        raise EnvironmentMissingError("no nats-server: it is not built and not installed", hint=_HINT)
    return fallback


def ports(port: int, monitor: int | None = None) -> list[PortSpec]:
    """The client port, and the HTTP monitoring port (client + 4000 unless given, or given as 0)."""
    mon = monitor or (port + 4000 if port + 4000 < 65536 else port - 4000)
    return [PortSpec("client", port, "--nats-port"), PortSpec("monitor", mon, "--nats-monitor-port")]


def version_of(nats: str) -> str:
    """The version a ``nats-server`` binary reports (``2.15.3``), or ``unknown``; public as
    ``rdg.stack.nats_server_version``.

    >>> from rdg.stack import nats_server_version
    >>> nats_server_version("/no/such/nats-server")
    'unknown'
    """
    try:
        out = subprocess.run([nats, "--version"], capture_output=True, text=True, timeout=10, check=False)
        return out.stdout.strip().split()[-1].lstrip("v") if out.stdout.strip() else "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def plan(home: Path, specs: list[PortSpec], *, secure: bool = False, stack_dir: str | os.PathLike[str] | None = None,
         chosen: str | None = None, progress: Callable[[str], None] | None = None) -> Plan:
    """Start ``nats-server -js`` with its store under ``home/data`` (which binary: :func:`binary`;
    ``rdg stack status`` shows its version and path).

    ``secure``: clients must use TLS (a certificate from the stack's own CA, under ``home/tls``)
    and log in with one of two user nkeys (seeds in ``home/secrets``, 0600; the config file holds
    only public keys): ``rdg-user.nk`` may do everything; ``gateway-user.nk``, for gateways and
    the prefetch API, may read everything but publish no broadcast, write no KV record or
    workflow subject, and delete or purge no stream (:data:`GATEWAY_DENIED`). So only an
    authorised publisher's broadcasts reach devices. :func:`client_settings` gives the settings.
    """
    nats = binary(stack_dir, chosen=chosen, progress=progress)
    port = {s.role: s.port for s in specs}
    data = home / "data"
    data.mkdir(parents=True, exist_ok=True)
    extra = {"version": version_of(nats), "binary": nats}
    if not secure:
        argv = [nats, "-a", HOST, "-p", str(port["client"]), "-m", str(port["monitor"]), "-js", "-sd", str(data),
                "-n", f"rdg-{port['client']}"]
        return Plan(NAME, argv, f"nats://{HOST}:{port['client']}", port, extra=extra)
    from rdg.stack._tls import certificates, user_nkey

    tls = certificates(home / "tls")
    _, public = user_nkey(home / "secrets" / "rdg-user.nk")
    _, gateway = user_nkey(home / "secrets" / "gateway-user.nk")
    conf = home / "nats-secure.conf"
    client, monitor = port["client"], port["monitor"]
    q = json.dumps  # NATS config strings are JSON strings
    denied = ", ".join(q(subject) for subject in GATEWAY_DENIED)
    conf.write_text("\n".join([
        f"listen: {q(f'{HOST}:{client}')}",
        f"http: {q(f'{HOST}:{monitor}')}",
        f"server_name: {q(f'rdg-{client}')}",
        f"jetstream {{ store_dir: {q(str(data))} }}",
        f"tls {{ cert_file: {q(str(tls['server_cert']))}, key_file: {q(str(tls['server_key']))}, timeout: 2 }}",
        f"authorization {{ users = [ {{ nkey: {q(public)} }},",
        f"  {{ nkey: {q(gateway)}, permissions: {{ publish: {{ deny: [{denied}] }} }} }} ] }}",
        "",
    ]))
    extra.update(secure="tls + nkey")
    return Plan(NAME, [nats, "-c", str(conf)], f"tls://{HOST}:{port['client']}", port, extra=extra)


def client_settings(home: Path, url: str, *, role: str = "rdg") -> dict[str, str]:
    """Settings a client needs for a server started with ``secure``: ``{setting: value}``;
    ``role="gateway"`` for gateways and the prefetch API (no publishing of broadcasts).

    >>> client_settings(Path("/s/nats"), "tls://127.0.0.1:4222", role="gateway")["nats_nkey_seed_file"]
    '/s/nats/secrets/gateway-user.nk'
    """
    return {"nats_url": url, "nats_nkey_seed_file": str(home / "secrets" / f"{role}-user.nk"),
            "nats_tls_ca_file": str(home / "tls" / "ca.pem")}


def healthy(ports_by_role: dict[str, int], url: str, home: Path | None = None) -> bool:
    """True if the monitoring endpoint ``/healthz`` answers ``ok`` (JetStream included; plain HTTP on
    loopback even for a secured server, so ``home`` is not needed)."""
    monitor = ports_by_role["monitor"]
    with urllib.request.urlopen(f"http://{HOST}:{monitor}/healthz", timeout=2) as resp:  # noqa: S310
        body = json.loads(resp.read() or b"{}")
    return resp.status == 200 and body.get("status") == "ok"
