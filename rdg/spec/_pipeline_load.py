"""Read ``pipelines.yaml`` into :class:`PipelinesSpec`, collecting EVERY problem as a lint.

Longer than most modules: one check per section of ``pipelines.yaml``, in one pass over one document.

Checks: unknown keys (with did-you-mean), types, values, references between sections
(sources, tables, graph labels), and templates or filters naming fields that normalize and
enrich do not produce.

>>> text = '''
... graph:
...   vertices:
...     profile: {key: profile_id}
...     device: {key: device_id}
...   edges:
...     used: {from: profile, to: device}
... sources:
...   clicks: {file: clicks.jsonl}
... pipelines:
...   clicks:
...     source: clicks
...     normalize:
...       fields:
...         profile_id: user.id
...         device_id: device
...         ts: {path: at, type: timestamp}
...     edges:
...       - {label: used, from: "{profile_id}", to: "{devise_id}"}
... '''
>>> spec, lints = lint_pipelines_text(text, "p.yaml")
>>> for lint in lints: print(lint)
p.yaml:19:49: template field 'devise_id' is not produced by normalize or enrich (did you mean 'device_id'?)
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path
from typing import Any, Mapping

from rdg.duration import milliseconds
from rdg.errors import SpecError
from rdg.spec._checker import SpecChecker, kind_of
from rdg.spec._lint import Lint, LintKind, LintLevel, did_you_mean
from rdg.spec._pipeline import (
    FIELD_TYPES,
    FILTER_OPS,
    SOURCE_FORMATS,
    DeadLetterSpec,
    DedupSpec,
    EdgeTemplate,
    EnrichSpec,
    FieldSpec,
    FilterSpec,
    GraphEdgeSpec,
    GraphSpec,
    GraphVertexSpec,
    NormalizeSpec,
    PipelineSpec,
    PipelinesSpec,
    SourceSpec,
    TableSpec,
    VertexTemplate,
)
from rdg.spec._pipeline_template import Template, TemplateSyntaxError
from rdg.spec._yaml import YamlDoc, load_yaml, load_yaml_text

__all__ = ["load_pipelines", "load_pipelines_text", "lint_pipelines", "lint_pipelines_text", "META_FIELDS"]

GRAPH_TYPES = ("string", "int", "long", "float", "double", "boolean", "date")
META_FIELDS = ("_source", "_offset", "_event_id", "_pipeline")
"""Fields every canonical event has besides its own: source name, source offset, event id, pipeline."""
RAW_META = ("_source", "_offset", "_topic", "_partition", "_key", "_op", "_ts_ms", "_before")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_FUNC = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$")

Path_ = tuple[Any, ...]


class _Linter(SpecChecker):
    """Walks the YAML data, building models and collecting lints."""

    # -- helpers ---------------------------------------------------------------------------
    def string(self, value: Any, path: Path_, what: str) -> str | None:
        if value is None:
            return None
        if isinstance(value, (dict, list, bool)):
            self.add(path, LintKind.WRONG_TYPE, f"{what} must be a string, not {kind_of(value)}")
            return None
        return str(value)

    def boolean(self, value: Any, path: Path_, what: str, default: bool = False) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.add(path, LintKind.WRONG_TYPE, f"{what} must be true or false, not {value!r}")
            return default
        return value

    def duration_ms(self, value: Any, path: Path_, what: str, default: int) -> int:
        """Milliseconds; a bare number is refused here (see :func:`parse_duration_ms`)."""
        seconds = self.duration(value, path, what, bare_numbers=False)
        return default if seconds is None else milliseconds(seconds)

    def positive_int(self, value: Any, path: Path_, what: str, default: int) -> int:
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.add(path, LintKind.BAD_VALUE, f"{what} must be a whole number >= 1, not {value!r}")
            return default
        return value

    def template(self, value: Any, path: Path_, what: str) -> Template | None:
        if value is None:
            return None
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            self.add(path, LintKind.WRONG_TYPE, f"{what} must be a template string like \"{{profile_id}}\"")
            return None
        try:
            return Template.parse(str(value))
        except TemplateSyntaxError as err:
            self.add(path, LintKind.BAD_VALUE, f"{what}: {err}")
            return None

    def check_fields(self, template: Template | None, path: Path_, available: set[str]) -> None:
        if template is None:
            return
        for name in template.fields:
            if name not in available:
                self.add(path, LintKind.BAD_REFERENCE,
                         f"template field '{name}' is not produced by normalize or enrich",
                         did_you_mean(name, available) or "add it under normalize.fields")

    # -- sections --------------------------------------------------------------------------
    def graph(self, data: Any) -> GraphSpec:
        path: Path_ = ("graph",)
        data = self.mapping(data, path, "graph")
        self.unknown_keys(data, path, ("vertices", "edges"), "graph")
        vertices: dict[str, GraphVertexSpec] = {}
        for label, body in self.mapping(data.get("vertices"), path + ("vertices",), "graph.vertices").items():
            vp = path + ("vertices", label)
            body = self.mapping(body, vp, f"vertex label '{label}'")
            self.unknown_keys(body, vp, ("key", "properties", "ttl", "description"), f"vertex label '{label}'")
            if not self.need(body, "key", vp, f"vertex label '{label}'", "name the property that identifies it, e.g. key: member_id"):
                continue
            props = self.props(body.get("properties"), vp + ("properties",))
            ttl = body.get("ttl")
            vertices[label] = GraphVertexSpec(
                str(label), str(body["key"]), props,
                None if ttl is None else self.duration_ms(ttl, vp + ("ttl",), "ttl", 0) // 1000, self.at(vp))
        edges: dict[str, GraphEdgeSpec] = {}
        for label, body in self.mapping(data.get("edges"), path + ("edges",), "graph.edges").items():
            ep = path + ("edges", label)
            body = self.mapping(body, ep, f"edge label '{label}'")
            self.unknown_keys(body, ep, ("from", "to", "properties", "ttl", "description"), f"edge label '{label}'")
            ok = self.need(body, "from", ep, f"edge label '{label}'", "name the vertex label it starts at")
            ok = self.need(body, "to", ep, f"edge label '{label}'", "name the vertex label it ends at") and ok
            if not ok:
                continue
            for end in ("from", "to"):
                if str(body[end]) not in vertices:
                    self.add(ep + (end,), LintKind.BAD_REFERENCE, f"edge '{label}' {end} unknown vertex label '{body[end]}'",
                             did_you_mean(str(body[end]), vertices) or "declare it under graph.vertices")
            ttl = body.get("ttl")
            edges[label] = GraphEdgeSpec(
                str(label), str(body["from"]), str(body["to"]), self.props(body.get("properties"), ep + ("properties",)),
                None if ttl is None else self.duration_ms(ttl, ep + ("ttl",), "ttl", 0) // 1000, self.at(ep))
        if not vertices:
            self.add(path, LintKind.MISSING, "graph declares no vertex labels", "add graph.vertices with at least one label")
        return GraphSpec(vertices, edges)

    def props(self, value: Any, path: Path_) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, kind in self.mapping(value, path, "properties").items():
            if kind not in GRAPH_TYPES:
                self.add(path + (name,), LintKind.BAD_VALUE, f"property '{name}' has unknown type {kind!r}",
                         did_you_mean(str(kind), GRAPH_TYPES) or f"use one of: {', '.join(GRAPH_TYPES)}")
                continue
            out[str(name)] = kind
        return out

    def sources(self, data: Any) -> dict[str, SourceSpec]:
        out: dict[str, SourceSpec] = {}
        for name, body in self.mapping(data, ("sources",), "sources").items():
            sp: Path_ = ("sources", name)
            body = self.mapping(body, sp, f"source '{name}'")
            self.unknown_keys(body, sp, ("kafka", "file", "format", "options", "description"), f"source '{name}'")
            fmt = str(body.get("format", "json"))
            if fmt not in SOURCE_FORMATS:
                self.add(sp + ("format",), LintKind.BAD_VALUE, f"unknown format '{fmt}'",
                         did_you_mean(fmt, SOURCE_FORMATS) or f"use one of: {', '.join(SOURCE_FORMATS)}")
            options = {str(k): str(v) for k, v in self.mapping(body.get("options"), sp + ("options",), "options").items()}
            if ("kafka" in body) == ("file" in body):
                self.add(sp, LintKind.MISSING, f"source '{name}' needs exactly one of 'kafka' (a topic) or 'file' (a path or glob)",
                         "e.g. kafka: playback.cdc", at_key=True)
                continue
            if "kafka" in body:
                topic = self.string(body["kafka"], sp + ("kafka",), "kafka (the topic name)")
                if topic:
                    out[name] = SourceSpec(str(name), "kafka", fmt, topic=topic, options=options, at=self.at(sp))
            else:
                file = self.string(body["file"], sp + ("file",), "file (a path or glob)")
                if file:
                    out[name] = SourceSpec(str(name), "file", fmt, path=file, options=options, at=self.at(sp))
        return out

    def tables(self, data: Any) -> dict[str, TableSpec]:
        out: dict[str, TableSpec] = {}
        for name, body in self.mapping(data, ("tables",), "tables").items():
            tp: Path_ = ("tables", name)
            body = self.mapping(body, tp, f"table '{name}'")
            self.unknown_keys(body, tp, ("file", "kafka", "key", "columns", "format", "description"), f"table '{name}'")
            if not self.need(body, "key", tp, f"table '{name}'", "name the column to join on, e.g. key: title_id"):
                continue
            columns = body.get("columns") or []
            if not isinstance(columns, list):
                self.add(tp + ("columns",), LintKind.WRONG_TYPE, "columns must be a list of column names")
                columns = []
            if ("kafka" in body) == ("file" in body):
                self.add(tp, LintKind.MISSING, f"table '{name}' needs exactly one of 'file' (CSV or JSONL) or 'kafka' (a compacted topic)",
                         at_key=True)
                continue
            if "file" in body:
                path = str(body["file"])
                fmt = str(body.get("format") or ("csv" if path.endswith(".csv") else "jsonl"))
                if fmt not in ("csv", "jsonl"):
                    self.add(tp + ("format",), LintKind.BAD_VALUE, f"unknown table format '{fmt}'", "use csv or jsonl")
                out[name] = TableSpec(str(name), "file", str(body["key"]), path=path, format=fmt,
                                      columns=tuple(map(str, columns)), at=self.at(tp))
            else:
                out[name] = TableSpec(str(name), "kafka", str(body["key"]), topic=str(body["kafka"]), format="json",
                                      columns=tuple(map(str, columns)), at=self.at(tp))
        return out

    def field_specs(self, data: Any, path: Path_) -> tuple[FieldSpec, ...]:
        out: list[FieldSpec] = []
        for name, body in self.mapping(data, path, "fields").items():
            fp = path + (name,)
            if not _NAME.match(str(name)) or "." in str(name):
                self.add(fp, LintKind.BAD_VALUE, f"field name '{name}' must be letters, digits and _", at_key=True)
                continue
            if isinstance(body, str):
                out.append(FieldSpec(str(name), tuple(body.split(".")), at=self.at(fp)))
                continue
            if body is None:
                out.append(FieldSpec(str(name), (str(name),), at=self.at(fp)))
                continue
            body = self.mapping(body, fp, f"field '{name}'")
            self.unknown_keys(body, fp, ("path", "type", "required", "default", "unit", "lower"), f"field '{name}'")
            kind = str(body.get("type", "string"))
            if kind not in FIELD_TYPES:
                self.add(fp + ("type",), LintKind.BAD_VALUE, f"unknown type '{kind}'",
                         did_you_mean(kind, FIELD_TYPES) or f"use one of: {', '.join(FIELD_TYPES)}")
                kind = "string"
            unit = body.get("unit")
            if unit is not None and unit not in ("ms", "s"):
                self.add(fp + ("unit",), LintKind.BAD_VALUE, f"unit must be 'ms' or 's', not {unit!r}")
                unit = None
            src = self.string(body.get("path"), fp + ("path",), "path") or str(name)
            out.append(FieldSpec(str(name), tuple(src.split(".")), kind,
                                 self.boolean(body.get("required"), fp + ("required",), "required"),
                                 body.get("default"), unit, self.boolean(body.get("lower"), fp + ("lower",), "lower"),
                                 self.at(fp)))
        return tuple(out)

    def filters(self, data: Any, path: Path_) -> tuple[FilterSpec, ...]:
        if data is None:
            return ()
        if not isinstance(data, list):
            self.add(path, LintKind.WRONG_TYPE, "where must be a list of conditions",
                     "e.g. - {field: status, lt: 400}")
            return ()
        out = []
        for i, cond in enumerate(data):
            cp = path + (i,)
            cond = self.mapping(cond, cp, "condition")
            self.unknown_keys(cond, cp, ("field",) + FILTER_OPS, "condition")
            ops = [k for k in cond if k in FILTER_OPS]
            if not self.need(cond, "field", cp, "condition", "name the canonical field to test"):
                continue
            if len(ops) != 1:
                self.add(cp, LintKind.BAD_VALUE, f"a condition needs exactly one test, found {len(ops)}",
                         f"use one of: {', '.join(FILTER_OPS)}")
                continue
            op = ops[0]
            if op in ("in", "not_in") and not isinstance(cond[op], list):
                self.add(cp + (op,), LintKind.WRONG_TYPE, f"'{op}' takes a list of values")
                continue
            out.append(FilterSpec(str(cond["field"]), op, cond[op], self.at(cp)))
        return tuple(out)

    def pipelines(self, data: Any, graph: GraphSpec, sources: dict[str, SourceSpec], tables: dict[str, TableSpec],
                  defaults: dict[str, Any], source_names: set[str]) -> dict[str, PipelineSpec]:
        out: dict[str, PipelineSpec] = {}
        data = self.mapping(data, ("pipelines",), "pipelines")
        if not data:
            self.add(("pipelines",), LintKind.MISSING, "no pipelines declared", "add a 'pipelines:' section")
        for name, body in data.items():
            built = self.pipeline(str(name), body, graph, sources, tables, defaults, source_names)
            if built is not None:
                out[str(name)] = built
        return out

    def pipeline(self, name: str, body: Any, graph: GraphSpec, sources: dict[str, SourceSpec],
                 tables: dict[str, TableSpec], defaults: dict[str, Any], source_names: set[str]) -> PipelineSpec | None:
        pp: Path_ = ("pipelines", name)
        body = self.mapping(body, pp, f"pipeline '{name}'")
        self.unknown_keys(body, pp, ("description", "source", "sources", "event_id", "time", "normalize", "enrich",
                             "vertices", "edges", "dedup", "dead_letter"), f"pipeline '{name}'")
        # sources
        src_key = "sources" if "sources" in body else "source"
        raw_sources = body.get(src_key)
        if raw_sources is None:
            self.add(pp, LintKind.MISSING, f"pipeline '{name}' needs 'source'", "name one of the sections under sources:",
                     at_key=True)
            raw_sources = []
        names = raw_sources if isinstance(raw_sources, list) else [raw_sources]
        src_names: list[str] = []
        for i, s in enumerate(names):
            spath = pp + ((src_key, i) if isinstance(raw_sources, list) else (src_key,))
            if str(s) not in source_names:
                self.add(spath, LintKind.BAD_REFERENCE, f"pipeline '{name}' reads unknown source '{s}'",
                         did_you_mean(str(s), source_names) or "declare it under sources:")
            else:
                src_names.append(str(s))
        # normalize
        np_: Path_ = pp + ("normalize",)
        nbody = self.mapping(body.get("normalize"), np_, "normalize")
        self.unknown_keys(nbody, np_, ("fields", "where", "per_source"), "normalize")
        fields = self.field_specs(nbody.get("fields"), np_ + ("fields",))
        per_source: dict[str, tuple[FieldSpec, ...]] = {}
        for sname, sbody in self.mapping(nbody.get("per_source"), np_ + ("per_source",), "per_source").items():
            sp = np_ + ("per_source", sname)
            if str(sname) not in src_names:
                self.add(sp, LintKind.BAD_REFERENCE, f"per_source names '{sname}', which this pipeline does not read",
                         did_you_mean(str(sname), src_names) or f"this pipeline reads: {', '.join(src_names)}", at_key=True)
            sbody = self.mapping(sbody, sp, f"per_source '{sname}'")
            self.unknown_keys(sbody, sp, ("fields",), f"per_source '{sname}'")
            per_source[str(sname)] = self.field_specs(sbody.get("fields"), sp + ("fields",))
        if not fields and not per_source:
            self.add(np_, LintKind.MISSING, f"pipeline '{name}' normalizes no fields",
                     "list the canonical fields under normalize.fields", at_key=True)
        filters = self.filters(nbody.get("where"), np_ + ("where",))
        normalize = NormalizeSpec(fields, filters, per_source)
        available = normalize.produced() | set(META_FIELDS)
        for i, flt in enumerate(filters):
            if flt.field not in available:
                self.add(np_ + ("where", i, "field"), LintKind.BAD_REFERENCE, f"condition tests '{flt.field}', which normalize does not produce",
                         did_you_mean(flt.field, available))
        # event time and id
        time_field = self.string(body.get("time"), pp + ("time",), "time") or "ts"
        if time_field not in normalize.produced():
            self.add(pp + ("time",) if "time" in body else np_, LintKind.BAD_REFERENCE,
                     f"event time field '{time_field}' is not produced by normalize",
                     f"add '{time_field}: {{path: ..., type: timestamp}}' under normalize.fields or set time: <field>",
                     at_key="time" not in body)
        else:
            kinds = {f.type for f in fields if f.name == time_field}
            kinds |= {f.type for fs in per_source.values() for f in fs if f.name == time_field}
            if kinds - {"timestamp", "long", "int"}:
                self.add(pp + ("time",) if "time" in body else np_, LintKind.BAD_VALUE,
                         f"event time field '{time_field}' must have type timestamp", f"write type: timestamp on '{time_field}'")
        # enrich
        enrich: list[EnrichSpec] = []
        raw_enrich = body.get("enrich") or []
        if not isinstance(raw_enrich, list):
            self.add(pp + ("enrich",), LintKind.WRONG_TYPE, "enrich must be a list of steps", "e.g. - {table: titles, on: title_id}")
            raw_enrich = []
        for i, step in enumerate(raw_enrich):
            built = self.enrich_step(step, pp + ("enrich", i), tables, available)
            if built is not None:
                enrich.append(built)
                available |= set(built.fields) | set(built.adds)
        # graph-map
        vertices = self.vertex_templates(body.get("vertices"), pp + ("vertices",), graph, available)
        edges = self.edge_templates(body.get("edges"), pp + ("edges",), graph, available)
        if not vertices and not edges and "vertices" not in body and "edges" not in body:
            self.add(pp, LintKind.MISSING, f"pipeline '{name}' writes nothing", "add vertices: or edges: templates", at_key=True)
        event_id = self.template(body.get("event_id"), pp + ("event_id",), "event_id")
        self.check_fields(event_id, pp + ("event_id",), available)
        # dedup and dead letter (pipeline value wins over defaults)
        dedup = self.dedup(body.get("dedup", defaults.get("dedup")),
                           pp + ("dedup",) if "dedup" in body else ("defaults", "dedup"))
        dl_raw = body.get("dead_letter", defaults.get("dead_letter"))
        dead_letter = self.dead_letter(dl_raw, pp + ("dead_letter",) if "dead_letter" in body else ("defaults", "dead_letter"))
        return PipelineSpec(name, tuple(src_names), normalize, tuple(enrich), vertices, edges, event_id, time_field,
                            dedup, dead_letter, str(body.get("description") or ""), self.at(pp))

    def enrich_step(self, step: Any, path: Path_, tables: dict[str, TableSpec], available: set[str]) -> EnrichSpec | None:
        step = self.mapping(step, path, "enrich step")
        if True in step and "on" not in step:  # YAML 1.1 reads a bare `on:` key as the boolean true
            step = {("on" if k is True else k): v for k, v in step.items()}
            if (path + (True,)) in self.doc.positions:
                self.doc.positions[path + ("on",)] = self.doc.positions[path + (True,)]
        if "function" in step:
            self.unknown_keys(step, path, ("function", "adds"), "enrich function step")
            func = self.string(step["function"], path + ("function",), "function") or ""
            if not _FUNC.match(func):
                self.add(path + ("function",), LintKind.BAD_VALUE, f"function '{func}' is not a dotted path like flows.games:enrich_session")
                return None
            module = func.split(":")[0]
            rel = Path(self.doc.file).resolve().parent.joinpath(*module.split("."))
            found: Any = rel.with_suffix(".py").exists() or (rel / "__init__.py").exists()
            if not found:
                try:
                    found = importlib.util.find_spec(module)
                except (ImportError, ValueError):
                    found = None
            if not found:
                self.add(path + ("function",), LintKind.BAD_REFERENCE, f"module '{module}' cannot be found",
                         "put it under flows/ and run rdg from the project folder (or set PYTHONPATH)")
            adds = step.get("adds") or []
            if not isinstance(adds, list):
                self.add(path + ("adds",), LintKind.WRONG_TYPE, "adds must be a list of field names")
                adds = []
            return EnrichSpec("function", function=func, adds=tuple(map(str, adds)), at=self.at(path))
        self.unknown_keys(step, path, ("table", "on", "fields", "required"), "enrich table step")
        if not self.need(step, "table", path, "enrich step", "a step is either {table: ..., on: ...} or {function: module:name}"):
            return None
        table = str(step["table"])
        if table not in tables:
            self.add(path + ("table",), LintKind.BAD_REFERENCE, f"unknown table '{table}'",
                     did_you_mean(table, tables) or "declare it under tables:")
        if not self.need(step, "on", path, "enrich table step", "name the canonical field to look up"):
            return None
        on = str(step["on"])
        if on not in available:
            self.add(path + ("on",), LintKind.BAD_REFERENCE, f"enrich joins on '{on}', which normalize does not produce",
                     did_you_mean(on, available))
        fields_raw = step.get("fields")
        if isinstance(fields_raw, list):
            fields = {str(c): str(c) for c in fields_raw}
        else:
            fields = {str(k): str(v) for k, v in self.mapping(fields_raw, path + ("fields",), "fields").items()}
        if not fields:
            self.add(path, LintKind.MISSING, "enrich table step copies no fields",
                     "add fields: {new_field: table_column}", at_key=True)
        spec = tables.get(table)
        if spec is not None and spec.columns:
            for new, col in fields.items():
                if col not in spec.columns:
                    self.add(path + ("fields", new), LintKind.BAD_REFERENCE, f"table '{table}' has no column '{col}'",
                             did_you_mean(col, spec.columns) or f"columns: {', '.join(spec.columns)}")
        return EnrichSpec("table", table=table, on=on, fields=fields,
                          required=self.boolean(step.get("required"), path + ("required",), "required"), at=self.at(path))

    def template_props(self, raw: Any, path: Path_, declared: dict[str, str], label: str,
                       available: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for prop, value in self.mapping(raw, path, "properties").items():
            pp_ = path + (prop,)
            if declared is not None and prop not in declared:
                self.add(pp_, LintKind.BAD_REFERENCE, f"label '{label}' declares no property '{prop}'",
                         did_you_mean(str(prop), declared) or f"add it under graph ... {label}.properties", at_key=True)
            if isinstance(value, str):
                tmpl = self.template(value, pp_, f"property '{prop}'")
                self.check_fields(tmpl, pp_, available)
                if tmpl is not None:
                    out[str(prop)] = tmpl
            elif isinstance(value, (int, float, bool)):
                out[str(prop)] = value
            else:
                self.add(pp_, LintKind.WRONG_TYPE, f"property '{prop}' must be a template or a literal value")
        return out

    def vertex_templates(self, raw: Any, path: Path_, graph: GraphSpec, available: set[str]) -> tuple[VertexTemplate, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.add(path, LintKind.WRONG_TYPE, "vertices must be a list", "e.g. - {label: profile, key: \"{profile_id}\"}")
            return ()
        out = []
        for i, body in enumerate(raw):
            vp = path + (i,)
            body = self.mapping(body, vp, "vertex template")
            self.unknown_keys(body, vp, ("label", "key", "properties"), "vertex template")
            if not (self.need(body, "label", vp, "vertex template") and self.need(body, "key", vp, "vertex template",
                                                                                  "e.g. key: \"{profile_id}\"")):
                continue
            label = str(body["label"])
            vspec = graph.vertices.get(label)
            if vspec is None:
                self.add(vp + ("label",), LintKind.BAD_REFERENCE, f"unknown vertex label '{label}'",
                         did_you_mean(label, graph.vertices) or "declare it under graph.vertices")
            key = self.template(body["key"], vp + ("key",), "key")
            self.check_fields(key, vp + ("key",), available)
            props = self.template_props(body.get("properties"), vp + ("properties",),
                                        vspec.properties if vspec else None, label, available)
            if key is not None:
                out.append(VertexTemplate(label, key, props, self.at(vp)))
        return tuple(out)

    def edge_templates(self, raw: Any, path: Path_, graph: GraphSpec, available: set[str]) -> tuple[EdgeTemplate, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.add(path, LintKind.WRONG_TYPE, "edges must be a list",
                     "e.g. - {label: used, from: \"{profile_id}\", to: \"{device_id}\"}")
            return ()
        out = []
        for i, body in enumerate(raw):
            ep = path + (i,)
            body = self.mapping(body, ep, "edge template")
            self.unknown_keys(body, ep, ("label", "from", "to", "properties"), "edge template")
            ok = self.need(body, "label", ep, "edge template")
            ok = self.need(body, "from", ep, "edge template", "a template of the start vertex's key") and ok
            ok = self.need(body, "to", ep, "edge template", "a template of the end vertex's key") and ok
            if not ok:
                continue
            label = str(body["label"])
            espec = graph.edges.get(label)
            if espec is None:
                self.add(ep + ("label",), LintKind.BAD_REFERENCE, f"unknown edge label '{label}'",
                         did_you_mean(label, graph.edges) or "declare it under graph.edges")
            src = self.template(body["from"], ep + ("from",), "from")
            dst = self.template(body["to"], ep + ("to",), "to")
            self.check_fields(src, ep + ("from",), available)
            self.check_fields(dst, ep + ("to",), available)
            props = self.template_props(body.get("properties"), ep + ("properties",),
                                        espec.properties if espec else None, label, available)
            if src is not None and dst is not None and espec is not None:
                out.append(EdgeTemplate(label, espec.from_label, src, espec.to_label, dst, props, self.at(ep)))
        return tuple(out)

    def dedup(self, raw: Any, path: Path_) -> DedupSpec:
        body = self.mapping(raw, path, "dedup")
        self.unknown_keys(body, path, ("window", "max_batch", "shards"), "dedup")
        return DedupSpec(self.duration_ms(body.get("window"), path + ("window",), "window", 200),
                         self.positive_int(body.get("max_batch"), path + ("max_batch",), "max_batch", 1000),
                         self.positive_int(body.get("shards"), path + ("shards",), "shards", 1))

    def dead_letter(self, raw: Any, path: Path_) -> DeadLetterSpec | None:
        if raw is None:
            return None
        body = self.mapping(raw, path, "dead_letter")
        self.unknown_keys(body, path, ("kafka", "file"), "dead_letter")
        if ("kafka" in body) == ("file" in body):
            self.add(path, LintKind.MISSING, "dead_letter needs exactly one of 'kafka' (a topic) or 'file' (a JSONL path)",
                     at_key=True)
            return None
        kind = "kafka" if "kafka" in body else "file"
        target = self.string(body[kind], path + (kind,), kind)
        return DeadLetterSpec(kind, target, self.at(path)) if target else None  # type: ignore[arg-type]

    def run(self) -> PipelinesSpec:
        data = self.mapping(self.doc.data, (), "the file")
        self.unknown_keys(data, (), ("version", "graph", "sources", "tables", "defaults", "pipelines"), "the top level")
        if "version" in data and data["version"] != 1:
            self.add(("version",), LintKind.BAD_VALUE, f"unsupported version {data['version']!r}", "this rdg reads version: 1")
        graph = self.graph(data.get("graph"))
        raw_sources = self.mapping(data.get("sources"), ("sources",), "sources")
        sources = self.sources(raw_sources)
        tables = self.tables(data.get("tables"))
        defaults = self.mapping(data.get("defaults"), ("defaults",), "defaults")
        self.unknown_keys(defaults, ("defaults",), ("dedup", "dead_letter"), "defaults")
        pipelines = self.pipelines(data.get("pipelines"), graph, sources, tables, defaults, set(map(str, raw_sources)))
        return PipelinesSpec(self.doc.file, graph, sources, tables, pipelines)


def _lint_doc(doc: YamlDoc) -> tuple[PipelinesSpec, list[Lint]]:
    linter = _Linter(doc)
    spec = linter.run()
    lints = sorted(linter.lints, key=lambda l: (l.line, l.column))
    return spec, lints


def lint_pipelines_text(text: str, file: str = "<string>", *,
                        env: Mapping[str, str] | None = None) -> tuple[PipelinesSpec | None, list[Lint]]:
    """Parse and check spec text; returns the (possibly partial) spec and every lint.

    YAML syntax errors and unset ``${VAR}`` come back as lints with a ``None`` spec.
    """
    try:
        doc = load_yaml_text(text, file, env=os.environ if env is None else env)
    except SpecError as err:
        return None, list(err.lints)
    return _lint_doc(doc)


def lint_pipelines(path: str | os.PathLike[str], *,
                   env: Mapping[str, str] | None = None) -> tuple[PipelinesSpec | None, list[Lint]]:
    """Like :func:`lint_pipelines_text`, reading ``path``."""
    try:
        doc = load_yaml(path, env=os.environ if env is None else env)
    except SpecError as err:
        return None, list(err.lints)
    return _lint_doc(doc)


def _checked(result: tuple[PipelinesSpec | None, list[Lint]]) -> PipelinesSpec:
    spec, lints = result
    errors = [lint for lint in lints if lint.level is LintLevel.ERROR]
    if spec is None or errors:
        raise SpecError(errors or lints)
    return spec


def load_pipelines(path: str | os.PathLike[str] = "pipelines.yaml", *,
                   env: Mapping[str, str] | None = None) -> PipelinesSpec:
    """Load and validate a pipelines file.

    Args:
        path: The spec file.
        env: For ``${VAR}`` interpolation (default ``os.environ``).

    Raises:
        SpecError: Any problem; ``err.lints`` lists all of them with file:line:col.
    """
    return _checked(lint_pipelines(path, env=env))


def load_pipelines_text(text: str, file: str = "<string>", *, env: Mapping[str, str] | None = None) -> PipelinesSpec:
    """Like :func:`load_pipelines`, from text (for tests and notebooks)."""
    return _checked(lint_pipelines_text(text, file, env=env))

