"""``rdg stack up | status | down`` end to end, and every bad input it must refuse clearly."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from rdg.config import Settings
from rdg.stack import free_port, free_ports
from rdg.stack._maven import pom_version
from rdg.stack._nats import VERSION as nats_version
from rdg.stack._process import pid_alive, read_state

pytestmark = pytest.mark.timeout(240)


def _rdg(*args: str, stack_dir: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``rdg`` with its own stack folder and free default ports (never the dev servers')."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("RDG_")}
    base["RDG_STACK_DIR"] = str(stack_dir)
    base.update(_port_env())
    return subprocess.run([sys.executable, "-m", "rdg", *args], capture_output=True, text=True,
                          env={**base, **(env or {})}, timeout=230, check=False)


@pytest.fixture()
def stack_dir(tmp_path: Path) -> Path:
    """A private stack folder that shares the real jar and binary caches (nothing fetched or built twice)."""
    cache = Path(os.environ.get("RDG_STACK_DIR") or Settings().stack_dir)
    for shared in ("jars", "bin"):
        (cache / shared).mkdir(parents=True, exist_ok=True)
        (tmp_path / shared).symlink_to(cache / shared)
    return tmp_path


def _port_env() -> dict[str, str]:
    """Every port a stack needs, as settings: five distinct free ports, none derived."""
    names = ("NATS", "NATS_MONITOR", "KAFKA", "KAFKA_CONTROLLER", "JANUSGRAPH")
    return {f"RDG_{name}_PORT": str(port) for name, port in zip(names, free_ports(len(names)))}


def _ports() -> list[str]:
    nats, monitor, kafka, controller, janus = free_ports(5)
    return ["--nats-port", str(nats), "--nats-monitor-port", str(monitor), "--kafka-port", str(kafka),
            "--kafka-controller-port", str(controller), "--janusgraph-port", str(janus)]


@pytest.mark.integration
def test_up_status_down_leaves_nothing_running(stack_dir: Path) -> None:
    ports = _port_env()
    done = _rdg("stack", "up", stack_dir=stack_dir, env=ports)
    try:
        assert done.returncode == 0, done.stderr
        for name in ("nats", "kafka", "janusgraph"):
            assert f"{name} is healthy" in done.stderr
        assert f"RDG_GREMLIN_URL=ws://127.0.0.1:{ports['RDG_JANUSGRAPH_PORT']}/gremlin" in done.stderr
        status = _rdg("stack", "status", "--json", stack_dir=stack_dir, env=ports)
        rows = json.loads(status.stdout)
        assert status.returncode == 0
        assert [(r["name"], r["state"]) for r in rows] == [
            ("nats", "healthy"), ("kafka", "healthy"), ("janusgraph", "healthy")]
        assert f"version {pom_version('kafka')}" in rows[1]["detail"] and "backend inmemory" in rows[2]["detail"]
        assert f"version {nats_version}" in rows[0]["detail"], rows[0]  # the stack's build, not Debian's 2.9
        assert f"nats is healthy on nats://127.0.0.1:{ports['RDG_NATS_PORT']} (version {nats_version}" in done.stderr
        again = _rdg("stack", "up", *_ports(), stack_dir=stack_dir)  # other ports: still "already running"
        assert again.returncode == 0 and again.stderr.count("already running") == 3
        for name in ("nats", "kafka", "janusgraph"):
            assert (stack_dir / "run" / name / "server.log").stat().st_size > 0
    finally:
        pids = [info.pid for name in ("nats", "kafka", "janusgraph")
                if (info := read_state(stack_dir / "run" / name)) is not None]
        down = _rdg("stack", "down", stack_dir=stack_dir)
    assert down.returncode == 0, down.stderr
    assert down.stdout.count("stopped") == 3
    assert pids and not any(pid_alive(pid) for pid in pids)
    status = _rdg("stack", "status", stack_dir=stack_dir, env=ports)
    assert status.returncode == 1
    assert status.stdout.count("stopped") == 3


@pytest.mark.integration
def test_status_shows_a_healthy_server_that_rdg_did_not_start(stack_dir: Path, gremlin_url: str) -> None:
    port = gremlin_url.rsplit(":", 1)[1].split("/")[0]
    done = _rdg("stack", "status", "--only", "janusgraph", stack_dir=stack_dir, env={"RDG_JANUSGRAPH_PORT": port})
    assert done.returncode == 0, done.stdout
    assert "healthy" in done.stdout and "not started by rdg stack" in done.stdout


def test_unknown_server_name_suggests_the_right_one(stack_dir: Path) -> None:
    done = _rdg("stack", "up", "--only", "kafak", stack_dir=stack_dir)
    assert done.returncode == 2
    assert "unknown server 'kafak' (did you mean 'kafka'?)" in done.stderr


def test_unknown_setting_is_refused(stack_dir: Path) -> None:
    done = _rdg("--set", "kafka_prot=9999", "stack", "up", stack_dir=stack_dir)
    assert done.returncode == 2
    assert "unknown setting 'kafka_prot' (did you mean 'kafka_port'?)" in done.stderr
    assert not (stack_dir / "run").exists()


def test_unknown_backend_is_refused(stack_dir: Path) -> None:
    done = _rdg("stack", "up", "--backend", "cassandra", stack_dir=stack_dir)
    assert done.returncode == 2
    assert "'cassandra' is not one of 'inmemory', 'berkeleyje'" in done.stderr


def test_port_in_use_is_reported_and_nothing_starts(stack_dir: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = _rdg("stack", "up", "--only", "nats", "--nats-port", str(port), stack_dir=stack_dir)
    assert done.returncode == 1
    assert f"port {port} for the nats client is already in use" in done.stderr
    assert "--nats-port" in done.stderr
    assert read_state(stack_dir / "run" / "nats") is None


def test_a_taken_kafka_controller_port_names_its_own_flag(stack_dir: Path) -> None:
    broker, other = free_ports(2)
    with socket.socket() as busy:  # someone holds broker + 1, the derived controller port
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            busy.bind(("127.0.0.1", broker + 1))
        except OSError:
            pytest.fail(f"port {broker + 1} was taken before the test could take it; rerun")
        busy.listen()
        done = _rdg("stack", "up", "--only", "kafka", "--kafka-port", str(broker), stack_dir=stack_dir,
                    env={"RDG_KAFKA_CONTROLLER_PORT": "0"})  # 0: derived, broker + 1
    if done.returncode == 0:
        _rdg("stack", "down", stack_dir=stack_dir)
    assert done.returncode == 1
    assert f"port {broker + 1} for the kafka controller is already in use" in done.stderr
    assert "--kafka-controller-port" in done.stderr
    assert read_state(stack_dir / "run" / "kafka") is None


@pytest.mark.integration
def test_a_taken_kafka_controller_port_can_be_moved(stack_dir: Path) -> None:
    broker, controller = free_ports(2)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        env = {"RDG_KAFKA_PORT": str(broker), "RDG_KAFKA_CONTROLLER_PORT": str(taken)}
        refused = _rdg("stack", "up", "--only", "kafka", stack_dir=stack_dir, env=env)
        assert refused.returncode == 1 and "--kafka-controller-port" in refused.stderr
        done = _rdg("stack", "up", "--only", "kafka", "--kafka-controller-port", str(controller),
                    stack_dir=stack_dir, env=env)
    try:
        assert done.returncode == 0, done.stderr
        info = read_state(stack_dir / "run" / "kafka")
        assert info is not None and info.ports == {"client": broker, "controller": controller}
    finally:
        _rdg("stack", "down", "--only", "kafka", stack_dir=stack_dir)


def test_ports_that_clash_are_refused(stack_dir: Path) -> None:
    port = free_port()
    done = _rdg("stack", "up", "--only", "nats,janusgraph", "--nats-port", str(port),
                "--janusgraph-port", str(port), stack_dir=stack_dir)
    assert done.returncode == 2
    assert f"janusgraph client port {port} clashes with nats client" in done.stderr


@pytest.mark.integration
def test_a_server_that_fails_shows_its_log_and_the_others_are_stopped(stack_dir: Path) -> None:
    data = stack_dir / "run" / "kafka" / "data"
    data.mkdir(parents=True)
    (data / "meta.properties").write_text("broken=yes\n")  # Kafka refuses to start on this
    done = _rdg("stack", "up", "--only", "nats,kafka", stack_dir=stack_dir)  # free ports from _rdg
    assert done.returncode == 1
    assert "kafka exited while starting; last lines of" in done.stderr
    assert "Exiting Kafka due to fatal exception" in done.stderr  # Kafka's own log line
    assert "stopped nats" in done.stderr
    nats = read_state(stack_dir / "run" / "nats")
    assert nats is not None and not pid_alive(nats.pid)


def test_missing_java_says_how_to_install_it(stack_dir: Path, tmp_path: Path) -> None:
    empty_bin = tmp_path / "empty-path"
    empty_bin.mkdir()
    done = _rdg("stack", "up", "--only", "kafka", "--kafka-port", str(free_port()), stack_dir=stack_dir,
                env={"PATH": str(empty_bin), "JAVA_HOME": ""})
    assert done.returncode == 2
    assert "Java 17 is needed: apt-get install -y openjdk-17-jre-headless" in done.stderr
    assert read_state(stack_dir / "run" / "kafka") is None


def test_missing_maven_with_an_empty_cache_says_how_to_install_it(tmp_path: Path) -> None:
    java_only = tmp_path / "java-only-path"
    java_only.mkdir()
    java = os.path.realpath(subprocess.run(["which", "java"], capture_output=True, text=True).stdout.strip())
    (java_only / "java").symlink_to(java)
    done = _rdg("stack", "up", "--only", "janusgraph", "--janusgraph-port", str(free_port()),
                stack_dir=tmp_path / "empty-cache",
                env={"PATH": str(java_only), "JAVA_HOME": ""})
    assert done.returncode == 2
    assert "Maven is needed to fetch the server jars once: apt-get install -y maven" in done.stderr


def test_status_of_a_stack_never_started(stack_dir: Path) -> None:
    done = _rdg("stack", "status", "--only", "nats", stack_dir=stack_dir)
    assert done.returncode == 1
    assert "never started" in done.stdout


def test_down_when_nothing_runs_is_fine(stack_dir: Path) -> None:
    done = _rdg("stack", "down", stack_dir=stack_dir)
    assert done.returncode == 0
    assert done.stdout.count("was not running") == 3
