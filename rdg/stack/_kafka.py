"""Apache Kafka 4.x, one node in KRaft mode (broker + controller), from Maven Central jars.

The first start formats the log folder with ``kafka.tools.StorageTool format --standalone``;
later starts reuse it, so topics survive ``rdg stack down`` / ``up``.

>>> [(p.role, p.port) for p in ports(9092)]
[('client', 9092), ('controller', 9093)]
>>> len(cluster_id()) == 22
True
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Callable, Sequence

from rdg.errors import ConfigError, ServerError
from rdg.stack._maven import fetch_jars, java_binary, pom_version
from rdg.stack._plan import HOST, Plan, PortSpec, tcp_open, write_conf

__all__ = ["NAME", "client_settings", "cluster_id", "healthy", "plan", "ports"]

NAME = "kafka"
HEAP = ["-Xms256m", "-Xmx1g"]
_FORMATTED = "rdg-format.json"


def ports(port: int, controller: int | None = None) -> list[PortSpec]:
    """The broker port and the KRaft controller port (broker + 1 unless given, or given as 0)."""
    return [PortSpec("client", port, "--kafka-port"),
            PortSpec("controller", controller or port + 1, "--kafka-controller-port")]


def cluster_id() -> str:
    """A random Kafka cluster id (22 characters of URL-safe base64, as Kafka makes them)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not text.startswith("-"):
            return text


def _format(java: str, lib: Path, home: Path, conf: Path, controller_port: int) -> None:
    data = home / "data"
    marker = data / _FORMATTED
    if (data / "meta.properties").exists():
        try:
            before = json.loads(marker.read_text()).get("controller_port")
        except (OSError, ValueError):
            before = None
        if before is not None and before != controller_port:
            msg = (f"the Kafka data in {data} was formatted for controller port {before}, "
                   f"not {controller_port}")
            raise ConfigError(msg, hint="use the old --kafka-port, or `rdg stack up --fresh` to start empty")
        return
    shutil.rmtree(data, ignore_errors=True)
    cmd = [java, "-Xmx256m", "-cp", f"{lib}/*", f"-Dlog4j2.configurationFile={home / 'conf' / 'log4j2.yaml'}",
           "kafka.tools.StorageTool", "format", "--standalone", "-t", cluster_id(), "-c", str(conf)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    with open(home / "server.log", "a") as log:
        log.write(done.stdout + done.stderr)
    if done.returncode != 0:
        last = "\n".join((done.stdout + done.stderr).strip().splitlines()[-10:])
        raise ServerError(f"formatting Kafka's log folder {data} failed:\n{last}")
    marker.write_text(json.dumps({"controller_port": controller_port}))


def plan(home: Path, specs: list[PortSpec], *, stack_dir: str,
         progress: Callable[[str], None] | None = None, secure: bool = False,
         jvm_options: Sequence[str] = ()) -> Plan:
    """Write ``server.properties``, format storage the first time, and build the command line
    (``jvm_options`` go after :data:`HEAP`, so a later ``-Xmx`` wins).

    ``secure``: clients connect over SASL_SSL with the PLAIN mechanism, user ``rdg`` and a
    password made once into ``home/secrets/kafka-password`` (0600), against a certificate of the
    stack's own CA (``home/tls``); the config file holding the password is 0600 too. The KRaft
    controller listener stays plaintext on loopback. :func:`client_settings` gives the settings.
    """
    java = java_binary()
    lib = fetch_jars(NAME, stack_dir, progress=progress)
    port = {s.role: s.port for s in specs}
    values = {"host": HOST, "port": port["client"], "controller_port": port["controller"], "data_dir": home / "data"}
    extra = {"version": pom_version(NAME)}
    if secure:
        from rdg.stack._tls import secret, server_keystore

        tls, keystore, store_password = server_keystore(home)
        values.update(password=secret(home / "secrets" / "kafka-password"), keystore=keystore,
                      keystore_password=store_password, ca_file=tls["ca"])
        extra["secure"] = "SASL_SSL + PLAIN"
    (home / "conf").mkdir(parents=True, exist_ok=True)
    (home / "conf").chmod(0o700)
    conf = write_conf("kafka-server-secure.properties" if secure else "kafka-server.properties",
                      home / "conf" / "server.properties", **values)
    conf.chmod(0o600)
    log_conf = home / "conf" / "log4j2.yaml"
    write_conf("log4j2-kafka.yaml", log_conf)
    _format(java, lib, home, conf, port["controller"])
    argv = [java, *HEAP, *jvm_options, "-XX:+UseG1GC", "-Djava.awt.headless=true", f"-Dlog4j2.configurationFile={log_conf}",
            "-cp", f"{lib}/*", "kafka.Kafka", str(conf)]
    return Plan(NAME, argv, f"{HOST}:{port['client']}", port, extra=extra)


def client_settings(home: Path, url: str) -> dict[str, str]:
    """Settings a client needs for a broker started with ``secure`` (the password stays in its file).

    >>> client_settings(Path("/s/kafka"), "127.0.0.1:9092")["kafka_sasl_password_file"]
    '/s/kafka/secrets/kafka-password'
    """
    options = ",".join(f"{k}={v}" for k, v in _sasl_options(home).items())
    return {"kafka_bootstrap": url, "kafka_options": options,
            "kafka_sasl_password_file": str(home / "secrets" / "kafka-password")}


def _sasl_options(home: Path) -> dict[str, str]:
    """librdkafka options for the secured broker in ``home``, all but the password."""
    return {"security.protocol": "SASL_SSL", "sasl.mechanisms": "PLAIN", "sasl.username": "rdg",
            "ssl.ca.location": str(home / "tls" / "ca.pem")}


def _client_options(home: Path | None) -> dict[str, str]:
    """librdkafka options for a health check: SASL_SSL if the broker in ``home`` is secured."""
    if home is None or not (home / "secrets" / "kafka-password").exists():
        return {}
    return {**_sasl_options(home), "sasl.password": (home / "secrets" / "kafka-password").read_text().strip()}


def healthy(ports_by_role: dict[str, int], url: str, home: Path | None = None) -> bool:
    """True if the broker answers a metadata request and lists itself (``home``: of a server started
    with ``secure``, whose client secrets it uses)."""
    if not tcp_open(ports_by_role["client"]):
        return False
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": url, "socket.timeout.ms": 2000, "log_level": 0,
                         **_client_options(home)})
    meta = admin.list_topics(timeout=3)
    return bool(meta.brokers)
