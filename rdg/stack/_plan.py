"""What every server module hands the orchestrator: a :class:`Plan` to start one server.

>>> render("port=$port", port=9092)
'port=9092'
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

__all__ = ["Plan", "PortSpec", "render", "tcp_open", "write_conf"]

HOST = "127.0.0.1"


@dataclass(frozen=True)
class PortSpec:
    """One port a server needs, and how a user moves it."""

    role: str
    """``client``, ``controller`` or ``monitor``."""
    port: int
    """The port number."""
    flag: str
    """Option that changes it, for the port-in-use message."""


@dataclass(frozen=True)
class Plan:
    """How to start one server: its command line, the URL clients use and its ports."""

    name: str
    """``nats``, ``kafka`` or ``janusgraph``."""
    argv: list[str]
    """Command line (mentions the server's home folder)."""
    url: str
    """What clients connect to."""
    ports: dict[str, int]
    """Ports by role."""
    extra: dict[str, str] = field(default_factory=dict)
    """Facts for ``state.json`` and ``rdg stack status`` (version, backend)."""
    env: dict[str, str] = field(default_factory=dict)
    """Extra environment variables."""


def render(template: str, **values: Any) -> str:
    """Fill ``$name`` placeholders; a missing value is an error (never a silent blank)."""
    return Template(template).substitute({k: str(v) for k, v in values.items()})


def write_conf(template_name: str, dest: Path, **values: Any) -> Path:
    """Render ``rdg/stack/conf/<template_name>`` into ``dest`` and return ``dest``."""
    text = (resources.files("rdg.stack") / "conf" / template_name).read_text()
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(render(text, **values))
    return dest


def tcp_open(port: int, host: str = HOST, timeout: float = 0.5) -> bool:
    """True if something accepts TCP connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        return sock.connect_ex((host, port)) == 0
