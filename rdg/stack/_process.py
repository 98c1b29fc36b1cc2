"""Start, watch and stop one server process: pid file, log file, health wait, stop by pid.

Every server rdg starts lives in its own *home* folder (config, data, ``server.log``,
``server.pid``, ``state.json``). We only ever signal a pid whose command line mentions that
home folder, so a recycled pid or someone else's server is never touched.

>>> port = free_port()
>>> 1024 <= port < 65536 and not port_in_use(port)
True
>>> a, b, c = free_ports(3)
>>> len({a, b, c})
3
>>> tail_lines(Path("/nonexistent/server.log"))
'(no log written)'
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

from rdg.errors import RdgTimeoutError, ServerError

__all__ = [
    "ProcessInfo",
    "launch",
    "check_port_free",
    "free_port",
    "free_ports",
    "is_ours",
    "pid_alive",
    "port_in_use",
    "read_state",
    "spawn",
    "stop",
    "tail_lines",
    "wait_healthy",
]

LOG_NAME = "server.log"
PID_NAME = "server.pid"
STATE_NAME = "state.json"


@dataclass
class ProcessInfo:
    """What ``state.json`` records about one server we started."""

    name: str
    """Server name: ``nats``, ``kafka`` or ``janusgraph``."""
    pid: int
    """Process id of the server (also the id of its process group)."""
    url: str
    """What clients connect to, e.g. ``127.0.0.1:9092``."""
    home: str
    """The server's own folder: config, data and log."""
    ports: dict[str, int] = field(default_factory=dict)
    """Every port the server listens on, by role (``client``, ``controller``, ``monitor``)."""
    started_at: float = 0.0
    """Unix time of the start."""
    extra: dict[str, str] = field(default_factory=dict)
    """Server-specific facts (version, backend)."""

    @property
    def log(self) -> Path:
        """The server's log file."""
        return Path(self.home) / LOG_NAME


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    return free_ports(1, host)[0]


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """``n`` distinct TCP ports nobody listens on right now.

    All ``n`` sockets stay bound until every port is chosen, so the OS cannot hand the same
    port out twice; ask for every port a server (or a test) needs in one call. Never derive a
    port from another one (``port + 1``): the OS may have given that one to someone else.
    """
    socks: list[socket.socket] = []
    try:
        for _ in range(n):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(sock)
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True if something already listens on (or holds) ``host:port``.

    Sockets of a just-stopped server that linger in TIME_WAIT do not count (servers bind
    with ``SO_REUSEADDR`` too).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def _holder(port: int) -> str:
    """Best effort: which process listens on ``port`` (from /proc), for error messages."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if len(cols) > 9 and cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(cols[9])
    if not inodes:
        return ""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                link = os.readlink(fd)
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                    return f" by pid {proc.name} ({cmd[:80].strip()})"
        except OSError:
            continue
    return ""


def check_port_free(port: int, *, what: str, flag: str) -> None:
    """Raise a clear :class:`ServerError` if ``port`` is taken.

    Args:
        port: The port the server wants.
        what: Which server and role, for the message (``"kafka broker"``).
        flag: The option or setting that moves it (``"--kafka-port"``).
    """
    if port_in_use(port):
        msg = f"port {port} for the {what} is already in use{_holder(port)}"
        raise ServerError(msg, hint=f"stop whatever holds it, or pick another port with {flag}")


def pid_alive(pid: int) -> bool:
    """True if a process with this pid exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def is_ours(pid: int, home: str | os.PathLike[str]) -> bool:
    """True if ``pid`` is alive and its command line mentions our ``home`` folder."""
    if not pid_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    return str(home) in cmdline


