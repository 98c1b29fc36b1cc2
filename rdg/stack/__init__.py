"""The local stack: NATS (JetStream), Kafka (KRaft) and JanusGraph Server, started without Docker.

Jars come from Maven Central once (cached under ``Settings.stack_dir``); each server runs on
loopback with its own folder, log and pid, and is stopped only by the pid we recorded.

>>> from rdg.stack import SERVERS
>>> list(SERVERS)
['nats', 'kafka', 'janusgraph']
"""

from rdg.stack._control import SERVERS, ServerStatus, down, parse_only, prepare, start_for_tests, status, up
from rdg.stack._maven import fetch_jars, java_binary
from rdg.stack._nats import binary as nats_server_binary
from rdg.stack._nats import version_of as nats_server_version
from rdg.stack._process import ProcessInfo, free_port, free_ports, launch, pid_alive, port_in_use
from rdg.stack._tls import write_private

__all__ = [
    "SERVERS",
    "ProcessInfo",
    "ServerStatus",
    "down",
    "fetch_jars",
    "free_port",
    "free_ports",
    "java_binary",
    "launch",
    "nats_server_binary",
    "nats_server_version",
    "parse_only",
    "pid_alive",
    "port_in_use",
    "prepare",
    "start_for_tests",
    "status",
    "up",
    "write_private",
]
