"""Authoring formats: YAML specs -> typed models that remember their file and line.

Shared pieces live here (lints, a line-aware safe YAML loader); the pipeline and workflow
specs build on them. This layer does no I/O beyond reading the spec file.
"""

from rdg.spec._lint import Lint, LintKind, LintLevel, did_you_mean
from rdg.spec._yaml import YamlDoc, load_yaml, load_yaml_text

__all__ = ["Lint", "LintKind", "LintLevel", "YamlDoc", "did_you_mean", "load_yaml", "load_yaml_text"]
