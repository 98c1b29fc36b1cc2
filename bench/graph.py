"""Graph layer benchmark: batched upsert vs a one-request-per-element writer, and query latency.

Usage:
    python bench/graph.py --quick --json              # < 60 s: dev JanusGraph + embedded
    python bench/graph.py --edges 1000000             # full: a private JanusGraph (berkeleyje)
    python bench/graph.py --quick --gremlin-url ws://127.0.0.1:8182/gremlin
    python bench/graph.py --only embedded --json      # the embedded graph alone: 100,000 edges

Both writers run in the same process, on the same machine, one after the other, on fresh
labels, so the ratio is what to quote. The naive writer sends one fold/coalesce traversal per
element (JanusGraph) or commits one transaction per element (embedded): what a pipeline
without batching would do. Query latency: 1-hop ``profile -watched-> title`` and 3-hop
``profile -watched-> title <-watched- profile -used-> device`` (limit 100) from random profiles.

``--json`` prints one JSON object with ``upsert_elements_per_s``, ``upsert_speedup``,
``one_hop_p99_ms``, ``three_hop_p99_ms``, ``edges`` (JanusGraph figures) and per-backend details.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gremlin_python.process.graph_traversal import __  # noqa: E402
from gremlin_python.statics import long  # noqa: E402

from rdg.graph import EdgeLabel, EdgeWrite, Graph, GraphModel, VertexLabel, VertexWrite, connect  # noqa: E402


def write_ceiling(graph: Graph, writes: list[VertexWrite | EdgeWrite]) -> float:
    """The raw batched write rate (elements/s) of ``graph.upsert`` for ``writes``: the ingest ceiling."""
    start = time.perf_counter()
    graph.upsert(writes)
    return len(writes) / max(time.perf_counter() - start, 1e-9)


def log(msg: str) -> None:
    print(f"[bench.graph {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Names:
    def __init__(self) -> None:
        p = "b" + uuid.uuid4().hex[:6] + "_"
        self.profile, self.device, self.title = p + "profile", p + "device", p + "title"
        self.used, self.watched = p + "used", p + "watched"
        self.pid, self.did, self.tid = p + "profile_id", p + "device_id", p + "title_id"

    def model(self) -> GraphModel:
        return GraphModel(
            vertices=(VertexLabel(self.profile, self.pid, {"name": "string"}),
                      VertexLabel(self.device, self.did, {"os": "string"}),
                      VertexLabel(self.title, self.tid, {"genre": "string"})),
            edges=(EdgeLabel(self.used, self.profile, self.device, {"vertical": "string"}),
                   EdgeLabel(self.watched, self.profile, self.title, {"position_s": "long"})))

    def labels(self) -> list[str]:
        return [self.profile, self.device, self.title]


def workload(n: Names, elements: int, *, profiles: int, devices: int, titles: int, seed: int = 1,
             start: int = 0) -> list[Any]:
    """``elements`` writes: 10% profile vertices, 20% used edges, 70% watched edges."""
    rnd = random.Random(seed)
    out: list[Any] = []
    for i in range(start, start + elements):
        p = rnd.randrange(profiles)
        ts = 1_700_000_000_000 + i * 1000
        kind = i % 10
        if kind == 0:
            out.append(VertexWrite(n.profile, n.pid, f"p{p}", {"name": f"Profile {p}"}, ts=ts, source=f"bench@{i}"))
        elif kind <= 2:
            d = p * 3 + rnd.randrange(3)
            out.append(EdgeWrite(n.used, (n.profile, n.pid, f"p{p}"), (n.device, n.did, f"d{d % devices}"),
                                 {"vertical": "playback"}, ts=ts, event_id=f"e{i}", source=f"bench@{i}"))
        else:
            out.append(EdgeWrite(n.watched, (n.profile, n.pid, f"p{p}"), (n.title, n.tid, f"t{rnd.randrange(titles)}"),
                                 {"position_s": i % 3600}, ts=ts, event_id=f"e{i}", source=f"bench@{i}"))
    return out


def naive_janus(graph: Any, writes: list[Any]) -> float:
    """One fold/coalesce traversal (one request) per element; elements/s."""
    g = graph.g
    start = time.perf_counter()
    for w in writes:
        if isinstance(w, VertexWrite):
            t = g.V().has(w.label, w.key, w.key_value).fold().coalesce(
                __.unfold(), __.add_v(w.label).property(w.key, w.key_value))
            for k, v in w.properties.items():
                t = t.property(k, v)
            t.property("_ts", long(w.ts)).iterate()
            continue
        (fl, fk, fv), (tl, tk, tv) = w.from_vertex, w.to_vertex
        t = (g.V().has(fl, fk, fv).fold().coalesce(__.unfold(), __.add_v(fl).property(fk, fv)).as_("a")
             .coalesce(__.V().has(tl, tk, tv), __.add_v(tl).property(tk, tv)).as_("b")
             .coalesce(__.select("a").out_e(w.label).where(__.in_v().as_("b")),
                       __.add_e(w.label).from_("a").to("b").property("first_seen", long(w.ts))
                       .property("count", long(0)))
             .property("last_seen", long(w.ts)))
        for k, v in w.properties.items():
            t = t.property(k, v)
        t.iterate()
    return len(writes) / (time.perf_counter() - start)


def naive_embedded(graph: Any, writes: list[Any]) -> float:
    """One transaction (one commit) per element, same semantics as upsert; elements/s."""
    start = time.perf_counter()
    for w in writes:
        graph.upsert([w])
    return len(writes) / (time.perf_counter() - start)


def write_rates(graph: Any, *, batched: int, naive: int, batch_size: int | None, rounds: int = 3) -> dict[str, Any]:
    """Batched vs one-request-per-element, alternated ``rounds`` times (medians): the shared
    machine's load swings, and alternating exposes both writers to the same swings."""
    n, n2 = Names(), Names()
    graph.init_schema(n.model())
    graph.init_schema(n2.model())
    kw = dict(profiles=max(50, batched // 40), devices=max(150, batched // 15), titles=max(100, batched // 20))
    if batch_size:
        graph.batch_size = batch_size
    # warm-up, not counted: the server's JIT compiles both writers' code paths on first use
    write_ceiling(graph, workload(n, min(2000, batched // rounds), **kw, start=10 * batched))
    one_by_one = naive_janus if graph.backend == "janusgraph" else naive_embedded
    one_by_one(graph, workload(n2, min(100, naive // rounds), **kw, seed=3, start=10 * naive))
    fast, slow = [], []
    for r in range(rounds):
        data = workload(n, batched // rounds, **kw, start=r * batched)
        fast.append(write_ceiling(graph, data))
        data2 = workload(n2, naive // rounds, **kw, seed=2, start=r * naive)
        slow.append(one_by_one(graph, data2))
        log(f"{graph.backend}: round {r + 1}: batched {fast[-1]:,.0f}/s, one request per element {slow[-1]:,.0f}/s")
    rate, naive_rate = statistics.median(fast), statistics.median(slow)
    if graph.backend == "janusgraph":
        for names in (n, n2):
            graph.g.V().has_label(*names.labels()).drop().iterate()
    return {"upsert_elements_per_s": round(rate), "naive_elements_per_s": round(naive_rate),
            "upsert_speedup": round(rate / naive_rate, 1), "batch_size": graph.batch_size,
            "speedup_per_round": [round(f / s_, 1) for f, s_ in zip(fast, slow)]}


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def _query_graph_writes(n: Names, *, profiles: int, devices: int, titles: int, per_profile: int,
                        part: int, parts: int) -> Iterator[list[Any]]:
    """Edges of the query graph for profiles ``p % parts == part``, in chunks of ~20,000."""
    rnd = random.Random(part)
    chunk: list[Any] = []
    for p in range(part, profiles, parts):
        ts = 1_700_000_000_000 + p * 1000
        pv = (n.profile, n.pid, f"p{p}")
        for j in range(3):
            chunk.append(EdgeWrite(n.used, pv, (n.device, n.did, f"d{(p * 3 + j) % devices}"),
                                   {"vertical": "playback"}, ts=ts + j, event_id=f"u{p}.{j}"))
        for j, t in enumerate(rnd.sample(range(titles), per_profile - 3)):
            chunk.append(EdgeWrite(n.watched, pv, (n.title, n.tid, f"t{t}"), {"position_s": j},
                                   ts=ts + j, event_id=f"w{p}.{j}"))
        if len(chunk) >= 20_000:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def query_latency(graph: Any, *, edges: int, queries: int, keep: bool = False, url: str | None = None,
                  threads: int = 1) -> dict[str, Any]:
    """Load a graph of ``edges`` edges, then time 1-hop and 3-hop queries from random profiles.

    Vertices are written first, then the edges, partitioned by profile over ``threads``
    connections (each edge belongs to one profile, and every endpoint exists already, so the
    writers never touch the same element).
    """
    import threading

    n = Names()
    graph.init_schema(n.model())
    per_profile = 40
    profiles = max(10, edges // per_profile)
    devices, titles = profiles * 3, max(200, edges // 100)
    start = time.perf_counter()
    vertices = ([VertexWrite(n.profile, n.pid, f"p{p}", {"name": f"Profile {p}"}, ts=1) for p in range(profiles)]
                + [VertexWrite(n.device, n.did, f"d{d}", {"os": "tv"}, ts=1) for d in range(devices)]
                + [VertexWrite(n.title, n.tid, f"t{t}", {"genre": "drama"}, ts=1) for t in range(titles)])
    for i in range(0, len(vertices), 20_000):
        graph.upsert(vertices[i:i + 20_000])
    log(f"{graph.backend}: {len(vertices):,} vertices in {time.perf_counter() - start:.0f}s")
    done = [0]
    lock = threading.Lock()
    errors: list[BaseException] = []

    def load(part: int) -> None:
        try:
            with (connect(url) if url else contextlib.nullcontext(graph)) as g:
                for chunk in _query_graph_writes(n, profiles=profiles, devices=devices, titles=titles,
                                                 per_profile=per_profile, part=part, parts=threads):
                    res = g.upsert(chunk)
                    if res.failed:
                        raise RuntimeError(f"{len(res.failed)} writes failed: {res.failed[0][1]}")
                    with lock:
                        done[0] += len(chunk)
                        rate = done[0] / (time.perf_counter() - start)
                        log(f"{graph.backend}: {done[0]:,}/{profiles * per_profile:,} edges ({rate:,.0f}/s)")
        except BaseException as err:  # noqa: BLE001 - reported by the main thread
            errors.append(err)

    if threads == 1:
        load(0)
    else:
        workers = [threading.Thread(target=load, args=(k,)) for k in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    if errors:
        raise errors[0]
    load_s = time.perf_counter() - start
    count = graph.g.V().has_label(n.profile).out_e().count().next()
    g = graph.g
    rnd = random.Random(5)
    one, three = [], []
    for _ in range(queries):
        pid = f"p{rnd.randrange(profiles)}"
        t0 = time.perf_counter()
        g.V().has(n.profile, n.pid, pid).out(n.watched).values(n.tid).to_list()
        one.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        (g.V().has(n.profile, n.pid, pid).out(n.watched).in_(n.watched).out(n.used).limit(100)
         .values(n.did).to_list())
        three.append((time.perf_counter() - t0) * 1000)
    if graph.backend == "janusgraph" and not keep:
        graph.g.V().has_label(*n.labels()).drop().iterate()
    out = {"edges": count, "load_elements_per_s": round((len(vertices) + count) / load_s), "load_s": round(load_s),
           "one_hop_p50_ms": round(statistics.median(one), 2), "one_hop_p99_ms": round(pct(one, 99), 2),
           "three_hop_p50_ms": round(statistics.median(three), 2), "three_hop_p99_ms": round(pct(three, 99), 2)}
    log(f"{graph.backend}: {json.dumps(out)}")
    return out


@contextlib.contextmanager
def private_janusgraph(backend: str, heap: str) -> Iterator[str]:
    """A JanusGraph Server of our own (free port, temp folder); stopped after."""
    from rdg.stack import start_for_tests

    folder = tempfile.mkdtemp(prefix="rdg-bench-jg-")
    with start_for_tests("janusgraph", folder, timeout=180, backend=backend,
                         jvm_options=["-Xms512m", f"-Xmx{heap}"]) as url:
        log(f"private JanusGraph ({backend}, heap {heap}) at {url}")
        try:
            yield url
        finally:
            log("stopping private JanusGraph")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, under 60 s, on the dev JanusGraph")
    ap.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    ap.add_argument("--gremlin-url", default=os.environ.get("RDG_GREMLIN_URL", "ws://127.0.0.1:8182/gremlin"))
    ap.add_argument("--edges", type=int, default=None, help="edges in the query graph (full default 1,000,000)")
    ap.add_argument("--private", choices=["inmemory", "berkeleyje"], default=None,
                    help="start a private JanusGraph with this storage for the query graph (full default berkeleyje)")
    ap.add_argument("--heap", default="2g", help="heap of the private JanusGraph")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--threads", type=int, default=2, help="writer connections loading the query graph")
    ap.add_argument("--embedded-edges", type=int, default=None,
                    help="edges in the embedded query graph (quick 5,000, full 100,000)")
    ap.add_argument("--only", choices=["embedded", "janusgraph"], default=None, help="measure one backend")
    args = ap.parse_args()
    quick = args.quick
    edges = args.edges or (5_000 if quick else 1_000_000)
    private = args.private or (None if quick else "berkeleyje")
    result: dict[str, Any] = {"mode": "quick" if quick else "full"}

    embedded_edges = args.embedded_edges or (5_000 if quick else 100_000)
    if args.only != "janusgraph":
        with tempfile.TemporaryDirectory() as tmp:
            with connect(str(Path(tmp) / "bench.sqlite")) as emb:
                result["embedded"] = write_rates(emb, batched=3000 if quick else 6000, naive=300 if quick else 600,
                                                 batch_size=args.batch_size)
                result["embedded"].update(query_latency(emb, edges=embedded_edges, queries=100 if quick else 300))
    if args.only == "embedded":
        print(json.dumps(result, indent=None if args.json else 2))
        return
    with connect(args.gremlin_url) as jan:
        result["janusgraph"] = write_rates(jan, batched=3000 if quick else 30_000, naive=300 if quick else 3000,
                                           batch_size=args.batch_size)
        if private is None:
            result["janusgraph"].update(query_latency(jan, edges=edges, queries=100, url=args.gremlin_url,
                                                      threads=args.threads))
    if private is not None:
        with private_janusgraph(private, args.heap) as url, connect(url) as big:
            result["janusgraph"].update(query_latency(big, edges=edges, queries=500, keep=True, url=url,
                                                      threads=args.threads))
            result["janusgraph"]["storage"] = private
    jg = result["janusgraph"]
    result.update({k: jg[k] for k in ("upsert_elements_per_s", "upsert_speedup", "one_hop_p99_ms",
                                      "three_hop_p99_ms", "edges")})
    print(json.dumps(result, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
