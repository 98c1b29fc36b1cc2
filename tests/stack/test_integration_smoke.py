"""Each server is real: a Kafka round trip, a JanusGraph vertex, JetStream and KV compare-and-set."""

from __future__ import annotations

import uuid

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def test_kafka_produce_then_consume(kafka_bootstrap: str) -> None:
    from confluent_kafka import Consumer, Producer

    topic = f"rdg-smoke-{uuid.uuid4().hex[:8]}"
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    producer.produce(topic, key=b"m1", value=b'{"member_id": "m1"}')
    assert producer.flush(30) == 0

    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": f"g-{topic}",
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    try:
        got = None
        for _ in range(60):
            msg = consumer.poll(1.0)
            if msg is not None and not msg.error():
                got = msg
                break
    finally:
        consumer.close()
    assert got is not None, "no message came back from Kafka within 60 polls"
    assert (got.key(), got.value(), got.topic()) == (b"m1", b'{"member_id": "m1"}', topic)


def test_janusgraph_add_and_read_vertex_and_edge(gremlin_url: str) -> None:
    from gremlin_python.driver.driver_remote_connection import DriverRemoteConnection
    from gremlin_python.process.anonymous_traversal import traversal
    from gremlin_python.process.graph_traversal import __
    from janusgraph_python.driver.serializer import JanusGraphBinarySerializersV1

    member_id = f"m-{uuid.uuid4().hex[:8]}"
    conn = DriverRemoteConnection(gremlin_url, "g", message_serializer=JanusGraphBinarySerializersV1())
    try:
        g = traversal().with_remote(conn)
        member = g.add_v("member").property("member_id", member_id).next()
        device = g.add_v("device").property("device_id", f"d-{member_id}").next()
        edge = g.V(member).add_e("used").to(__.V(device)).property("count", 1).next()
        assert g.V().has("member", "member_id", member_id).out("used").values("device_id").to_list() == [
            f"d-{member_id}"]
        # The edge id is a JanusGraph RelationIdentifier: decoding it needs janusgraphpython.
        assert g.E(edge.id).values("count").next() == 1
        assert g.V(member).out_e("used").count().next() == 1
    finally:
        conn.close()


async def test_jetstream_publish_consume_and_kv_compare_and_set(nats_url: str) -> None:
    import nats
    from nats.js.errors import KeyWrongLastSequenceError

    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        name = f"SMOKE{uuid.uuid4().hex[:8]}"
        await js.add_stream(name=name, subjects=[f"{name}.>"])
        ack = await js.publish(f"{name}.hello", b"world")
        assert ack.stream == name and ack.seq == 1
        sub = await js.pull_subscribe(f"{name}.>", durable="smoke")
        (msg,) = await sub.fetch(1, timeout=10)
        await msg.ack()
        assert (msg.subject, msg.data) == (f"{name}.hello", b"world")

        kv = await js.create_key_value(bucket=f"kv{name}")
        rev = await kv.create("step", b"pending")
        rev2 = await kv.update("step", b"running", last=rev)
        with pytest.raises(KeyWrongLastSequenceError):
            await kv.update("step", b"running-twice", last=rev)  # lost the race: stale revision
        entry = await kv.get("step")
        assert (entry.value, entry.revision) == (b"running", rev2)
    finally:
        await nc.close()
