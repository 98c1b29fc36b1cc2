"""A compacted Kafka topic as a side table: loaded before the run, then followed live."""

from __future__ import annotations

import json
import textwrap
import uuid
from pathlib import Path

import pytest

from rdg.config import Settings
from rdg.pipeline import run_pipeline
from rdg.pipeline._tables import KafkaTable
from rdg.spec import DeadLetterSpec, TableSpec, load_pipelines_text
from rdg.testing import wait_until
from tests.pipeline.fakes import FakeGraph

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def _topic(bootstrap: str) -> str:
    from confluent_kafka.admin import AdminClient, NewTopic

    name = f"it{uuid.uuid4().hex[:8]}.catalog"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(name, 1, 1, config={"cleanup.policy": "compact"})]).values():
        f.result(30)
    return name


def _produce(bootstrap: str, topic: str, rows: list[tuple[str, dict | None]]) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap})
    for key, value in rows:
        producer.produce(topic, None if value is None else json.dumps(value).encode(), key=key.encode())
    producer.flush(30)


def test_table_loads_then_follows_updates_and_deletes(kafka_bootstrap: str) -> None:
    topic = _topic(kafka_bootstrap)
    _produce(kafka_bootstrap, topic, [("gm1", {"game_id": "gm1", "name": "Old"}), ("gm2", {"game_id": "gm2", "name": "B"}),
                                      ("gm1", {"game_id": "gm1", "name": "Block Party"})])
    table = KafkaTable(TableSpec("games", "kafka", "game_id", topic=topic), {"bootstrap.servers": kafka_bootstrap})
    try:
        assert table["gm1"]["name"] == "Block Party" and set(table) == {"gm1", "gm2"}  # loaded before use
        _produce(kafka_bootstrap, topic, [("gm3", {"game_id": "gm3", "name": "New"}), ("gm2", None)])
        wait_until(lambda: "gm3" in table and "gm2" not in table, timeout=20, every=0.2,
                   what="the table to follow the new gm3 and the deletion of gm2")
        assert table["gm3"]["name"] == "New" and "gm2" not in table
    finally:
        table.close()


def test_missing_table_topic_is_a_clear_error(kafka_bootstrap: str) -> None:
    from rdg.errors import NotFoundError

    with pytest.raises(NotFoundError, match="does not exist"):
        KafkaTable(TableSpec("x", "kafka", "k", topic=f"nope-{uuid.uuid4().hex}"),
                   {"bootstrap.servers": kafka_bootstrap, "allow.auto.create.topics": "false"})


def test_pipeline_enriches_from_the_kafka_table(kafka_bootstrap: str, tmp_path: Path) -> None:
    topic = _topic(kafka_bootstrap)
    _produce(kafka_bootstrap, topic, [("gm1", {"game_id": "gm1", "name": "Block Party", "genre": "puzzle"})])
    spec = load_pipelines_text(textwrap.dedent(f"""\
        graph:
          vertices: {{profile: {{key: profile_id}}, game: {{key: game_id, properties: {{name: string}}}}}}
          edges: {{played: {{from: profile, to: game}}}}
        sources: {{s: {{file: x.jsonl}}}}
        tables: {{catalog: {{kafka: "{topic}", key: game_id}}}}
        pipelines:
          p:
            source: s
            normalize: {{fields: {{profile_id: p, game_id: g, ts: {{path: t, type: timestamp}}}}}}
            enrich: [{{table: catalog, on: game_id, fields: {{game_name: name}}}}]
            vertices: [{{label: game, key: "{{game_id}}", properties: {{name: "{{game_name}}"}}}}]
            edges: [{{label: played, from: "{{profile_id}}", to: "{{game_id}}"}}]
        """), str(tmp_path / "p.yaml"), env={})
    events = tmp_path / "e.jsonl"
    events.write_text('{"p": "m1", "g": "gm1", "t": 1700000000}\n{"p": "m1", "g": "gm9", "t": 1700000001}\n')
    graph = FakeGraph()
    run_pipeline(spec, "p", settings=Settings(state_dir=str(tmp_path), kafka_bootstrap=kafka_bootstrap),
                 events=str(events), opener=lambda: graph, dead_letter=DeadLetterSpec("file", str(tmp_path / "d")))
    assert graph.vertices[("game", "gm1")]["name"] == "Block Party"
    assert "name" not in graph.vertices[("game", "gm9")]  # not in the table: left unset (required: false)
