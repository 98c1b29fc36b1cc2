"""JanusGraph Server 1.1.x from Maven Central jars, answering GraphBinary on ``/gremlin``.

Backends: ``inmemory`` (fast, emptied on restart: tests) or ``berkeleyje`` (a persistent
graph under the server's ``data`` folder).

>>> [(p.role, p.port) for p in ports(8182)]
[('client', 8182)]
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from rdg.errors import ConfigError
from rdg.stack._maven import fetch_jars, java_binary, pom_version
from rdg.stack._plan import HOST, Plan, PortSpec, tcp_open, write_conf

__all__ = ["BACKENDS", "NAME", "healthy", "plan", "ports"]

NAME = "janusgraph"
BACKENDS = ("inmemory", "berkeleyje")
HEAP = ["-Xms256m", "-Xmx1g"]
_MAIN = "org.janusgraph.graphdb.server.JanusGraphServer"


def ports(port: int) -> list[PortSpec]:
    """JanusGraph needs one port: the Gremlin WebSocket endpoint."""
    return [PortSpec("client", port, "--janusgraph-port")]


def plan(home: Path, specs: list[PortSpec], *, stack_dir: str, backend: str = "inmemory",
         progress: Callable[[str], None] | None = None) -> Plan:
    """Write the server YAML, graph properties, init script and logging config."""
    if backend not in BACKENDS:
        raise ConfigError(f"unknown JanusGraph backend {backend!r}", hint=f"use one of: {', '.join(BACKENDS)}")
    java = java_binary()
    lib = fetch_jars(NAME, stack_dir, progress=progress)
    port = {s.role: s.port for s in specs}
    conf = home / "conf"
    props = write_conf(f"janusgraph-{backend}.properties", conf / "graph.properties", data_dir=home / "data")
    init = write_conf("janusgraph-init.groovy", conf / "init.groovy")
    server = write_conf("janusgraph-server.yaml", conf / "janusgraph-server.yaml", host=HOST,
                        port=port["client"], graph_properties=props, init_script=init)
    log_conf = write_conf("log4j2-janusgraph.xml", conf / "log4j2.xml")
    (home / "data").mkdir(parents=True, exist_ok=True)
    argv = [java, *HEAP, "-XX:+UseG1GC", "-Djava.awt.headless=true",
            f"-Dlog4j.configurationFile={log_conf}", f"-Dlog4j2.configurationFile={log_conf}",
            "-cp", f"{lib}/*", _MAIN, str(server)]
    return Plan(NAME, argv, f"ws://{HOST}:{port['client']}/gremlin", port,
                extra={"version": pom_version(NAME), "backend": backend})


def healthy(ports_by_role: dict[str, int], url: str) -> bool:
    """True if Gremlin ``1+1`` returns 2 over GraphBinary (with JanusGraph's types)."""
    if not tcp_open(ports_by_role["client"]):
        return False
    from gremlin_python.driver.client import Client
    from janusgraph_python.driver.serializer import JanusGraphBinarySerializersV1

    client = Client(url, "g", message_serializer=JanusGraphBinarySerializersV1(), pool_size=1)
    try:
        return client.submit("1+1").all().result(timeout=10) == [2]
    finally:
        client.close()
