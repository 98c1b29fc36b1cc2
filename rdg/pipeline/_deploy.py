"""Deployed pipelines: supervised background processes with Bytewax recovery.

``deploy`` starts one supervisor per pipeline (its own process group, detached). The supervisor
starts N worker processes (a Bytewax cluster when N > 1, sharing the Kafka partitions), and if
any of them dies it stops the rest and starts them all again: Bytewax resumes from the last
recovery snapshot, and the graph's idempotent upserts make the replay harmless. Everything a
pipeline keeps is under ``<state_dir>/pipelines/<name>/``: ``deploy.json``, ``supervisor.pid``,
``recovery/``, ``metrics-<i>.json``, ``pipeline.log``.

On a graph server the pipelines hand their writes to the graph writers (one owner per vertex,
see ``rdg.pipeline._graph_writes``): ``deploy`` also starts them, as the deployment
``graph-writer`` (N writer processes sharing the partitions of ``graph_writes_topic``);
``status`` shows it with its lag (writes not yet in the graph), and ``stop`` stops it last.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from rdg.config import Settings
from rdg.errors import IllegalActionError, NotFoundError
from rdg.errors import ConfigError
from rdg.pipeline._dataflow import pipeline_dir, writes_through_writers
from rdg.pipeline._metrics import read_metrics
from rdg.spec import PipelinesSpec
from rdg.stack import launch, pid_alive, write_private

__all__ = ["WRITER", "DeployResult", "PipelineStatus", "deploy", "log_path", "read_log", "status", "stop"]

LOG_NAME = "pipeline.log"
WRITER = "graph-writer"
"""The deployment of the graph writers (not a pipeline name a spec may use)."""


def log_path(settings: Settings, name: str) -> Path:
    """The log file of a deployed pipeline (supervisor and workers)."""
    return pipeline_dir(settings, name) / LOG_NAME


def _supervisor_pid(folder: Path) -> int | None:
    try:
        pid = int((folder / "supervisor.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid) else None


@dataclass
class DeployResult:
    """One pipeline's deploy outcome."""

    pipeline: str
    pid: int
    processes: int
    already_running: bool
    folder: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return dict(self.__dict__)


def deploy(spec: PipelinesSpec, names: Iterable[str] | None = None, *, settings: Settings, processes: int = 1,
           epoch_interval_s: float = 1.0, writers: int = 1) -> list[DeployResult]:
    """Start pipelines as supervised background processes (skips ones already running).

    On a graph server the graph writers are started too (first, as ``graph-writer``), and the
    Kafka topic they share with the pipelines is created if missing.

    Args:
        spec: The validated spec (its file is re-read by the workers).
        names: Pipelines to start (default: all).
        settings: Passed to the workers as they are now.
        processes: Bytewax processes per pipeline (N > 1: a cluster sharing Kafka partitions).
        epoch_interval_s: How often recovery snapshots are taken.
        writers: Graph writer processes, if they are not running yet (at most
            ``graph_writes_partitions`` do work; the rest stand by).

    Raises:
        NotFoundError: An unknown pipeline name.
        IllegalActionError: ``processes`` or ``writers`` < 1.
        ConfigError: A pipeline is named ``graph-writer``.
    """
    if processes < 1 or writers < 1:
        raise IllegalActionError(f"--processes and --writers must be >= 1, not {processes} and {writers}")
    chosen = list(names) if names else list(spec.pipelines)
    for name in chosen:
        spec.pipeline(name)  # raises NotFoundError with a hint
        if name == WRITER:
            raise ConfigError(f"a pipeline cannot be named '{WRITER}': rdg runs its graph writers under that name",
                              hint="rename the pipeline in the spec")
    from rdg.pipeline._dataflow import default_opener
    from rdg.pipeline._run import init_graph_schema

    init_graph_schema(spec, default_opener(settings))  # fail here, clearly, if the graph is away
    out = []
    if writes_through_writers(settings):
        from rdg.pipeline._graph_writes import ensure_topic

        ensure_topic(settings)
        out.append(_start(WRITER, spec, settings, writers, {"kind": WRITER}))
    for name in chosen:
        out.append(_start(name, spec, settings, processes, {"epoch_interval_s": epoch_interval_s}))
    return out


