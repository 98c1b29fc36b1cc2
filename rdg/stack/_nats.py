"""NATS server with JetStream, from the ``nats-server`` binary (Debian package or newer).

>>> [p.role for p in ports(4222)]
['client', 'monitor']
>>> ports(4222)[1].port
8222
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from pathlib import Path

from rdg.errors import EnvironmentMissingError
from rdg.stack._plan import HOST, Plan, PortSpec

__all__ = ["GATEWAY_DENIED", "NAME", "binary", "client_settings", "healthy", "plan", "ports"]

GATEWAY_DENIED = ("rdg.>", "$KV.>", "$JS.API.STREAM.DELETE.>", "$JS.API.STREAM.PURGE.>",
                  "$JS.API.STREAM.MSG.DELETE.>")
"""Subjects the gateway user of a secured stack may not publish to: every rdg data subject
(broadcasts ``rdg.<ns>.bcast.*``, workflow events and tasks ``rdg.wf.*``), KV writes, and the
JetStream calls that delete or purge."""

NAME = "nats"
_HINT = "NATS is needed: apt-get install -y nats-server (or put a newer nats-server on PATH)"


def binary() -> str:
    """Path of ``nats-server``.

    Raises:
        EnvironmentMissingError: It is not installed.
    """
    found = shutil.which("nats-server") or ("/usr/sbin/nats-server" if Path("/usr/sbin/nats-server").exists() else None)
    if not found:
        raise EnvironmentMissingError("`nats-server` is not installed", hint=_HINT)
    return found


def ports(port: int, monitor: int | None = None) -> list[PortSpec]:
    """The client port, and the HTTP monitoring port (client + 4000 unless given, or given as 0)."""
    mon = monitor or (port + 4000 if port + 4000 < 65536 else port - 4000)
    return [PortSpec("client", port, "--nats-port"), PortSpec("monitor", mon, "--nats-monitor-port")]


def _version(nats: str) -> str:
    try:
        out = subprocess.run([nats, "--version"], capture_output=True, text=True, timeout=10, check=False)
        return out.stdout.strip().split()[-1].lstrip("v") if out.stdout.strip() else "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def plan(home: Path, specs: list[PortSpec], *, secure: bool = False) -> Plan:
    """Start ``nats-server -js`` with its store under ``home/data``.

    ``secure``: clients must use TLS (a certificate from the stack's own CA, under ``home/tls``)
    and log in with one of two user nkeys (seeds in ``home/secrets``, 0600; the config file holds
    only public keys): ``rdg-user.nk`` may do everything; ``gateway-user.nk``, for gateways and
    the prefetch API, may read everything but publish no broadcast, write no KV record or
    workflow subject, and delete or purge no stream (:data:`GATEWAY_DENIED`). So only an
    authorised publisher's broadcasts reach devices. :func:`client_settings` gives the settings.
    """
    nats = binary()
    port = {s.role: s.port for s in specs}
    data = home / "data"
    data.mkdir(parents=True, exist_ok=True)
    extra = {"version": _version(nats)}
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
