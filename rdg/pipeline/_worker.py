"""One Bytewax process of a deployed pipeline: ``python -m rdg.pipeline._worker FOLDER ID ADDRESSES``.

Loads the spec and settings saved by ``deploy``, compiles the pipeline, and runs it with
recovery (``FOLDER/recovery``) as process ``ID`` of the cluster at ``ADDRESSES`` (empty: alone).
"""

from __future__ import annotations

import faulthandler
import json
import logging
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path


def main(folder: Path, process_id: int, addresses: str) -> int:
    """Run until the input ends (0) or the process is stopped."""
    from bytewax.recovery import RecoveryConfig
    from bytewax.run import cli_main

    from rdg.config import Settings
    from rdg.pipeline._dataflow import compile_pipeline
    from rdg.pipeline._metrics import Metrics, MetricsWriter
    from rdg.redact import install_log_redaction
    from rdg.pipeline._run import load_spec

    faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1 PID`: every thread's stack to the log
    logging.basicConfig(level=logging.WARNING, format=f"%(asctime)s worker-{process_id} %(levelname)s %(name)s: %(message)s")
    logging.getLogger("rdg").setLevel(logging.INFO)
    install_log_redaction()
    info = json.loads((folder / "deploy.json").read_text())
    settings = Settings(**info["settings"])
    if info.get("kind") == "graph-writer":
        from rdg.pipeline._graph_writes import run_writer_process

        return run_writer_process(folder, process_id, settings)
    spec = load_spec(info["spec"])
    name = info["pipeline"]
    opener = None  # the default: the embedded graph directly, a graph server through the graph writers
    metrics = Metrics(name)
    previous = folder / f"metrics-{process_id}.json"
    try:  # Kafka offsets a predecessor had read: lag stays right after a resume with nothing new
        metrics.offsets.update(json.loads(previous.read_text()).get("offsets", {}))
    except (OSError, ValueError):
        pass
    writer = MetricsWriter(metrics, previous).start()
    compiled = compile_pipeline(spec, name, settings=settings, opener=opener, metrics=metrics)
    logging.getLogger("rdg.pipeline").info("pipeline %s running (pid %s)", name, os.getpid())
    try:
        kwargs = {}
        if addresses:
            kwargs = {"process_id": process_id, "addresses": addresses.split(",")}
        cli_main(compiled.flow, workers_per_process=1, epoch_interval=timedelta(seconds=float(info["epoch_interval_s"])),
                 recovery_config=RecoveryConfig(folder / "recovery"), **kwargs)
    finally:
        writer.stop()
        compiled.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else ""))
