"""The workflow benchmark on two nats-server versions side by side, in one run: Debian's 2.9
(``nats-server`` on PATH) against the stack's build (2.15), alternating rounds to spread noise.

    .venv/bin/python bench/nats_servers.py                       # 2 rounds each, --quick figures
    .venv/bin/python bench/nats_servers.py --code /tmp/before --code .   # two engines, both servers

Each round starts a fresh server (``rdg.stack.start_for_tests``) and runs ``bench/workflow.py
--quick --json`` from each ``--code`` checkout (default: this one) against it, every combination
once per round. Prints one line per run and the medians per combination, as JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rdg.config import load_settings  # noqa: E402
from rdg.stack import nats_server_binary, nats_server_version, start_for_tests  # noqa: E402

KEYS = ("step_overhead_p50_ms", "step_overhead_p99_ms", "start_latency_ms", "steps_per_s")


def _round(server: str, code: Path) -> dict[str, Any]:
    os.environ["RDG_NATS_SERVER"] = server
    with tempfile.TemporaryDirectory() as tmp, start_for_tests("nats", tmp) as url:
        done = subprocess.run([sys.executable, str(code / "bench" / "workflow.py"), "--quick", "--json",
                               "--nats", url], capture_output=True, text=True, check=True, cwd=code,
                              env={**os.environ, "PYTHONPATH": str(code)})
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--code", type=Path, action="append",
                        help="checkout whose bench/workflow.py and engine run (repeat to compare; default: this one)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    stack_dir = load_settings(config_file=None).stack_dir
    servers = {}
    for path in (nats_server_binary(None), nats_server_binary(stack_dir)):  # the system's, then the stack's build
        servers[nats_server_version(path)] = path
    codes = [c.resolve() for c in (args.code or [ROOT])]
    results: dict[str, list[dict[str, Any]]] = {}
    for i in range(args.rounds):
        for code in codes:
            for version, path in servers.items():
                label = f"{code.name} on nats {version}"
                got = _round(path, code)
                results.setdefault(label, []).append(got)
                print(f"round {i + 1} {label}: " + ", ".join(f"{k} {got[k]}" for k in KEYS), file=sys.stderr)
    medians = {label: {k: round(statistics.median(r[k] for r in rows), 2) for k in KEYS}
               for label, rows in results.items()}
    if args.json:
        print(json.dumps({"rounds": args.rounds, "medians": medians}))
    else:
        for label, row in medians.items():
            print(f"{label:<28} " + "  ".join(f"{k} {v}" for k, v in row.items()))


if __name__ == "__main__":
    main()
