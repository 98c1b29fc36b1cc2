"""Authoring formats: YAML specs -> typed models that remember their file and line.

Shared pieces live here (lints, a line-aware safe YAML loader); the pipeline and workflow
specs build on them. This layer does no I/O beyond reading the spec file.
"""

from rdg.spec._lint import Lint, LintKind, LintLevel, did_you_mean
from rdg.spec._pipeline import (
    DeadLetterSpec, DedupSpec, EdgeTemplate, EnrichSpec, FieldSpec, FilterSpec, GraphEdgeSpec, GraphSpec,
    GraphVertexSpec, NormalizeSpec, PipelineSpec, PipelinesSpec, SourceSpec, TableSpec, VertexTemplate,
    parse_duration_ms,
)
from rdg.spec._pipeline_load import lint_pipelines, lint_pipelines_text, load_pipelines, load_pipelines_text
from rdg.spec._pipeline_template import Template, TemplateSyntaxError
from rdg.spec._workflow import (
    PARAM_PREFIX, FailureMode, ParamSpec, RetrySpec, RunStrategy, StepSpec, StepType, TriggerSpec, WorkflowSpec, load_workflow,
    parse_duration, parse_workflow_data, parse_workflow_text,
)
from rdg.spec._workflow_expr import (
    ExpressionError, ExpressionLimitError, evaluate, evaluate_async, references, render, render_async, templates,
)
from rdg.spec._yaml import YamlDoc, load_yaml, load_yaml_text, plain_yaml

__all__ = ["Lint", "LintKind", "LintLevel", "YamlDoc", "did_you_mean", "load_yaml", "load_yaml_text", "plain_yaml",
           # pipelines.yaml
           "DeadLetterSpec", "DedupSpec", "EdgeTemplate", "EnrichSpec", "FieldSpec", "FilterSpec", "GraphEdgeSpec",
           "GraphSpec", "GraphVertexSpec", "NormalizeSpec", "PipelineSpec", "PipelinesSpec", "SourceSpec",
           "TableSpec", "Template", "TemplateSyntaxError", "VertexTemplate", "lint_pipelines", "lint_pipelines_text",
           "load_pipelines", "load_pipelines_text", "parse_duration_ms",
           # workflows
           "PARAM_PREFIX", "ExpressionError", "FailureMode", "ParamSpec", "RetrySpec", "RunStrategy", "StepSpec", "StepType",
           "TriggerSpec", "WorkflowSpec", "evaluate", "ExpressionLimitError", "evaluate_async", "render_async", "load_workflow", "parse_duration", "parse_workflow_data",
           "parse_workflow_text", "references", "render", "templates"]
