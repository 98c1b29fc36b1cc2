"""Server specifics: the jar cache, Kafka's storage format guard, berkeleyje persistence,
and test servers that die with the process that started them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from rdg.config import Settings
from rdg.errors import ConfigError, EnvironmentMissingError
from rdg.stack import down, fetch_jars, free_port, up
from rdg.stack._kafka import _format
from rdg.stack._maven import java_binary, java_major
from rdg.stack._process import pid_alive
from rdg.testing import wait_until

pytestmark = pytest.mark.timeout(240)

CACHE = Path(os.environ.get("RDG_STACK_DIR") or Settings().stack_dir)


def test_cached_jars_need_no_maven(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    first = fetch_jars("kafka", CACHE)  # fetched by now if any Kafka test ran; else fetched here
    assert len(list(first.glob("kafka_2.13-4.*.jar"))) == 1
    assert len(list(first.glob("log4j-slf4j2-impl-*.jar"))) == 1
    monkeypatch.setenv("PATH", str(tmp_path))  # no mvn, no java
    assert fetch_jars("kafka", CACHE) == first


def test_java_version_is_read_and_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert java_major(java_binary()) >= 17
    old = tmp_path / "bin" / "java"
    old.parent.mkdir()
    old.write_text('#!/bin/sh\necho \'openjdk version "11.0.2" 2019-01-15\' >&2\n')
    old.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(EnvironmentMissingError, match="is Java 11, too old for Kafka 4"):
        java_binary()


def test_kafka_data_formatted_for_another_controller_port_is_not_reused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "meta.properties").write_text("node.id=1\n")
    (data / "rdg-format.json").write_text(json.dumps({"controller_port": 19093}))
    with pytest.raises(ConfigError) as err:
        _format("java", tmp_path / "lib", tmp_path, tmp_path / "server.properties", 29093)
    assert "formatted for controller port 19093, not 29093" in str(err.value)
    assert "--fresh" in str(err.value)


@pytest.mark.integration
def test_berkeleyje_graph_survives_down_and_up(tmp_path: Path) -> None:
    from gremlin_python.driver.client import Client
    from janusgraph_python.driver.serializer import JanusGraphBinarySerializersV1

    (tmp_path / "jars").symlink_to(fetch_jars("janusgraph", CACHE).parents[1])
    settings = Settings(stack_dir=str(tmp_path), janusgraph_port=free_port(), janusgraph_backend="berkeleyje")

    def run(text: str) -> list:
        client = Client(info.url, "g", message_serializer=JanusGraphBinarySerializersV1())
        try:
            return client.submit(text).all().result()
        finally:
            client.close()

    try:
        (info,) = up(settings, only="janusgraph")
        assert info.extra["backend"] == "berkeleyje"
        run("g.addV('kept').property('n', 1).iterate(); g.tx().commit()")
        down(settings, only="janusgraph")
        (info,) = up(settings, only="janusgraph")
        assert run("g.V().hasLabel('kept').values('n')") == [1]
        assert (tmp_path / "run" / "janusgraph" / "data" / "je.lck").exists()  # BerkeleyDB's files
    finally:
        down(settings)


@pytest.mark.integration
def test_a_test_server_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    script = (
        "import sys, time\n"
        "from rdg.stack import start_for_tests\n"
        "from rdg.stack._process import read_state\n"
        "with start_for_tests('nats', sys.argv[1]) as url:\n"
        "    print(read_state(__import__('pathlib').Path(sys.argv[1]) / 'nats').pid, flush=True)\n"
        "    time.sleep(300)\n"  # the owner just stays alive until the test SIGKILLs it: not a wait
    )
    owner = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        server_pid = int(owner.stdout.readline())
        assert pid_alive(server_pid)
    finally:
        owner.send_signal(signal.SIGKILL)  # no cleanup code runs in the owner
        owner.wait()
    wait_until(lambda: not pid_alive(server_pid), timeout=20, every=0.1,
               what=f"the orphaned nats-server (pid {server_pid}) to exit")
    assert not pid_alive(server_pid)


def test_a_private_server_takes_java_options_after_the_defaults(tmp_path: Path) -> None:
    from rdg.stack import _janusgraph, start_for_tests

    argv = _janusgraph.plan(tmp_path / "janusgraph", _janusgraph.ports(free_port()), stack_dir=str(CACHE),
                            backend="berkeleyje", jvm_options=["-Xms512m", "-Xmx2g"]).argv
    assert argv.index("-Xmx2g") > argv.index("-Xmx1g")  # the JVM takes the last -Xmx
    with pytest.raises(ConfigError, match="not a Java server"), start_for_tests("nats", tmp_path, jvm_options=["-Xmx2g"]):
        pass
