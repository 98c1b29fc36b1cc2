"""Read a whole Kafka topic back in a test (dead letters, typically)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any


def read_json_topic(bootstrap: str, topic: str, partitions: int, *, timeout: float = 30.0) -> list[dict[str, Any]]:
    """Every message of ``topic`` (JSON values), from the start to the end of each partition."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"t-{uuid.uuid4().hex}",
                         "enable.partition.eof": "true", "auto.offset.reset": "earliest"})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    out, eof = [], set()
    deadline = time.monotonic() + timeout
    while len(eof) < partitions and time.monotonic() < deadline:
        for msg in consumer.consume(500, 0.5):
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    eof.add(msg.partition())
                continue
            out.append(json.loads(msg.value()))
    consumer.close()
    return out
