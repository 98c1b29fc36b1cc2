"""The supervisor of one deployed pipeline: ``python -m rdg.pipeline._supervisor FOLDER``.

Starts N worker processes (``rdg.pipeline._worker``), restarts them all (with backoff) when one
dies, and stops them on SIGTERM. Writes ``supervisor.json`` (restarts, last error).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rdg.stack import free_ports, launch


def _log(text: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} supervisor: {text}", flush=True)


def main(folder: Path) -> int:
    """Run until every worker finishes (bounded sources) or SIGTERM."""
    info = json.loads((folder / "deploy.json").read_text())
    n = int(info["processes"])
    state: dict[str, Any] = {"restarts": 0, "last_error": None, "last_error_at": None, "started_at": time.time()}
    workers: list[subprocess.Popen[bytes]] = []
    stopping = False

    def save() -> None:
        (folder / "supervisor.json").write_text(json.dumps(state))

    def terminate(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)
    backoff = 1.0
    save()
    while not stopping:
        addresses = ",".join(f"127.0.0.1:{p}" for p in free_ports(n)) if n > 1 else ""
        _log(f"starting {info['pipeline']} with {n} process(es)" + (f" at {addresses}" if addresses else ""))
        workers = [launch([sys.executable, "-m", "rdg.pipeline._worker", str(folder), str(i), addresses],
                          detached=False) for i in range(n)]
        started = time.monotonic()
        failed: int | None = None
        while not stopping:
            codes = [w.poll() for w in workers]
            bad = [c for c in codes if c not in (None, 0)]
            if bad:
                failed = bad[0]
                break
            if all(c == 0 for c in codes):
                _log("all workers finished (their input ended)")
                state["finished_at"] = time.time()
                save()
                return 0
            time.sleep(0.2)
        for w in workers:
            if w.poll() is None:
                w.terminate()
        deadline = time.monotonic() + 10
        for w in workers:
            try:
                w.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                w.kill()
                w.wait()
        if stopping:
            break
        state["restarts"] += 1
        state["last_error"] = f"a worker exited with code {failed}; restarting all (resume from recovery)"
        state["last_error_at"] = time.time()
        save()
        if time.monotonic() - started > 60:
            backoff = 1.0
        _log(f"{state['last_error']} in {backoff:.0f}s")
        time.sleep(backoff)
        backoff = min(backoff * 2, 30.0)
    _log("stopped")
    state["stopped_at"] = time.time()
    save()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
