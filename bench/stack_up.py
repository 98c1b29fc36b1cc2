"""Stack start-up benchmark: cold vs warm ``rdg stack up``, and ``rdg stack down``.

Runs, one after the other in one process, on free ports and a throw-away ``stack_dir``:

1. *cold*: an empty jar cache, so ``up`` runs Maven for Kafka and JanusGraph (from the local
   ``~/.m2``, or Maven Central when that is empty too), then starts all three servers;
2. *down* of those servers;
3. *warm*: ``up`` again with the jars cached and Kafka's storage already formatted;
4. *down* again.

    .venv/bin/python bench/stack_up.py --quick --json     # one cold + one warm round, < 60 s
    .venv/bin/python bench/stack_up.py --rounds 3         # warm rounds repeated, median reported

``--json`` prints one JSON object with ``cold_up_s``, ``warm_up_s``, ``down_s``, ``speedup``
(cold / warm) and per-server health-wait seconds of the warm round.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rdg.config import Settings  # noqa: E402
from rdg.stack import down, free_ports, up  # noqa: E402


def _timed_up(settings: Settings, ports: dict[str, int]) -> tuple[float, dict[str, float]]:
    lines: list[str] = []
    began = time.perf_counter()
    up(settings, ports=ports, progress=lines.append)
    took = time.perf_counter() - began
    waits = {}
    for line in lines:
        found = re.match(r"(\w+) is healthy .*, ([\d.]+)s\)", line)
        if found:
            waits[found.group(1)] = float(found.group(2))
    return took, waits


def _timed_down(settings: Settings) -> float:
    began = time.perf_counter()
    down(settings)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one warm round (< 60 s)")
    parser.add_argument("--rounds", type=int, default=3, help="warm rounds (median reported)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    rounds = 1 if args.quick else max(1, args.rounds)

    root = Path(tempfile.mkdtemp(prefix="rdg-bench-stack-"))
    settings = Settings(stack_dir=str(root))
    ports = dict(zip(("nats", "nats_monitor", "kafka", "kafka_controller", "janusgraph"), free_ports(5)))
    try:
        cold, _ = _timed_up(settings, ports)
        downs = [_timed_down(settings)]
        warms, waits = [], {}
        for _ in range(rounds):
            took, waits = _timed_up(settings, ports)
            warms.append(took)
            downs.append(_timed_down(settings))
    finally:
        down(settings)
        shutil.rmtree(root, ignore_errors=True)
    result = {
        "cold_up_s": round(cold, 2),
        "warm_up_s": round(statistics.median(warms), 2),
        "down_s": round(statistics.median(downs), 2),
        "speedup": round(cold / statistics.median(warms), 2),
        "warm_health_wait_s": waits,
        "warm_rounds": rounds,
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:<20} {value}")


if __name__ == "__main__":
    main()
