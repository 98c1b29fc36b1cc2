"""decode -> normalize -> enrich -> graph-map, one event at a time; bad events become DeadLetters."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest

from rdg.graph import EdgeWrite, VertexWrite, compact
from rdg.pipeline import DeadLetter, PipelineSteps, RawEvent, to_epoch_ms
from rdg.spec import load_pipelines_text

SPEC = textwrap.dedent("""\
    graph:
      vertices:
        profile: {key: profile_id, properties: {name: string}}
        device: {key: device_id, properties: {os: string, score: double, beta: boolean}}
        title: {key: title_id, properties: {name: string, genre: string}}
      edges:
        used: {from: profile, to: device, properties: {n: long}}
        watched: {from: profile, to: title}
    sources:
      cdc: {file: x.jsonl, format: cdc}
      logs: {file: y.jsonl, format: request_log}
      plain: {file: z.jsonl}
    tables:
      titles: {file: t.csv, key: title_id}
    pipelines:
      plays:
        sources: [cdc, plain]
        event_id: "{sid}"
        normalize:
          fields:
            sid: {path: sid, required: true}
            op: _op
            profile_id: {path: profile_id, required: true}
            device_id: {path: device.id, required: true, lower: true}
            os: {path: device.os, default: unknown}
            n: {path: n, type: long}
            score: {path: score, type: double}
            beta: {path: beta, type: boolean}
            title_id: title_id
            ts: {path: at, type: timestamp}
          per_source:
            plain:
              fields:
                ts: {path: epoch_s, type: timestamp, unit: s}
          where:
            - {field: op, not_equals: d}
        enrich:
          - {table: titles, on: title_id, fields: {title_name: name, genre: genre}}
          - {function: "tests.pipeline.test_steps:add_flag", adds: [flag]}
        vertices:
          - {label: device, key: "{device_id}", properties: {os: "{os}", score: "{score}", beta: "{beta}"}}
          - {label: title, key: "{title_id}", properties: {name: "{title_name}", genre: "{genre}"}}
        edges:
          - {label: used, from: "{profile_id}", to: "{device_id}", properties: {n: "{n}"}}
          - {label: watched, from: "{profile_id}", to: "{title_id}"}
      api:
        source: logs
        normalize:
          fields:
            profile_id: {path: request.headers.x-profile-id, required: true}
            device_id: response.body.device
            status: {path: response.status, type: int}
            ts: {path: ts, type: timestamp}
          where:
            - {field: status, lt: 400}
        edges:
          - {label: used, from: "{profile_id}", to: "{device_id}"}
    """)

TABLES = {"titles": {"t1": {"title_id": "t1", "name": "Dark", "genre": "thriller"}}}


def add_flag(event: dict[str, Any]) -> dict[str, Any]:
    """Enrich function used by the spec above; fails on purpose for profile 'boom'."""
    if event["profile_id"] == "boom":
        raise RuntimeError("boom is not allowed")
    event["flag"] = True
    return event


@pytest.fixture(scope="module")
def spec() -> Any:
    return load_pipelines_text(SPEC, "s.yaml", env={})


def _cdc(after: dict[str, Any] | None, op: str = "c", before: dict[str, Any] | None = None) -> bytes:
    return json.dumps({"op": op, "ts_ms": 1, "before": before, "after": after}).encode()


AFTER = {"sid": "s1", "profile_id": "p1", "device": {"id": "TV-1", "os": "tizen"}, "n": "3", "score": "1.5",
         "beta": "yes", "title_id": "t1", "at": "2024-01-01T00:00:00.250Z"}


def _run(spec: Any, pipeline: str, source: str, value: bytes | str) -> Any:
    steps = PipelineSteps(spec, pipeline, TABLES)
    normalized = steps.normalize(steps.decode(RawEvent(source, f"{source}:0:7", value)))
    if normalized is None:
        return None
    enriched = steps.enrich(normalized)
    return enriched if isinstance(enriched, DeadLetter) else (enriched, steps.graph_map(enriched))


def test_cdc_event_is_cast_enriched_and_mapped(spec: Any) -> None:
    event, writes = _run(spec, "plays", "cdc", _cdc(AFTER))
    assert event["device_id"] == "tv-1" and event["n"] == 3 and event["score"] == 1.5 and event["beta"] is True
    assert event["ts"] == 1704067200250 and event["op"] == "c" and event["_event_id"] == "s1"
    assert event["title_name"] == "Dark" and event["flag"] is True
    device, title, used, watched = writes
    assert device == VertexWrite("device", "device_id", "tv-1", {"os": "tizen", "score": 1.5, "beta": True},
                                 1704067200250, "plays@cdc:0:7")
    assert title.properties == {"name": "Dark", "genre": "thriller"}
    assert used == EdgeWrite("used", ("profile", "profile_id", "p1"), ("device", "device_id", "tv-1"), {"n": 3},
                             1704067200250, "s1", "plays@cdc:0:7")
    assert watched.to_vertex == ("title", "title_id", "t1")


def test_cdc_delete_uses_before_and_is_filtered(spec: Any) -> None:
    assert _run(spec, "plays", "cdc", _cdc(None, "d", AFTER)) is None


def test_defaults_and_optional_fields(spec: Any) -> None:
    after = {k: v for k, v in AFTER.items() if k not in ("n", "title_id")}
    after["device"] = {"id": "d2"}
    event, writes = _run(spec, "plays", "cdc", _cdc(after))
    assert event["os"] == "unknown" and "n" not in event
    # the title vertex and the watched edge need title_id: a mapping error, not a crash
    assert isinstance(writes, DeadLetter) and writes.step == "graph_map"
    assert "vertex 'title' key needs field 'title_id'" in writes.reason


def test_per_source_rules(spec: Any) -> None:
    plain = {**AFTER, "epoch_s": 1704067200}
    del plain["at"]
    event, _ = _run(spec, "plays", "plain", json.dumps(plain))
    assert event["ts"] == 1704067200000


@pytest.mark.parametrize("value, step, reason", [
    (b"{oops", "decode", "not valid JSON"),
    (b"[1, 2]", "decode", "expected a JSON object, got list"),
    (b"\xff\xfe", "decode", "not valid JSON"),
    (json.dumps({"op": "c"}).encode(), "decode", "not a CDC envelope"),
    (json.dumps({"op": "x", "after": {}}).encode(), "decode", "not a CDC envelope"),
    (_cdc({**AFTER, "profile_id": None}), "normalize", "missing required field 'profile_id' (path profile_id)"),
    (_cdc({**AFTER, "n": "three"}), "normalize", "field 'n' (path n): 'three' is not a whole number"),
    (_cdc({**AFTER, "n": 1.5}), "normalize", "1.5 is not a whole number"),
    (_cdc({**AFTER, "score": "NaN"}), "normalize", "is not a finite number"),
    (_cdc({**AFTER, "beta": "maybe"}), "normalize", "'maybe' is not true or false"),
    (_cdc({**AFTER, "at": "last tuesday"}), "normalize", "is not an ISO-8601 time"),
    (_cdc({**AFTER, "at": None}), "normalize", "no event time"),
    (_cdc({**AFTER, "device": {"id": {"nested": 1}}}), "normalize", "is dict, expected string"),
    (_cdc({**AFTER, "sid": ""}), "normalize", "missing required field 'sid'"),
    (_cdc({**AFTER, "profile_id": "boom"}), "enrich", "raised RuntimeError: boom is not allowed"),
])
def test_bad_events_become_dead_letters_with_reason(spec: Any, value: bytes, step: str, reason: str) -> None:
    out = _run(spec, "plays", "cdc", value)
    assert isinstance(out, DeadLetter), out
    assert out.step == step and reason in out.reason
    assert out.offset == "cdc:0:7" and out.source == "plays@cdc:0:7" and out.pipeline == "plays"
    assert out.as_dict()["step"] == f"plays.{step}"


def test_request_log_decodes_json_bodies_and_filters_errors(spec: Any) -> None:
    line = {"ts": 1704067200000, "request": {"headers": {"x-profile-id": "p9"}},
            "response": {"status": 200, "body": json.dumps({"device": "d9"})}}
    event, writes = _run(spec, "api", "logs", json.dumps(line))
    assert event["device_id"] == "d9" and writes[0].from_vertex[2] == "p9"
    assert writes[0].event_id == "logs:0:7"  # no event_id template: the source offset
    assert _run(spec, "api", "logs", json.dumps({**line, "response": {"status": 503}})) is None
    out = _run(spec, "api", "logs", json.dumps({"ts": 1}))
    assert isinstance(out, DeadLetter) and "need a 'request' object" in out.reason


def test_missing_required_table_row_is_a_dead_letter() -> None:
    spec = load_pipelines_text(SPEC.replace("{table: titles, on: title_id,", "{table: titles, on: title_id, required: true,"),
                               "s.yaml", env={})
    out = _run(spec, "plays", "cdc", _cdc({**AFTER, "title_id": "t404"}))
    assert isinstance(out, DeadLetter) and out.reason == "no row in table 'titles' for title_id='t404'"


def test_timestamps() -> None:
    assert to_epoch_ms("2024-01-01T00:00:00") == 1704067200000  # naive = UTC
    assert to_epoch_ms(1704067200, "ms") == 1704067200
    assert to_epoch_ms(1704067200.5) == 1704067200500
    for bad in (True, float("inf"), "soon", [1]):
        with pytest.raises(ValueError):
            to_epoch_ms(bad)


def test_compact_drops_repeats_and_keeps_each_events_time() -> None:
    v_new = VertexWrite("device", "device_id", "d1", {"os": "ios"}, ts=20, source="new")
    v_old = VertexWrite("device", "device_id", "d1", {"os": "android", "model": "x"}, ts=10, source="old")
    e1 = EdgeWrite("used", ("profile", "profile_id", "p"), ("device", "device_id", "d1"), ts=5, event_id="a")
    e1_dup = EdgeWrite("used", ("profile", "profile_id", "p"), ("device", "device_id", "d1"), ts=5, event_id="a")
    e2 = EdgeWrite("used", ("profile", "profile_id", "p"), ("device", "device_id", "d1"), ts=6, event_id="b")
    out = compact([e1, v_new, e1_dup, v_old, v_new, e2])
    # two events wrote the vertex: both stay, each with its own time, so a later write of
    # "model" at ts 15 still beats ts 10 (merging them under ts 20 would have lost it)
    assert out[:2] == [v_new, v_old]
    assert out[2:] == [e1, e2]
