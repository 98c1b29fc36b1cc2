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

    # Labels and property keys are graph-wide in JanusGraph: use names no other test uses.
    tag = uuid.uuid4().hex[:8]
    member, device, used, key, dkey = f"smoke{tag}_member", f"smoke{tag}_device", f"smoke{tag}_used", \
        f"smoke{tag}_member_id", f"smoke{tag}_device_id"
    conn = DriverRemoteConnection(gremlin_url, "g", message_serializer=JanusGraphBinarySerializersV1())
    try:
        g = traversal().with_remote(conn)
        m = g.add_v(member).property(key, "m1").next()
        d = g.add_v(device).property(dkey, "d1").next()
        edge = g.V(m).add_e(used).to(__.V(d)).property(f"smoke{tag}_count", 1).next()
        assert g.V().has(member, key, "m1").out(used).values(dkey).to_list() == ["d1"]
        # The edge id is a JanusGraph RelationIdentifier: decoding it needs janusgraphpython.
        assert g.E(edge.id).values(f"smoke{tag}_count").next() == 1
        assert g.V(m).out_e(used).count().next() == 1
        g.V(m, d).drop().iterate()
        assert g.V(m, d).count().next() == 0
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