def tail_lines(log: Path, n: int = 25) -> str:
    """The last ``n`` lines of a log file (Java stack frames skipped), for error messages."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log written)"
    useful = [line for line in lines if not line.lstrip().startswith("at ")]
    return "\n".join(useful[-n:]) or "(log is empty)"


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to SIGTERM the child when the process that started it exits (tests only)."""
    os.setsid()
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def launch(argv: Sequence[str], *, log: Path | None = None, cwd: str | os.PathLike[str] | None = None,
           env: dict[str, str] | None = None, detached: bool = True, tied_to_parent: bool = False,
           ) -> subprocess.Popen[bytes]:
    """Start a process rdg built the command line of (never from input): the one way rdg starts
    servers, pipeline supervisors and workers, and simulator processes.

    Args:
        argv: The command line.
        log: Appends stdout and stderr here (``None``: inherit this process's).
        cwd: Working folder.
        env: The whole environment (default: this process's).
        detached: In a session of its own, so a Ctrl-C here does not reach it.
        tied_to_parent: Also SIGTERMed when this process exits (tests, benchmarks).

    >>> proc = launch(["true"]); proc.wait()
    0
    """
    out = open(log, "ab") if log is not None else None  # noqa: SIM115 - handed to the child
    try:
        return subprocess.Popen(  # noqa: S603 - argv is built by rdg, never from input
            list(argv), cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT if out else None,
            env=env, preexec_fn=_die_with_parent if tied_to_parent else None,  # noqa: PLW1509
            start_new_session=detached and not tied_to_parent,
        )
    finally:
        if out is not None:
            out.close()


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    home: Path,
    url: str,
    ports: Mapping[str, int],
    env: Mapping[str, str] | None = None,
    extra: Mapping[str, str] | None = None,
    tied_to_parent: bool = False,
) -> ProcessInfo:
    """Start ``argv`` in the background with its output in ``home/server.log``.

    Writes ``server.pid`` and ``state.json``. The process gets its own session, so stopping
    it stops its children too.

    Args:
        name: Server name.
        argv: Command line; it must mention ``home`` (so :func:`is_ours` can recognise it).
        home: The server's folder (created if needed).
        url: What clients will connect to.
        ports: Ports by role, recorded in ``state.json``.
        env: Extra environment variables.
        extra: Server-specific facts for ``state.json``.
        tied_to_parent: Stop the server when this Python process exits (for tests).
    """
    home.mkdir(parents=True, exist_ok=True)
    with open(home / LOG_NAME, "ab") as log:
        log.write(f"\n--- rdg: starting {name}: {' '.join(argv)}\n".encode())
    try:
        proc = launch(argv, log=home / LOG_NAME, cwd=home, env={**os.environ, **(env or {})},
                      tied_to_parent=tied_to_parent)
    except OSError as err:
        raise ServerError(f"could not start {name}: {err}") from err
    info = ProcessInfo(name=name, pid=proc.pid, url=url, home=str(home), ports=dict(ports),
                       started_at=time.time(), extra=dict(extra or {}))
    (home / PID_NAME).write_text(f"{proc.pid}\n")
    (home / STATE_NAME).write_text(json.dumps(asdict(info), indent=2))
    info._popen = proc  # type: ignore[attr-defined]  # reaped by stop() when we own it
    return info


def read_state(home: Path) -> ProcessInfo | None:
    """The :class:`ProcessInfo` recorded in ``home/state.json``, or ``None``."""
    try:
        data = json.loads((home / STATE_NAME).read_text())
        return ProcessInfo(**data)
    except (OSError, ValueError, TypeError):
        return None


def wait_healthy(
    info: ProcessInfo,
    check: Callable[[], bool],
    *,
    timeout: float,
    progress: Callable[[str], None] | None = None,
) -> float:
    """Poll ``check`` until it returns True; return the seconds it took.

    Raises:
        ServerError: The process exited first (its last log lines are in the message).
        RdgTimeoutError: Not healthy within ``timeout`` seconds (last log lines included).
    """
    start = time.monotonic()
    next_note = start + 10
    while True:
        if not pid_alive(info.pid):
            msg = f"{info.name} exited while starting; last lines of {info.log}:\n{tail_lines(info.log)}"
            raise ServerError(msg, hint="fix the cause above, then run the command again")
        try:
            if check():
                return time.monotonic() - start
        except Exception:  # noqa: BLE001,S110 - not up yet; keep polling
            pass
        now = time.monotonic()
        if now - start > timeout:
            msg = (f"{info.name} did not become healthy within {timeout:.0f}s; "
                   f"last lines of {info.log}:\n{tail_lines(info.log)}")
            raise RdgTimeoutError(msg, hint="the machine may be busy: retry with a larger --timeout")
        if progress and now >= next_note:
            progress(f"  still waiting for {info.name} ({now - start:.0f}s)...")
            next_note = now + 10
        time.sleep(0.25)


def stop(info: ProcessInfo, *, timeout: float = 30.0) -> bool:
    """Stop the server (SIGTERM to its process group, SIGKILL after ``timeout``).

    Only acts if the pid is still ours (see :func:`is_ours`). Removes ``server.pid``.
    Returns True if a process was stopped.
    """
    home = Path(info.home)
    stopped = False
    popen = getattr(info, "_popen", None)
    if is_ours(info.pid, home):
        stopped = True
        _signal(info.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while pid_alive(info.pid) and time.monotonic() < deadline:
            if popen is not None and popen.poll() is not None:
                break
            time.sleep(0.1)
        if pid_alive(info.pid) and (popen is None or popen.poll() is None):
            _signal(info.pid, signal.SIGKILL)
            deadline = time.monotonic() + 5
            while pid_alive(info.pid) and time.monotonic() < deadline:
                time.sleep(0.05)
    if popen is not None:
        try:
            popen.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILLed above
            pass
    (home / PID_NAME).unlink(missing_ok=True)
    return stopped


def _signal(pid: int, sig: int) -> None:
    """Signal the process group led by ``pid`` (our servers lead their own), else the pid."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass
