"""The line-aware YAML loader: positions, safe loading, env interpolation, syntax errors."""

from __future__ import annotations

import pytest

from rdg.errors import SpecError
from rdg.spec import LintKind, load_yaml, load_yaml_text


def test_positions_point_at_values_and_keys() -> None:
    doc = load_yaml_text("pipelines:\n  - name: games\n    sourc: x\n", "p.yaml")
    assert doc.where("pipelines", 0, "name") == (2, 11)
    assert doc.where_key("pipelines", 0, "sourc") == (3, 5)
    lint = doc.lint(("pipelines", 0, "sourc"), LintKind.UNKNOWN, "unknown field 'sourc'", at_key=True)
    assert str(lint) == "p.yaml:3:5: unknown field 'sourc'"


def test_syntax_error_names_file_line_and_fix() -> None:
    with pytest.raises(SpecError) as info:
        load_yaml_text("a: [1, 2\nb: 3\n", "bad.yaml")
    (lint,) = info.value.lints
    assert lint.file == "bad.yaml" and lint.kind is LintKind.SYNTAX and lint.line >= 1
    assert "indentation" in (lint.hint or "")


def test_python_tags_are_refused() -> None:
    with pytest.raises(SpecError):
        load_yaml_text("x: !!python/object/apply:os.system ['echo hacked']\n", "evil.yaml")


def test_env_interpolation_with_defaults_and_missing() -> None:
    doc = load_yaml_text("a: ${HOST}:${PORT:-9092}\n", env={"HOST": "kafka"})
    assert doc.data == {"a": "kafka:9092"}
    with pytest.raises(SpecError) as info:
        load_yaml_text("a: 1\nb: ${NOPE}\n", "e.yaml", env={})
    assert str(info.value.lints[0]).startswith("e.yaml:2:4: environment variable ${NOPE} is not set")


def test_missing_file(tmp_path) -> None:
    with pytest.raises(SpecError) as info:
        load_yaml(tmp_path / "nope.yaml")
    assert "cannot read" in str(info.value)