def _check_same_processes(folder: Path, name: str, processes: int) -> None:
    """A recovery store made for N processes cannot be resumed by M: say so before anything starts
    (Bytewax's workers would otherwise panic and the supervisor restart them forever)."""
    try:
        before = int(json.loads((folder / "deploy.json").read_text())["processes"])
    except (OSError, ValueError, KeyError):
        return
    if before != processes:
        raise IllegalActionError(
            f"pipeline '{name}' was deployed with {before} process(es); its recovery store in {folder / 'recovery'} "
            f"resumes only with {before}",
            hint=f"deploy it with --processes {before}, or `rdg stop {name}` and delete that folder to start over "
                 f"from the sources' retained data with {processes}")


def _start(name: str, spec: PipelinesSpec, settings: Settings, processes: int, extra: dict[str, Any]) -> DeployResult:
    """Start one supervised deployment (a pipeline, or the graph writers) unless it runs."""
    from bytewax.recovery import init_db_dir

    folder = pipeline_dir(settings, name)
    folder.mkdir(parents=True, exist_ok=True)
    running = _supervisor_pid(folder)
    if running is not None:
        return DeployResult(name, running, processes, True, str(folder))
    if name != WRITER:
        recovery = folder / "recovery"
        if not recovery.exists() or not any(recovery.iterdir()):
            recovery.mkdir(parents=True, exist_ok=True)
            init_db_dir(recovery, max(processes, 1))
        else:
            _check_same_processes(folder, name, processes)
    for old in folder.glob("metrics-*.json"):  # keep 0..N-1 (their offsets carry over), drop the rest
        if not old.stem.split("-")[-1].isdigit() or int(old.stem.split("-")[-1]) >= processes:
            old.unlink()
    write_private(folder / "deploy.json", json.dumps({  # the settings, credentials included: 0600 in 0700
        "pipeline": name, "spec": str(Path(spec.file).resolve()), "processes": processes,
        "settings": settings.as_dict(), "deployed_at": time.time(), "cwd": os.getcwd(), **extra,
    }, indent=2).encode())
    (folder / "stop-requested").unlink(missing_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(spec.file).resolve().parent), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    proc = launch([sys.executable, "-m", "rdg.pipeline._supervisor", str(folder)], log=folder / LOG_NAME,
                  env=env, cwd=Path(spec.file).resolve().parent)
    (folder / "supervisor.pid").write_text(str(proc.pid))
    return DeployResult(name, proc.pid, processes, False, str(folder))


def stop(names: Iterable[str] | None = None, *, settings: Settings, timeout: float = 15.0) -> list[str]:
    """Stop deployed pipelines (all running ones by default); returns the names stopped.

    Sends SIGTERM to each supervisor's process group, then SIGKILL after ``timeout``. The graph
    writers stop last, after the pipelines that feed them (``rdg stop`` with no names, or
    ``rdg stop graph-writer``); what they had not applied yet waits in Kafka for their next start.

    Raises:
        NotFoundError: A named pipeline was never deployed here.
    """
    root = Path(settings.state_dir) / "pipelines"
    chosen = list(names) if names else sorted(p.name for p in root.glob("*") if p.is_dir())
    chosen.sort(key=lambda name: name == WRITER)  # stable: the writers move to the end
    stopped = []
    for name in chosen:
        folder = root / name
        if not (folder / "deploy.json").exists():
            raise NotFoundError(f"pipeline '{name}' was never deployed here ({folder})", hint="rdg status lists them")
        pid = _supervisor_pid(folder)
        if pid is None:
            continue
        (folder / "stop-requested").write_text(str(time.time()))
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        deadline = time.monotonic() + timeout
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid_alive(pid):
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:  # reap it if we happen to be its parent (tests deploy and stop in one process)
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        stopped.append(name)
    return stopped


@dataclass
class PipelineStatus:
    """What ``rdg status`` shows for one pipeline."""

    pipeline: str
    running: bool
    pid: int | None
    processes: int
    restarts: int
    events_in: int
    written: int
    dead_letters: int
    filtered: int
    retries: int
    lag: int | None
    last_error: str | None
    last_error_at: float | None
    uptime_s: float | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return dict(self.__dict__)


