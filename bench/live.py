"""Live-events benchmark: trigger-to-update latency over a simulated fleet, prefetch vs naive origin load.

Runs the device-fleet simulator twice in one go with the same settings and member graph:
with prefetch (devices fetch while browsing before the event) and ``--naive`` (everyone fetches
when the event starts). Prints one JSON object with ``--json``.

    .venv/bin/python bench/live.py --quick --json      # 10,000 devices, < 60 s
    .venv/bin/python bench/live.py --json              # 100,000 devices

Needs a NATS server with JetStream (``RDG_NATS_URL``, default nats://127.0.0.1:4222).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 devices, done in under a minute")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--devices", type=int, default=None)
    parser.add_argument("--gateways", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--conns", type=int, default=None)
    parser.add_argument("--png", default="bench/live.png")
    args = parser.parse_args(argv)

    from rdg.sim import SimConfig, compare, plot_simulation

    devices = args.devices or (10_000 if args.quick else 100_000)
    cfg = SimConfig(devices=devices, gateways=args.gateways, workers=args.workers, conns=args.conns,
                    members=500 if args.quick else 2000, browse_s=5.0 if args.quick else 40.0,
                    nats_url=os.environ.get("RDG_NATS_URL", "nats://127.0.0.1:4222"), timeout_s=600)
    t0 = time.time()
    out = compare(cfg)
    pre, naive = out["prefetch"], out["naive"]
    plot_simulation([pre, naive], args.png)
    result = {
        "devices": devices,
        "gateways": cfg.gateways,
        "fleet_processes": cfg.workers,
        "websocket_connections": pre.connections,
        "gateway_fanout_ms": round(pre.gateway_fanout_ms, 1),
        "update_p50_ms": round(pre.update_p50_ms, 1),
        "update_p99_ms": round(pre.update_p99_ms, 1),
        "update_max_ms": round(pre.update_max_ms, 1),
        "updated_devices": pre.updated,
        "prefetch_misses": pre.misses,
        "naive_update_p50_ms": round(naive.update_p50_ms, 1),
        "naive_update_p99_ms": round(naive.update_p99_ms, 1),
        "origin_peak_rps_prefetch": pre.origin_peak_rps_at_start,
        "origin_peak_rps_naive": naive.origin_peak_rps_at_start,
        "origin_peak_ratio": round(out["origin_peak_ratio"], 6),
        "wanted_peak_rps_prefetch": pre.offered_peak_rps_at_start,
        "wanted_peak_rps_naive": naive.offered_peak_rps_at_start,
        "prefetch_browse_peak_rps": pre.origin_peak_rps,
        "origin_requests_prefetch": pre.origin_requests,
        "origin_requests_naive": naive.origin_requests,
        "seconds": round(time.time() - t0, 1),
        "png": args.png,
        "machine": f"{platform.machine()} x{os.cpu_count()} cores, Python {platform.python_version()}",
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:28} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
