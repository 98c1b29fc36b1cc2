"""Pipelines: compile ``pipelines.yaml`` into Bytewax dataflows that feed the graph.

``source -> normalize -> enrich -> graph-map -> dedup -> batched upsert``, bad events to a
dead-letter output. Run one in the foreground (:func:`run_pipeline`), preview sample events
(:func:`preview`), or deploy supervised background processes with recovery (:func:`deploy`).
"""

from rdg.pipeline._dataflow import CompiledPipeline, compile_pipeline, default_opener, pipeline_dir, to_graph_model
from rdg.pipeline._demo import DemoResult, run_demo
from rdg.pipeline._deploy import WRITER, DeployResult, PipelineStatus, deploy, log_path, read_log, status, stop
from rdg.pipeline._metrics import Metrics, read_metrics
from rdg.pipeline._run import PreviewItem, RunResult, init_graph_schema, load_spec, preview, run_pipeline
from rdg.pipeline._sample import generate, write_samples, write_tables
from rdg.pipeline._steps import DeadLetter, PipelineSteps, RawEvent, to_epoch_ms
from rdg.pipeline._tables import open_tables

__all__ = [
    "WRITER",
    "CompiledPipeline",
    "DeadLetter",
    "DemoResult",
    "DeployResult",
    "PipelineStatus",
    "Metrics",
    "PipelineSteps",
    "PreviewItem",
    "RawEvent",
    "RunResult",
    "compile_pipeline",
    "default_opener",
    "deploy",
    "generate",
    "init_graph_schema",
    "load_spec",
    "log_path",
    "open_tables",
    "pipeline_dir",
    "preview",
    "read_log",
    "read_metrics",
    "run_demo",
    "run_pipeline",
    "status",
    "stop",
    "to_epoch_ms",
    "to_graph_model",
    "write_samples",
    "write_tables",
]
