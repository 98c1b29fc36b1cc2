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

__all__ = ["NAME", "binary", "healthy", "plan", "ports"]

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


def plan(home: Path, specs: list[PortSpec]) -> Plan:
    """Start ``nats-server -js`` with its store under ``home/data``."""
    nats = binary()
    port = {s.role: s.port for s in specs}
    data = home / "data"
    data.mkdir(parents=True, exist_ok=True)
    argv = [nats, "-a", HOST, "-p", str(port["client"]), "-m", str(port["monitor"]), "-js", "-sd", str(data),
            "-n", f"rdg-{port['client']}"]
    return Plan(NAME, argv, f"nats://{HOST}:{port['client']}", port, extra={"version": _version(nats)})


def healthy(ports_by_role: dict[str, int], url: str) -> bool:
    """True if the monitoring endpoint ``/healthz`` answers ``ok`` (JetStream included)."""
    monitor = ports_by_role["monitor"]
    with urllib.request.urlopen(f"http://{HOST}:{monitor}/healthz", timeout=2) as resp:  # noqa: S310
        body = json.loads(resp.read() or b"{}")
    return resp.status == 200 and body.get("status") == "ok"
