"""The public surface of rdg.pipeline and the pipeline part of rdg.spec, pinned."""

import rdg.pipeline
import rdg.spec


def test_pipeline_exports() -> None:
    assert set(rdg.pipeline.__all__) == {
        "CompiledPipeline", "DeadLetter", "Metrics", "PipelineSteps", "PreviewItem", "RawEvent", "RunResult",
        "compile_pipeline", "generate", "init_graph_schema", "load_spec", "pipeline_dir", "preview",
        "run_pipeline", "to_epoch_ms", "to_graph_model", "write_samples", "write_tables",
        "WRITER", "DemoResult", "DeployResult", "PipelineStatus", "deploy", "log_path", "read_log", "run_demo",
        "status", "stop", "default_opener", "open_tables", "read_metrics",
    }
    for name in rdg.pipeline.__all__:
        assert getattr(rdg.pipeline, name) is not None


def test_spec_exports_the_pipeline_models() -> None:
    wanted = {"DeadLetterSpec", "DedupSpec", "EdgeTemplate", "EnrichSpec", "FieldSpec", "FilterSpec", "GraphEdgeSpec",
              "GraphSpec", "GraphVertexSpec", "NormalizeSpec", "PipelineSpec", "PipelinesSpec", "SourceSpec", "TableSpec",
              "Template", "TemplateSyntaxError", "VertexTemplate", "lint_pipelines", "lint_pipelines_text",
              "load_pipelines", "load_pipelines_text", "parse_duration_ms"}
    assert wanted <= set(rdg.spec.__all__)
    for name in wanted:
        assert getattr(rdg.spec, name) is not None
