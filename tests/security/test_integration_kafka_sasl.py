"""`rdg stack up --secure` for Kafka: clients must use SASL_SSL; a pipeline reads through it with the
settings the stack prints, the password kept in a file (issue 10, `--secure`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from rdg.stack import start_for_tests
from rdg.stack._kafka import client_settings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def secure_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    folder = tmp_path_factory.mktemp("secure-kafka")
    with start_for_tests("kafka", folder, secure=True) as url:
        yield client_settings(folder / "kafka", url)


def test_a_pipeline_reads_the_secured_broker_and_plaintext_is_refused(secure_kafka: dict[str, str],
                                                                     tmp_path: Path) -> None:
    from confluent_kafka import KafkaException, Producer
    from confluent_kafka.admin import AdminClient

    from rdg.config import load_settings

    env = {f"RDG_{k.upper()}": v for k, v in secure_kafka.items()}
    settings = load_settings(env=env, config_file=None)
    prefix = f"s{uuid.uuid4().hex[:8]}"
    producer = Producer(settings.kafka_config())
    lines = (ROOT / "rdg" / "data" / "events" / "games.jsonl").read_bytes().splitlines()
    for line in lines:
        producer.produce(f"{prefix}.games.sessions", line)
    assert producer.flush(30) == 0

    plain = AdminClient({"bootstrap.servers": secure_kafka["kafka_bootstrap"], "socket.timeout.ms": 2000,
                         "log_level": 0})
    with pytest.raises(KafkaException):
        plain.list_topics(timeout=5)  # no SASL, no TLS: no answer

    done = subprocess.run([sys.executable, "-m", "rdg", "run", "games", "--to-end", "--json", "--quiet"], cwd=ROOT,
                          capture_output=True, text=True, timeout=180,
                          env={**os.environ, **env, "PYTHONPATH": str(ROOT), "RDG_TOPIC_PREFIX": prefix,
                               "RDG_STATE_DIR": str(tmp_path), "RDG_GREMLIN_URL": "embedded"})
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["events_in"] == len(lines) and summary["vertices"] > 0
    password = Path(secure_kafka["kafka_sasl_password_file"]).read_text().strip()
    assert password not in done.stdout + done.stderr
    conf = Path(secure_kafka["kafka_sasl_password_file"]).parent.parent / "conf" / "server.properties"
    assert conf.stat().st_mode & 0o777 == 0o600 and conf.parent.stat().st_mode & 0o777 == 0o700
