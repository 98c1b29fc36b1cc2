"""docker-compose.yml offers the same three servers, on rdg's default ports, with health checks."""

from __future__ import annotations

from pathlib import Path

import yaml

from rdg.config import Settings
from rdg.stack._maven import pom_version
from rdg.stack._nats import VERSION as NATS_VERSION

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _published(service: dict) -> set[int]:
    return {int(str(p).split(":")[0]) for p in service["ports"]}


def test_three_services_each_with_a_health_check_and_a_volume() -> None:
    services = _compose()["services"]
    assert set(services) == {"nats", "kafka", "janusgraph"}
    for name, service in services.items():
        check = service["healthcheck"]
        assert check["test"][0] in ("CMD", "CMD-SHELL") and len(check["test"]) >= 2, name
        assert check["retries"] >= 3, name
        (volume,) = service["volumes"]
        assert volume.split(":")[0] in _compose()["volumes"], name


def test_ports_match_the_default_settings() -> None:
    services = _compose()["services"]
    defaults = Settings()
    assert defaults.nats_port in _published(services["nats"])
    assert defaults.kafka_port in _published(services["kafka"])
    assert defaults.janusgraph_port in _published(services["janusgraph"])
    assert defaults.kafka_bootstrap.endswith(f":{defaults.kafka_port}")


def test_servers_are_the_versions_rdg_stack_starts() -> None:
    services = _compose()["services"]
    assert services["nats"]["command"][:1] == ["-js"]  # JetStream on
    assert services["kafka"]["image"] == f"apache/kafka:{pom_version('kafka')}"  # what `rdg stack up` runs
    assert services["nats"]["image"].startswith("nats:" + ".".join(NATS_VERSION.split(".")[:2]))
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, one node
    assert services["janusgraph"]["image"].startswith("janusgraph/janusgraph:1.1.")
    assert services["janusgraph"]["environment"]["gremlinserver.maxContentLength"] == "10485760"
