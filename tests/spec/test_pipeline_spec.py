"""pipelines.yaml -> models, and every kind of bad input -> a lint at the right line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from rdg.errors import DurationError, SpecError
from rdg.spec import (
    LintKind,
    Template,
    TemplateSyntaxError,
    lint_pipelines,
    lint_pipelines_text,
    load_pipelines,
    load_pipelines_text,
    parse_duration_ms,
)

ROOT = Path(__file__).resolve().parents[2]

GOOD = textwrap.dedent("""\
    version: 1
    graph:
      vertices:
        profile: {key: profile_id, properties: {name: string}}
        device: {key: device_id, properties: {os: string}}
        title: {key: title_id, properties: {name: string}}
      edges:
        used: {from: profile, to: device, ttl: 30d}
        watched: {from: profile, to: title, properties: {position_s: long}}
    sources:
      plays: {kafka: "${TOPIC:-plays}", format: cdc}
      backfill: {file: plays/*.jsonl, format: cdc}
    tables:
      titles: {file: titles.csv, key: title_id, columns: [title_id, name]}
    defaults:
      dedup: {window: 50ms, max_batch: 10}
      dead_letter: {file: dead.jsonl}
    pipelines:
      plays:
        sources: [plays, backfill]
        event_id: "{session_id}"
        normalize:
          fields:
            session_id: {path: session_id, required: true}
            profile_id: profile_id
            device_id: {path: device.id, lower: true}
            title_id: title_id
            position_s: {path: pos, type: long, default: 0}
            ts: {path: updated_at, type: timestamp}
          per_source:
            backfill:
              fields:
                ts: {path: ts_ms, type: timestamp, unit: ms}
          where:
            - {field: position_s, gte: 0}
        enrich:
          - {table: titles, on: title_id, fields: {title_name: name}}
        vertices:
          - {label: title, key: "{title_id}", properties: {name: "{title_name}"}}
        edges:
          - {label: used, from: "{profile_id}", to: "{device_id}"}
          - {label: watched, from: "{profile_id}", to: "{title_id}", properties: {position_s: "{position_s}"}}
    """)


def test_a_good_spec_becomes_frozen_models() -> None:
    spec = load_pipelines_text(GOOD, "p.yaml", env={"TOPIC": "prod.plays"})
    p = spec.pipeline("plays")
    assert spec.sources["plays"].topic == "prod.plays"
    assert spec.sources["backfill"].kind == "file"
    assert p.sources == ("plays", "backfill")
    assert p.dedup.window_ms == 50 and p.dedup.max_batch == 10
    assert p.dead_letter is not None and p.dead_letter.target == "dead.jsonl"
    assert spec.graph.edges["used"].ttl_seconds == 30 * 86400
    assert [f.name for f in p.normalize.fields_for("backfill")][-1] == "ts"
    assert p.normalize.fields_for("backfill")[-1].path == ("ts_ms",)
    assert p.edges[1].from_label == "profile" and p.edges[1].to_label == "title"
    assert p.at[1] == 20  # the model remembers its line
    with pytest.raises(AttributeError):
        p.name = "x"  # type: ignore[misc]


def test_the_example_pipelines_yaml_is_clean() -> None:
    spec, lints = lint_pipelines(ROOT / "pipelines.yaml", env={})
    assert lints == []
    assert spec is not None and set(spec.pipelines) == {"playback", "live_viewing", "games"}
    shared = {"account", "profile", "device"}
    for p in spec.pipelines.values():
        touched = {e.from_label for e in p.edges} | {e.to_label for e in p.edges}
        assert shared <= touched, p.name


def _lints(text: str) -> list[str]:
    _, lints = lint_pipelines_text(textwrap.dedent(text), "p.yaml", env={})
    return [str(lint) for lint in lints]


def _with(old: str, new: str) -> list[str]:
    assert old in GOOD
    return _lints(GOOD.replace(old, new, 1))


@pytest.mark.parametrize("old, new, expected", [
    ("sources:\n  plays", "sourcs:\n  plays", "p.yaml:10:1: unknown key 'sourcs' in the top level (did you mean 'sources'?)"),
    ("event_id:", "evnt_id:", "p.yaml:21:5: unknown key 'evnt_id' in pipeline 'plays' (did you mean 'event_id'?)"),
    ("type: long, default: 0", "type: lng, default: 0", "p.yaml:28:39: unknown type 'lng' (did you mean 'long'?)"),
    ("sources: [plays, backfill]", "sources: [plays, backfil]",
     "p.yaml:20:22: pipeline 'plays' reads unknown source 'backfil' (did you mean 'backfill'?)"),
    ("{table: titles, on:", "{table: tittles, on:", "p.yaml:37:17: unknown table 'tittles' (did you mean 'titles'?)"),
    ("fields: {title_name: name}", "fields: {title_name: nam}",
     "p.yaml:37:60: table 'titles' has no column 'nam' (did you mean 'name'?)"),
    ('properties: {name: "{title_name}"}', 'properties: {name: "{title_nme}"}',
     "p.yaml:39:62: template field 'title_nme' is not produced by normalize or enrich (did you mean 'title_name'?)"),
    ('properties: {name: "{title_name}"}', 'properties: {nam: "{title_name}"}',
     "p.yaml:39:56: label 'title' declares no property 'nam' (did you mean 'name'?)"),
    ("{label: used, from:", "{label: usd, from:", "p.yaml:41:17: unknown edge label 'usd' (did you mean 'used'?)"),
    ('to: "{device_id}"', 'to: "{device_id"', "p.yaml:41:49: to: unclosed '{'"),
    ("format: cdc}\n  backfill", "format: cdcc}\n  backfill", "p.yaml:11:45: unknown format 'cdcc' (did you mean 'cdc'?)"),
    ("window: 50ms", "window: soon", "p.yaml:16:19: window: 'soon' is not a duration (write e.g. 250ms, 30s"),
    ("window: 50ms", "window: 50", "p.yaml:16:19: window: 50 has no unit (write e.g. 250ms or 2s)"),
    ("max_batch: 10", "max_batch: 0", "p.yaml:16:36: max_batch must be a whole number >= 1, not 0"),
    ("dead_letter: {file: dead.jsonl}", "dead_letter: {}", "p.yaml:17:3: dead_letter needs exactly one of"),
    ("{field: position_s, gte: 0}", "{field: positon_s, gte: 0}",
     "p.yaml:35:19: condition tests 'positon_s', which normalize does not produce (did you mean 'position_s'?)"),
    ("{field: position_s, gte: 0}", "{field: position_s, gte: 0, lt: 9}", "p.yaml:35:11: a condition needs exactly one test, found 2"),
    ("      backfill:\n", "      backfll:\n",
     "p.yaml:31:9: per_source names 'backfll', which this pipeline does not read (did you mean 'backfill'?)"),
    ("used: {from: profile, to: device", "used: {from: profile, to: devices",
     "p.yaml:8:31: edge 'used' to unknown vertex label 'devices' (did you mean 'device'?)"),
    ("ts: {path: updated_at, type: timestamp}", "ts: {path: updated_at, type: string}",
     "event time field 'ts' must have type timestamp"),
    ("version: 1", "version: 2", "p.yaml:1:10: unsupported version 2"),
    ("profile: {key: profile_id, properties: {name: string}}", "profile: {properties: {name: string}}",
     "p.yaml:4:5: vertex label 'profile' needs 'key'"),
    ("device: {key: device_id, properties: {os: string}}", "device: {key: device_id, properties: {os: str}}",
     "p.yaml:5:47: property 'os' has unknown type 'str'"),
])
def test_each_bad_input_is_a_lint_at_its_line(old: str, new: str, expected: str) -> None:
    found = _with(old, new)
    assert any(line.startswith(expected) or expected in line for line in found), found


def test_all_problems_are_reported_at_once() -> None:
    text = GOOD.replace("evnt", "x").replace("event_id:", "evnt_id:").replace("format: cdc}\n", "format: xml}\n")
    text = text.replace("{label: used, from:", "{label: usd, from:")
    found = _lints(text)
    assert len(found) >= 3, found
    assert found == sorted(found, key=lambda s: int(s.split(":")[1]))


def test_yaml_syntax_error_has_a_line() -> None:
    found = _lints("graph:\n  vertices: [a\n")
    assert len(found) == 1 and found[0].startswith("p.yaml:3:1: YAML syntax error")


def test_unset_environment_variable_is_a_lint() -> None:
    found = _lints(GOOD.replace("${TOPIC:-plays}", "${NO_SUCH_TOPIC_VAR}"))
    assert found == ["p.yaml:11:18: environment variable ${NO_SUCH_TOPIC_VAR} is not set "
                     "(export NO_SUCH_TOPIC_VAR=... or write ${NO_SUCH_TOPIC_VAR:-default})"]


def test_wrong_types_and_missing_sections() -> None:
    found = _lints("graph: []\npipelines: {}\n")
    kinds = " | ".join(found)
    assert "graph must be a mapping, not a list" in kinds
    assert "no pipelines declared" in kinds


def test_a_pipeline_must_write_something_and_have_sources() -> None:
    found = _lints("""\
        graph: {vertices: {a: {key: a_id}}}
        sources: {s: {file: x.jsonl}}
        pipelines:
          p:
            normalize: {fields: {a_id: a, ts: {path: t, type: timestamp}}}
        """)
    assert any("pipeline 'p' needs 'source'" in f for f in found)
    assert any("pipeline 'p' writes nothing" in f for f in found)


def test_enrich_function_must_be_a_dotted_path_that_exists(tmp_path: Path) -> None:
    bad = GOOD.replace("- {table: titles, on: title_id, fields: {title_name: name}}",
                       "- {function: 'flows.nope:f'}\n      - {function: 'import os'}")
    found = _lints(bad)
    assert any("module 'flows.nope' cannot be found" in f for f in found)
    assert any("'import os' is not a dotted path" in f for f in found)


def test_bare_on_key_is_read_as_on_not_true() -> None:
    text = GOOD.replace("{table: titles, on: title_id, fields: {title_name: name}}",
                        "table: titles\n        on: title_id\n        fields: {title_name: name}")
    spec = load_pipelines_text(text, "p.yaml", env={})
    assert spec.pipeline("plays").enrich[0].on == "title_id"


def test_load_raises_spec_error_with_every_lint(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(GOOD.replace("event_id:", "evnt_id:").replace("format: cdc}", "format: xml}", 1))
    with pytest.raises(SpecError) as err:
        load_pipelines(path, env={})
    assert len(err.value.lints) == 2
    assert str(path) in str(err.value)


def test_missing_file_is_a_lint(tmp_path: Path) -> None:
    spec, lints = lint_pipelines(tmp_path / "nope.yaml")
    assert spec is None and "cannot read" in lints[0].message and lints[0].kind is LintKind.MISSING


def test_unknown_pipeline_names_the_ones_there_are() -> None:
    spec = load_pipelines_text(GOOD, "p.yaml", env={})
    with pytest.raises(Exception, match="did you mean 'plays'"):
        spec.pipeline("play")


def test_templates_are_field_references_only() -> None:
    assert Template.parse("a-{x}-{{lit}}").render({"x": 1}) == "a-1-{lit}"
    assert Template.parse("{n}").render({"n": 5}) == 5
    for bad in ("{__import__('os')}", "{a.b}", "{x", "x}"):
        with pytest.raises(TemplateSyntaxError):
            Template.parse(bad)


def test_durations_follow_the_one_grammar_and_refuse_a_bare_number() -> None:
    assert [parse_duration_ms(v) for v in ("1.5s", "2m", "1h", "1d", "1m30s", "250ms")] == [
        1500, 120000, 3600000, 86400000, 90000, 250]
    for bad in ("fast", True, "-1s", "1h-5m", None):
        with pytest.raises(DurationError):
            parse_duration_ms(bad)
    with pytest.raises(DurationError) as err:  # it meant milliseconds here once: refused, not reread
        parse_duration_ms(200)
    assert err.value.message == "200 has no unit" and err.value.hint == "write e.g. 250ms or 2s"
