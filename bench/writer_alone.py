"""The graph writer alone on a backlog, against the ceiling, in one run: is the writer's upsert slow?

Usage:
    python bench/writer_alone.py --events 8000      # dev Kafka on 9092; a private JanusGraph

Deploys the games pipeline and stops its graph writer, lets the pipeline hand every event to the
graph-writes topic, then starts the writer and times it until its group's lag is 0 (its process
start included). The ceiling (the same kind of events through ``graph.upsert`` in 2,000-write
batches) is measured first on the same server. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import ingest as bench  # noqa: E402

from rdg.config import Settings  # noqa: E402
from rdg.pipeline import WRITER, default_opener, deploy, status, stop  # noqa: E402
from rdg.stack import start_for_tests  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=8000)
    ap.add_argument("--kafka", default=os.environ.get("RDG_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    args = ap.parse_args()
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    os.environ.setdefault("RDG_DATA", str(ROOT / "rdg" / "data"))
    n = args.events
    tmp = Path(tempfile.mkdtemp(prefix="rdg-bench-writer-"))
    with start_for_tests("janusgraph", tmp / "janusgraph") as url:
        prefix = f"wa{int(time.time())}"
        os.environ["RDG_TOPIC_PREFIX"] = prefix
        settings = Settings(state_dir=str(tmp / "state"), gremlin_url=url, kafka_bootstrap=args.kafka,
                            graph_writes_topic=f"{prefix}.graph-writes")
        spec = bench.load_spec(ROOT / "pipelines.yaml")
        opener = default_opener(settings)
        bench.init_graph_schema(spec, opener)
        bench.ceiling(opener, bench.writes_for(spec, bench.events(500, "w-")), 2000)  # warm the JIT
        ceil = bench.ceiling(opener, bench.writes_for(spec, bench.events(n, "c-")), 2000)
        admin = AdminClient({"bootstrap.servers": args.kafka})
        topics = [f"{prefix}.games.sessions", f"{prefix}.dead-letter"]
        for future in admin.create_topics([NewTopic(t, 2, 1) for t in topics]).values():
            future.result(30)
        deploy(spec, ["games"], settings=settings)
        try:
            stop([WRITER], settings=settings)
            producer = Producer({"bootstrap.servers": args.kafka})
            for i, line in enumerate(bench.events(n, "d-")):
                producer.produce(topics[0], line.encode(), partition=i % 2)
            producer.flush(30)
            while status(settings, ["games"])[0].lag != 0:
                time.sleep(0.5)
            time.sleep(3)  # the last window handed on
            start = time.monotonic()
            deploy(spec, ["games"], settings=settings)  # starts the writer again
            while status(settings, [WRITER])[0].lag != 0:
                time.sleep(0.2)
            took = time.monotonic() - start
        finally:
            stop(settings=settings)
    print(json.dumps({"events": n, "ceiling_events_per_s": round(ceil, 1),
                      "writer_alone_events_per_s": round(n / took, 1), "writer_alone_seconds": round(took, 2),
                      "writer_vs_ceiling": round(n / took / ceil, 3)}))


if __name__ == "__main__":
    main()