def _lag(offsets: dict[str, int] | None, topics: list[str], settings: Settings, *,
         group: str = "rdg-status") -> int | None:
    """Messages not yet done on ``topics``: after ``offsets`` (``topic:partition`` -> next offset,
    what a pipeline's workers read), or with ``offsets`` None after what ``group`` committed
    (the graph writers). None when Kafka does not answer, or a committed-offsets topic is missing."""
    if not topics:
        return None
    from confluent_kafka import Consumer, TopicPartition

    try:
        consumer = Consumer(settings.kafka_config(**{"group.id": group, "enable.auto.commit": "false"}))
    except Exception:  # noqa: BLE001 - status must still print
        return None
    total = 0
    try:
        listing = consumer.list_topics(timeout=5).topics  # all topics: asking by name may auto-create one
        for topic in topics:
            meta = listing.get(topic)
            if meta is None or meta.error is not None:
                if offsets is None:
                    return None
                continue
            parts = [TopicPartition(topic, p) for p in meta.partitions]
            done = dict(offsets) if offsets is not None else {
                f"{topic}:{tp.partition}": tp.offset for tp in consumer.committed(parts, timeout=5) if tp.offset >= 0}
            for tp in parts:
                low, high = consumer.get_watermark_offsets(tp, timeout=5)
                total += max(high - done.get(f"{topic}:{tp.partition}", low), 0)
    except Exception:  # noqa: BLE001 - Kafka away: lag unknown
        return None
    finally:
        consumer.close()
    return total


def _writers_lag(settings: Settings) -> int | None:
    """Writes handed to the graph writers and not yet committed by them (their group's offsets)."""
    from rdg.pipeline._graph_writes import group_of

    topic = settings.graph_writes_topic
    return _lag(None, [topic], settings, group=group_of(topic))


def status(settings: Settings, names: Iterable[str] | None = None, *, with_lag: bool = True) -> list[PipelineStatus]:
    """Status of every pipeline deployed under ``settings.state_dir`` (or the named ones)."""
    root = Path(settings.state_dir) / "pipelines"
    chosen = list(names) if names else sorted(p.name for p in root.glob("*") if (p / "deploy.json").exists())
    out = []
    for name in chosen:
        folder = root / name
        try:
            info = json.loads((folder / "deploy.json").read_text())
        except (OSError, ValueError) as err:
            raise NotFoundError(f"pipeline '{name}' was never deployed here ({folder})",
                                hint="rdg deploy NAME starts it") from err
        pid = _supervisor_pid(folder)
        snaps = read_metrics(folder)
        offsets: dict[str, int] = {}
        for snap in snaps:
            for key, value in snap.get("offsets", {}).items():
                offsets[key] = max(offsets.get(key, 0), value)
        errors = [(s.get("last_error_at") or 0, s.get("last_error")) for s in snaps if s.get("last_error")]
        sup = {}
        try:
            sup = json.loads((folder / "supervisor.json").read_text())
        except (OSError, ValueError):
            pass
        if sup.get("last_error") and (not errors or sup.get("last_error_at", 0) > max(errors)[0]):
            errors.append((sup["last_error_at"], sup["last_error"]))
        last = max(errors) if errors else (None, None)
        topics: list[str] = []
        if with_lag and info.get("kind") != WRITER:
            try:
                from rdg.pipeline._run import load_spec

                spec = load_spec(info["spec"])
                pipeline = spec.pipeline(name)
                topics = [spec.sources[s].topic for s in pipeline.sources if spec.sources[s].kind == "kafka"]  # type: ignore[misc]
            except Exception:  # noqa: BLE001 - a spec changed since deploy: no lag, but still a status
                topics = []
        kafka_settings = Settings(**{**info["settings"]}) if info.get("settings") else settings
        out.append(PipelineStatus(
            name, pid is not None, pid, int(info.get("processes", 1)), int(sup.get("restarts", 0)),
            sum(s.get("events_in", 0) for s in snaps), sum(s.get("written", 0) for s in snaps),
            sum(s.get("dead_letters", 0) for s in snaps), sum(s.get("filtered", 0) for s in snaps),
            sum(s.get("retries", 0) for s in snaps),
            (_writers_lag(kafka_settings) if info.get("kind") == WRITER else _lag(offsets, topics, kafka_settings))
            if with_lag else None, last[1],
            last[0], (time.time() - info["deployed_at"]) if pid is not None else None))
    return out


def read_log(settings: Settings, name: str, lines: int = 50) -> list[str]:
    """The last ``lines`` lines of a deployed pipeline's log.

    Raises:
        NotFoundError: No log (never deployed here).
    """
    path = log_path(settings, name)
    if not path.exists():
        raise NotFoundError(f"no log for pipeline '{name}' at {path}", hint="rdg deploy NAME starts it")
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(size - 256 * 1024, 0))
        text = fh.read().decode("utf-8", "replace")
    return text.splitlines()[-lines:]
