"""Ingestion benchmark: Kafka -> Bytewax -> JanusGraph, against the graph layer's own ceiling.

Usage:
    python bench/ingest.py --quick --json        # < 60 s, dev Kafka (9092) + dev JanusGraph (8182)
    python bench/ingest.py --events 20000        # a longer run

Everything runs in one process, one after the other, on the same machine, each on fresh ids
(a random prefix), so the ratios are what to quote:

* ``ceiling``: the writes the games pipeline produces for N events, upserted straight through
  ``graph.upsert`` in batches (no Kafka, no Bytewax): the raw batched write rate.
* ``naive``: the same writes, one ``graph.upsert`` call (one request) per event.
* ``deployed`` (``events_per_s``, ``ingest_vs_ceiling``): the path every deployment takes:
  ``rdg deploy games`` with one graph writer, warmed up, then N events produced at once; the
  time until the pipeline has read them all and the writer has committed every write.
* ``direct``: the compiled games pipeline (Bytewax, one worker) writing JanusGraph itself (only
  safe as the only writer), N events read from a Kafka backlog to the end, from the first event
  read to the last write (``with_startup_events_per_s`` includes the Bytewax start).
* ``concurrent`` (``concurrent_events_per_s``, ``concurrent_vs_ceiling``): all three example
  pipelines deployed at once (``--processes`` each, ``--writers`` graph writers) over sample
  events of every vertical, against the same events written straight through ``graph.upsert``
  in batches (``concurrent_ceiling_events_per_s``), each on an emptied graph.
* ``freshness``: the pipeline deployed (``rdg deploy``), events produced at half the measured
  pipeline rate with the event time = now. The writer records, for every edge it has just
  committed, now - event time (what a Gremlin query could see from then on): p50 / p99 of that.
  A light prober also asks JanusGraph (indexed key lookup, every 50 ms) for every 25th
  event's edge, as a cross-check from the outside (``probe_p50_ms`` / ``probe_p99_ms``).
* The same ceiling / naive / pipeline figures for the embedded default (SQLite graph, JSONL
  file source; no servers), under ``embedded``.

``--json`` prints one JSON object: ``events_per_s``, ``ingest_vs_ceiling``, ``ingest_vs_naive``,
``concurrent_events_per_s``, ``concurrent_vs_ceiling``, ``freshness_p50_ms``,
``freshness_p99_ms`` (JanusGraph), plus ``ceiling_events_per_s``, ``naive_events_per_s``,
``direct_events_per_s``, ``embedded`` and run details.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rdg.config import Settings  # noqa: E402
from rdg.graph import compact  # noqa: E402
from rdg.pipeline import PipelineSteps, RawEvent, compile_pipeline, generate, load_spec  # noqa: E402
from rdg.pipeline import init_graph_schema  # noqa: E402
from rdg.spec import DeadLetterSpec  # noqa: E402


def log(msg: str) -> None:
    print(f"[bench.ingest {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def events(n: int, prefix: str) -> list[str]:
    """``n`` clean game events with ids under ``prefix`` (each: 2 vertices + 3 edges)."""
    out: list[str] = []
    members = max(1, n // 8)
    for line in generate(members=members, seed=13, sessions=4)["games"]:
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if not isinstance(ev.get("score", 0), int) or ev["session"].get("ended", 1 << 62) < ev["session"]["started"]:
            continue
        ev["session"]["id"] = f"{prefix}{ev['session']['id']}-{len(out)}"
        ev["player"]["account"] = prefix + ev["player"]["account"]
        ev["player"]["profile"] = prefix + ev["player"]["profile"]
        ev["player"]["device"]["id"] = prefix + ev["player"]["device"]["id"]
        out.append(json.dumps(ev))
    while len(out) < n:  # top up with new sessions of the same members
        ev = json.loads(out[len(out) % max(1, len(out))])
        ev["session"]["id"] = f"{prefix}extra-{len(out)}"
        out.append(json.dumps(ev))
    return out[:n]


SOURCES = {"games": "game_sessions", "playback": "playback_cdc", "live_viewing": "live_requests"}


def writes_for(spec: Any, lines: list[str], pipeline: str = "games", *, strict: bool = True) -> list[list[Any]]:
    """The writes each line becomes in ``pipeline`` (a bad line: an assertion, or skipped if not ``strict``)."""
    steps = PipelineSteps(spec, pipeline, _tables(spec, pipeline))
    out = []
    for i, line in enumerate(lines):
        w = steps.process(RawEvent(SOURCES[pipeline], f"bench:0:{i}", line.encode()))
        if not isinstance(w, list):
            assert not strict, w
            continue
        out.append(w)
    return out


def _tables(spec: Any, pipeline: str = "games") -> dict[str, Any]:
    from rdg.pipeline import open_tables

    return open_tables(spec, spec.pipeline(pipeline), {})


def clear_graph(opener: Any) -> None:
    """Drop every vertex (and so every edge): the next phase starts on an empty graph."""
    graph = opener()
    try:
        graph.g.V().drop().iterate()
    finally:
        graph.close()


def ceiling(opener: Any, per_event: list[list[Any]], batch: int) -> float:
    graph = opener()
    try:
        flat = compact([w for ws in per_event for w in ws])
        start = time.perf_counter()
        for i in range(0, len(flat), batch):
            graph.upsert(flat[i:i + batch])
        took = time.perf_counter() - start
    finally:
        graph.close()
    return len(per_event) / took


def naive(opener: Any, per_event: list[list[Any]]) -> float:
    graph = opener()
    try:
        start = time.perf_counter()
        for ws in per_event:
            graph.upsert(ws)
        took = time.perf_counter() - start
    finally:
        graph.close()
    return len(per_event) / took


def produce(bootstrap: str, topic: str, lines: list[str], partitions: int = 2) -> None:
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        f.result(30)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": "20"})
    for i, line in enumerate(lines):
        producer.produce(topic, line.encode(), partition=i % partitions)
        if i % 5000 == 0:
            producer.poll(0)
    producer.flush(60)


def pipeline_rate(spec: Any, settings: Settings, opener: Any, n: int, events_file: str | None = None) -> dict[str, Any]:
    from bytewax.testing import run_main

    compiled = compile_pipeline(spec, "games", settings=settings, events=events_file, opener=opener, tail=False,
                                dead_letter=DeadLetterSpec("file", str(Path(settings.state_dir) / "dead.jsonl")))
    start = time.perf_counter()
    run_main(compiled.flow)
    end = time.perf_counter()
    took = end - start
    snap = compiled.metrics.snapshot()
    steady = end - (compiled.metrics.first_in_at or start)
    assert snap["events_in"] == n, snap
    assert snap["dead_letters"] == 0, snap
    return {"events_per_s": n / steady, "with_startup_events_per_s": round(n / took, 1), "seconds": round(steady, 3),
            "startup_seconds": round(took - steady, 3), "writes": snap["written"], "requests": snap["requests"],
            "upsert_seconds": snap["upsert_s"], "share_in_graph_upsert": round(snap["upsert_s"] / steady, 3)}


def deployed_rate(spec_path: Path, settings: Settings, lines: dict[str, list[str]], prefix: str, *,
                  processes: int = 1, writers: int = 1) -> dict[str, Any]:
    """Deploy ``lines``' pipelines and the graph writers (``rdg deploy``), warm them up, then
    produce every line at once and time until all of it is in the graph: events/s end to end.

    "In the graph" = each pipeline has read its topic to the end and the graph writers have
    committed every write (lag 0 twice, 0.5 s apart: the figure is low by at most that much).
    """
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    from rdg.pipeline import WRITER, deploy, status, stop

    names = list(lines)
    spec_topics = {"playback": "playback.cdc", "live_viewing": "live.requests", "games": "games.sessions"}
    topics = {name: f"{prefix}.{spec_topics[name]}" for name in names}
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    for f in admin.create_topics([NewTopic(t, 2, 1) for t in [*topics.values(), f"{prefix}.dead-letter"]]).values():
        f.result(30)
    os.environ["RDG_TOPIC_PREFIX"] = prefix
    settings = Settings(**{**settings.as_dict(), "graph_writes_topic": f"{prefix}.graph-writes",
                           "state_dir": str(Path(settings.state_dir) / prefix)})  # fresh recovery stores
    spec = load_spec(spec_path)
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "linger.ms": "20"})

    def send(batch: dict[str, list[str]]) -> int:
        sent = 0
        for name, ls in batch.items():
            for i, line in enumerate(ls):
                producer.produce(topics[name], line.encode(), partition=i % 2)
                sent += 1
                if sent % 5000 == 0:
                    producer.poll(0)
        producer.flush(60)
        return sent

    def drained() -> bool:
        rows = status(settings, [*names, WRITER])
        return all(r.lag == 0 for r in rows)

    def wait_drained(timeout: float) -> None:
        deadline = time.monotonic() + timeout
        streak = 0
        while time.monotonic() < deadline:
            streak = streak + 1 if drained() else 0
            if streak >= 2:
                return
            time.sleep(0.5)
        raise RuntimeError(f"not drained within {timeout:.0f}s: {[r.as_dict() for r in status(settings)]}")

    deploy(spec, names, settings=settings, processes=processes, writers=writers)
    try:
        warm = {name: ls[:20] for name, ls in lines.items()}
        send(warm)  # every process up, every partition assigned, the JIT warm
        wait_drained(180)
        before = {r.pipeline: r.written for r in status(settings, [WRITER], with_lag=False)}
        rest = {name: ls[20:] for name, ls in lines.items()}
        start = time.monotonic()
        n = send(rest)
        wait_drained(600)
        took = time.monotonic() - start
        after = {r.pipeline: r.written for r in status(settings, [WRITER], with_lag=False)}
        load = os.getloadavg()[0]
    finally:
        stop(settings=settings)
    return {"events_per_s": round(n / took, 1), "events": n, "seconds": round(took, 2), "pipelines": names,
            "processes_per_pipeline": processes, "writers": writers,
            "graph_elements_written": after[WRITER] - before[WRITER], "load_average": round(load, 1)}


def freshness(spec_path: Path, settings: Settings, rate: float, seconds: float, prefix: str) -> dict[str, Any]:
    """Deploy the games pipeline, produce at ``rate`` events/s, probe every 10th event's edge."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic
    from gremlin_python.process.graph_traversal import __  # noqa: F401

    from rdg.graph import connect
    from rdg.pipeline import WRITER, deploy, status, stop

    topic = f"{prefix}.games.sessions"
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    for f in admin.create_topics([NewTopic(t, 2, 1) for t in (topic, f"{prefix}.dead-letter")]).values():
        f.result(30)
    os.environ["RDG_TOPIC_PREFIX"] = prefix
    spec = load_spec(spec_path)
    deploy(spec, ["games"], settings=settings)
    try:
        # warm up: one event, wait until it is written
        warm = json.loads(events(1, prefix + "w")[0])
        warm["session"]["started"], warm["session"]["ended"] = time.time(), time.time() + 60
        producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "linger.ms": "0"})
        producer.produce(topic, json.dumps(warm).encode())
        producer.flush(10)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and status(settings, [WRITER], with_lag=False)[0].written == 0:
            time.sleep(0.2)
        total = int(rate * seconds)
        lines = events(total, prefix + "f")
        latencies: list[float] = []
        missed = 0
        probe_graph = connect(settings.gremlin_url, settings=settings)
        lock = threading.Lock()

        def probe(profile: str, sent_ms: float) -> None:
            nonlocal missed
            g = probe_graph.g
            end = time.monotonic() + 30
            while time.monotonic() < end:
                if g.V().has("profile", "profile_id", profile).out_e("played").limit(1).count().next() > 0:
                    with lock:
                        latencies.append(time.time() * 1000 - sent_ms)
                    return
                time.sleep(0.05)
            with lock:
                missed += 1

        pool = ThreadPoolExecutor(max_workers=4)
        interval = 1.0 / rate
        start = time.monotonic()
        for i, line in enumerate(lines):
            ev = json.loads(line)
            now = time.time()
            ev["session"]["started"] = now  # event time = now (seconds with ms precision)
            ev["session"]["ended"] = now + 60
            ev["player"]["profile"] = f"{prefix}f-probe-{i}" if i % 25 == 0 else ev["player"]["profile"]
            producer.produce(topic, json.dumps(ev).encode(), partition=i % 2)
            producer.poll(0)
            if i % 25 == 0:
                pool.submit(probe, ev["player"]["profile"], now * 1000)
            sleep = start + (i + 1) * interval - time.monotonic()
            if sleep > 0:
                time.sleep(sleep)
        producer.flush(10)
        achieved = total / (time.monotonic() - start)
        pool.shutdown(wait=True)
        probe_graph.close()
        time.sleep(2.5)  # the metrics file is rewritten every second
        from rdg.pipeline import pipeline_dir, read_metrics

        inner = [m["freshness"] for m in read_metrics(pipeline_dir(settings, WRITER))]  # the writers commit
    finally:
        stop(["games", WRITER], settings=settings)
    latencies.sort()

    def pct(p: float) -> float | None:
        if not latencies:
            return None
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))], 1)

    writer = inner[0] if inner else {}
    return {"offered_events_per_s": round(rate, 1), "achieved_events_per_s": round(achieved, 1),
            "p50_ms": writer.get("p50_ms"), "p99_ms": writer.get("p99_ms"), "max_ms": writer.get("max_ms"),
            "samples": writer.get("samples"),
            "probes": len(latencies), "probe_missed": missed, "probe_p50_ms": pct(0.50), "probe_p99_ms": pct(0.99),
            "probe_mean_ms": round(statistics.mean(latencies), 1) if latencies else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, under 60 s")
    ap.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    ap.add_argument("--events", type=int, default=None, help="events per phase (quick 800, full 5000)")
    ap.add_argument("--naive-events", type=int, default=None, help="events for the naive writer (quick 30, full 300)")
    ap.add_argument("--freshness-seconds", type=float, default=None, help="quick 4, full 30")
    ap.add_argument("--gremlin-url", default=None,
                    help="use this JanusGraph (default: start a private, fresh one for the run)")
    ap.add_argument("--kafka", default=os.environ.get("RDG_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    ap.add_argument("--no-embedded", action="store_true", help="skip the embedded figures")
    ap.add_argument("--processes", type=int, default=2, help="Bytewax processes per pipeline, concurrent phase")
    ap.add_argument("--writers", type=int, default=2, help="graph writers, concurrent phase")
    ap.add_argument("--freshness-rate", type=float, default=None,
                    help="events/s offered in the freshness phase (default: half the measured pipeline rate)")
    args = ap.parse_args()
    n = args.events or (800 if args.quick else 5000)
    n_naive = args.naive_events or (30 if args.quick else 300)
    fresh_s = args.freshness_seconds or (4.0 if args.quick else 30.0)
    spec_path = ROOT / "pipelines.yaml"
    os.environ.setdefault("RDG_DATA", str(ROOT / "rdg" / "data"))
    run = uuid.uuid4().hex[:6]
    tmp = Path(tempfile.mkdtemp(prefix="rdg-bench-ingest-"))
    result: dict[str, Any] = {"events": n, "naive_events": n_naive}
    t0 = time.monotonic()

    # -- JanusGraph ---------------------------------------------------------------------------
    with contextlib.ExitStack() as stack:
        gremlin_url = args.gremlin_url
        if gremlin_url is None:
            from rdg.stack import start_for_tests

            t = time.monotonic()
            gremlin_url = stack.enter_context(start_for_tests("janusgraph", tmp / "janusgraph"))
            log(f"private JanusGraph (inmemory) at {gremlin_url} in {time.monotonic() - t:.1f}s")
        result["janusgraph"] = "private, fresh (inmemory)" if args.gremlin_url is None else args.gremlin_url
        run_janusgraph(args, result, tmp, gremlin_url, spec_path, run, n, n_naive, fresh_s)
    run_embedded(args, result, tmp, spec_path, run, n, n_naive)
    result["seconds"] = round(time.monotonic() - t0, 1)
    result["machine"] = f"{os.cpu_count()} cpus, load average {os.getloadavg()[0]:.1f}"
    print(json.dumps(result, indent=None if args.json else 2))


def run_janusgraph(args: Any, result: dict[str, Any], tmp: Path, gremlin_url: str, spec_path: Path, run: str,
                   n: int, n_naive: int, fresh_s: float) -> None:
    settings = Settings(state_dir=str(tmp / "state"), gremlin_url=gremlin_url, kafka_bootstrap=args.kafka)
    from rdg.pipeline import default_opener

    opener = default_opener(settings)
    os.environ["RDG_TOPIC_PREFIX"] = f"bi{run}p"
    spec = load_spec(spec_path)
    init_graph_schema(spec, opener)
    batch = spec.pipeline("games").dedup.max_batch
    ceiling(opener, writes_for(spec, events(60, f"bi{run}w-")), batch)  # warm the server's JIT up first
    per_event = writes_for(spec, events(n, f"bi{run}c-"))
    log(f"janusgraph ceiling: {n} events, {sum(map(len, per_event))} writes, batches of {batch}")
    ceil = ceiling(opener, per_event, batch)
    log(f"  {ceil:,.0f} events/s")
    log(f"janusgraph naive: {n_naive} events, one request each")
    nai = naive(opener, writes_for(spec, events(n_naive, f"bi{run}n-")))
    log(f"  {nai:,.0f} events/s")
    lines = events(n, f"bi{run}p-")
    produce(args.kafka, f"bi{run}p.games.sessions", lines)
    log(f"direct: {n} events from Kafka through Bytewax, the pipeline writing JanusGraph itself (one writer)")
    pipe = pipeline_rate(spec, settings, opener, n)
    log(f"  {pipe['events_per_s']:,.0f} events/s ({pipe['seconds']:.1f}s, {pipe['requests']} requests, "
        f"{pipe['share_in_graph_upsert']:.0%} of the time inside graph.upsert)")
    log(f"deployed: {n} events, `rdg deploy games` + 1 graph writer (the path every deployment takes)")
    dep = deployed_rate(spec_path, settings, {"games": events(n + 20, f"bi{run}g-")}, f"bi{run}g")
    log(f"  {dep['events_per_s']:,.0f} events/s ({dep['seconds']:.1f}s)")
    ceil2 = ceiling(opener, writes_for(spec, events(n, f"bi{run}d-")), batch)  # again, after: the shared
    log(f"janusgraph ceiling again: {ceil2:,.0f} events/s (the higher one is quoted)")  # server is noisy
    result["ceiling_runs"] = [round(ceil, 1), round(ceil2, 1)]
    ceil = max(ceil, ceil2)
    result.update(events_per_s=dep["events_per_s"], ceiling_events_per_s=round(ceil, 1),
                  naive_events_per_s=round(nai, 1), ingest_vs_ceiling=round(dep["events_per_s"] / ceil, 3),
                  ingest_vs_naive=round(dep["events_per_s"] / nai, 2), deployed=dep,
                  direct_events_per_s=round(pipe["events_per_s"], 1),
                  direct_vs_ceiling=round(pipe["events_per_s"] / ceil, 3), pipeline=pipe)
    concurrent(args, result, settings, opener, spec, spec_path, run, n, batch)
    rate = args.freshness_rate or dep["events_per_s"] / 2
    log(f"freshness at {rate:,.0f} events/s ({'given' if args.freshness_rate else 'half the pipeline rate'}) "
        f"for {fresh_s:.0f}s")
    fr = freshness(spec_path, settings, rate, fresh_s, f"bi{run}f")
    log(f"  writer: p50 {fr['p50_ms']} ms, p99 {fr['p99_ms']} ms; probe: p50 {fr['probe_p50_ms']} ms, "
        f"p99 {fr['probe_p99_ms']} ms over {fr['probes']} probes")
    result.update(freshness_p50_ms=fr["p50_ms"], freshness_p99_ms=fr["p99_ms"], freshness=fr)



def concurrent(args: Any, result: dict[str, Any], settings: Settings, opener: Any, spec: Any, spec_path: Path,
               run: str, n: int, batch: int) -> None:
    """All three example pipelines at once (``--processes`` each, ``--writers``), against the
    same events written straight through ``graph.upsert`` in batches, each on an emptied graph."""
    members = max(8, n // 12)
    lines = {name: ls for name, ls in generate(members=members, seed=21).items()}
    per_event = [ws for name, ls in lines.items() for ws in writes_for(spec, ls[20:], name, strict=False)]
    clear_graph(opener)
    ceil = ceiling(opener, per_event, batch) * (sum(len(ls) - 20 for ls in lines.values()) / len(per_event))
    log(f"concurrent ceiling: {sum(map(len, lines.values()))} events of three pipelines straight into the graph: "
        f"{ceil:,.0f} events/s")
    clear_graph(opener)
    log(f"concurrent: all three pipelines deployed at once, {args.processes} processes each, {args.writers} writers")
    conc = deployed_rate(spec_path, settings, lines, f"bi{run}k", processes=args.processes, writers=args.writers)
    log(f"  {conc['events_per_s']:,.0f} events/s ({conc['seconds']:.1f}s, load average {conc['load_average']})")
    result.update(concurrent_events_per_s=conc["events_per_s"], concurrent_ceiling_events_per_s=round(ceil, 1),
                  concurrent_vs_ceiling=round(conc["events_per_s"] / ceil, 3), concurrent=conc)


def run_embedded(args: Any, result: dict[str, Any], tmp: Path, spec_path: Path, run: str, n: int, n_naive: int) -> None:
    from rdg.pipeline import default_opener

    spec = load_spec(spec_path)
    batch = spec.pipeline("games").dedup.max_batch
    if not args.no_embedded:
        esettings = Settings(state_dir=str(tmp / "embedded"), gremlin_url=str(tmp / "embedded" / "graph.sqlite"))
        eopener = default_opener(esettings)
        init_graph_schema(spec, eopener)
        eceil = ceiling(eopener, writes_for(spec, events(n, f"be{run}c-")), batch)
        enai = naive(eopener, writes_for(spec, events(n_naive, f"be{run}n-")))
        efile = tmp / "embedded-events.jsonl"
        efile.write_text("\n".join(events(n, f"be{run}p-")) + "\n")
        epipe = pipeline_rate(spec, esettings, eopener, n, events_file=str(efile))
        result["embedded"] = {"events_per_s": round(epipe["events_per_s"], 1),
                              "ceiling_events_per_s": round(eceil, 1), "naive_events_per_s": round(enai, 1),
                              "ingest_vs_ceiling": round(epipe["events_per_s"] / eceil, 3),
                              "ingest_vs_naive": round(epipe["events_per_s"] / enai, 2),
                              "source": "JSONL file (no Kafka in the embedded default)",
                              "freshness": "not measured: the embedded default has no streaming source"}
        log(f"embedded: pipeline {epipe['events_per_s']:,.0f} events/s, ceiling {eceil:,.0f}, naive {enai:,.0f}")


if __name__ == "__main__":
    main()
