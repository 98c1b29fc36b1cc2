"""The process helper: ports, pid ownership, health waits that show the log, stop by pid."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from rdg.errors import RdgTimeoutError, ServerError
from rdg.stack._process import (
    check_port_free,
    free_port,
    is_ours,
    pid_alive,
    port_in_use,
    read_state,
    spawn,
    stop,
    tail_lines,
    wait_healthy,
)

pytestmark = pytest.mark.timeout(60)


def _sleeper(home: Path, body: str = "import time; time.sleep(120)") -> list[str]:
    # The home folder is in argv, as for every real server, so is_ours() recognises it.
    return [sys.executable, "-c", body, str(home)]


def test_free_port_is_free_and_a_listener_makes_it_busy() -> None:
    port = free_port()
    assert not port_in_use(port)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        assert port_in_use(port)
        with pytest.raises(ServerError) as err:
            check_port_free(port, what="kafka client", flag="--kafka-port")
    assert f"port {port} for the kafka client is already in use" in str(err.value)
    assert "--kafka-port" in str(err.value)
    assert "pid " in str(err.value)  # names the process holding it (this one)


def test_spawn_records_state_and_stop_kills_only_ours(tmp_path: Path) -> None:
    home = tmp_path / "srv"
    info = spawn("demo", _sleeper(home), home=home, url="x://1", ports={"client": 1})
    try:
        assert (home / "server.pid").read_text().strip() == str(info.pid)
        again = read_state(home)
        assert again is not None and (again.pid, again.url, again.ports) == (info.pid, "x://1", {"client": 1})
        assert is_ours(info.pid, home)
        assert not is_ours(info.pid, tmp_path / "someone-else")
    finally:
        assert stop(info, timeout=10)
    assert not pid_alive(info.pid)
    assert not (home / "server.pid").exists()
    assert stop(info) is False  # already gone: nothing to do, no error


def test_stop_refuses_a_pid_that_is_not_ours(tmp_path: Path) -> None:
    home = tmp_path / "srv"
    other = spawn("other", _sleeper(tmp_path / "other"), home=tmp_path / "other", url="", ports={})
    try:
        info = read_state(tmp_path / "other")
        assert info is not None
        info.home = str(home)  # a state file whose pid now belongs to something else
        assert stop(info) is False
        assert pid_alive(other.pid)
    finally:
        stop(other, timeout=10)


def test_wait_healthy_shows_the_last_log_lines_when_the_server_dies(tmp_path: Path) -> None:
    home = tmp_path / "srv"
    body = "import sys; print('starting up'); print('FATAL: cannot open data dir', flush=True); sys.exit(3)"
    info = spawn("demo", _sleeper(home, body), home=home, url="", ports={})
    with pytest.raises(ServerError) as err:
        wait_healthy(info, lambda: False, timeout=30)
    assert "demo exited while starting" in str(err.value)
    assert "FATAL: cannot open data dir" in str(err.value)
    stop(info)


def test_wait_healthy_times_out_with_the_log(tmp_path: Path) -> None:
    home = tmp_path / "srv"
    info = spawn("slow", _sleeper(home, "print('warming up', flush=True); import time; time.sleep(60)"),
                 home=home, url="", ports={})
    try:
        with pytest.raises(RdgTimeoutError) as err:
            wait_healthy(info, lambda: False, timeout=1)
        assert "did not become healthy within 1s" in str(err.value)
        assert "warming up" in str(err.value)
        assert isinstance(err.value, TimeoutError)
    finally:
        stop(info, timeout=10)


def test_wait_healthy_returns_when_the_check_passes(tmp_path: Path) -> None:
    home = tmp_path / "srv"
    info = spawn("ok", _sleeper(home), home=home, url="", ports={})
    calls = []
    try:
        took = wait_healthy(info, lambda: calls.append(1) or len(calls) >= 3, timeout=30)
        assert took >= 0 and len(calls) == 3
    finally:
        stop(info, timeout=10)


def test_tail_lines_skips_java_stack_frames(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text("one\njava.lang.RuntimeException: boom\n\tat a.b.C(C.java:1)\n\tat d.E(E.java:2)\nlast\n")
    assert tail_lines(log, 3) == "one\njava.lang.RuntimeException: boom\nlast"
