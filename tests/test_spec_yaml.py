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


BOMB = """a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
"""


def test_an_alias_bomb_is_refused_at_its_first_alias_without_expanding() -> None:
    with pytest.raises(SpecError) as info:  # 9**7 = 4.8 million strings if expanded
        load_yaml_text(BOMB, "bomb.yaml")
    (lint,) = info.value.lints
    assert str(lint).startswith("bomb.yaml:2:8: YAML alias *a is not allowed")


def test_a_self_referencing_anchor_is_refused() -> None:
    with pytest.raises(SpecError) as info:
        load_yaml_text("a: &loop [*loop]\n", "loop.yaml")
    assert "YAML alias *loop is not allowed" in str(info.value)


def test_nesting_too_deep_is_one_clear_lint() -> None:
    with pytest.raises(SpecError) as info:
        load_yaml_text("a: " + "[" * 5000 + "]" * 5000 + "\n", "deep.yaml")
    assert "deep.yaml:1:67: YAML nested more than 64 levels deep" in str(info.value)


def test_a_file_that_is_not_utf8_names_its_line(tmp_path) -> None:
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("pipelines: {}\nname: caf\xe9\n".encode("latin-1"))
    with pytest.raises(SpecError) as info:
        load_yaml(bad)
    assert f"{bad}:2:1: not UTF-8 text" in str(info.value) and "save the file as UTF-8" in str(info.value)
