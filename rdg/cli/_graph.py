"""``rdg graph init|schema|expire|dump|check|repair``, ``rdg query``, ``rdg journey``, ``rdg neighbors``, ``rdg path``.

Longer than most modules: one click command per graph question, each with its text and ``--json`` output.

Thin commands: parse, import ``rdg.graph`` lazily, call one function, print a table (or JSON).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import click

from rdg.cli import settings_from
from rdg.cli._output import table

_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
_SPEC = click.option("--spec", "spec_path", default="pipelines.yaml", show_default=True, envvar="RDG_SPEC",
                     type=click.Path(dir_okay=False), help="The pipelines spec whose `graph` section is the model.")


def _connect(ctx: click.Context) -> Any:
    from rdg.graph import connect

    return connect(settings=settings_from(ctx))


def _model(spec_path: str) -> Any:
    from rdg.pipeline import to_graph_model
    from rdg.spec import load_pipelines

    return to_graph_model(load_pipelines(spec_path).graph)


def _plain(value: Any) -> Any:
    """A JSON-ready form of a query result (vertices, edges, paths, enums, maps with enum keys)."""
    from gremlin_python.structure.graph import Edge, Path, Vertex, VertexProperty

    if isinstance(value, Vertex):
        return {"id": _plain(value.id), "label": value.label}
    if isinstance(value, Edge):
        return {"id": _plain(value.id), "label": value.label, "out": _plain(value.outV.id), "in": _plain(value.inV.id)}
    if isinstance(value, VertexProperty):
        return {"key": value.label, "value": _plain(value.value)}
    if isinstance(value, Path):
        return [_plain(o) for o in value.objects]
    if isinstance(value, dict):
        return {(k if isinstance(k, str) else getattr(k, "name", str(k))): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _table(rows: list[list[Any]], header: list[str]) -> str:
    def cell(c: Any) -> Any:  # values that are not text (maps, lists) print as JSON
        return c if c is None or isinstance(c, str) else json.dumps(c, ensure_ascii=False, default=str)

    return table([[cell(c) for c in row] for row in rows], header)


def _echo_results(results: list[Any], as_json: bool) -> None:
    plain = [_plain(r) for r in results]
    if as_json:
        click.echo(json.dumps(plain, indent=2, ensure_ascii=False, default=str))
        return
    if not plain:
        click.echo("(no results)")
        return
    if all(isinstance(r, dict) for r in plain):
        header: list[str] = []
        for r in plain:
            header.extend(k for k in r if k not in header)
        click.echo(_table([[r.get(h) for h in header] for r in plain], header))
    else:
        click.echo(_table([[r] for r in plain], ["value"]))
    click.echo(f"({len(plain)} result{'s' if len(plain) != 1 else ''})")


_DURATION = re.compile(r"^(\d+)\s*(ms|s|m|h|d|w)$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def _duration_s(text: str) -> int | None:
    """``90d`` -> seconds; ``all`` -> ``None``."""
    if text.strip().lower() in ("all", "none", "0"):
        return None
    m = _DURATION.match(text.strip())
    if not m:
        raise click.BadParameter(f"{text!r} is not a duration like 30m, 12h, 90d or 'all'")
    return int(m.group(1)) * _UNIT_MS[m.group(2)] // 1000


def _time_ms(text: str | None) -> int | None:
    """``--since``: epoch ms, an ISO date/time (UTC if no zone), or a duration ago (``7d``)."""
    if text is None:
        return None
    text = text.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    m = _DURATION.match(text)
    if m:
        return int(dt.datetime.now(dt.timezone.utc).timestamp() * 1000) - int(m.group(1)) * _UNIT_MS[m.group(2)]
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as err:
        raise click.BadParameter(f"{text!r}: use epoch ms, an ISO time (2024-05-01T12:00Z) or a duration (7d)") from err
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return int(when.timestamp() * 1000)


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


@click.group("graph")
def graph() -> None:
    """Create and inspect the graph schema (JanusGraph or the embedded graph).

    \b
    Examples:
      rdg graph init                       create labels, keys and indexes from pipelines.yaml
      rdg graph schema                     show what exists
      rdg graph check                      find duplicate vertices and edges
      rdg --set gremlin_url=ws://127.0.0.1:8182/gremlin graph schema
    """


@graph.command("init")
@_SPEC
@_JSON
@click.pass_context
def init(ctx: click.Context, spec_path: str, as_json: bool) -> None:
    """Create property keys, labels and a composite index per vertex key; safe to run twice.

    \b
    Example:
      rdg graph init --spec pipelines.yaml
    """
    model = _model(spec_path)
    with _connect(ctx) as g:
        changed = g.init_schema(model)
        backend = g.backend
    if as_json:
        click.echo(json.dumps({"backend": backend, "changed": changed}, indent=2))
        return
    if not changed:
        click.echo(f"schema up to date ({backend}): nothing to change")
        return
    for line in changed:
        click.echo(line)
    click.echo(f"{len(changed)} change{'s' if len(changed) != 1 else ''} ({backend})")


@graph.command("schema")
@_JSON
@click.pass_context
def schema(ctx: click.Context, as_json: bool) -> None:
    """Print vertex labels, edge labels, property keys with types, and indexes.

    \b
    Example:
      rdg graph schema --json
    """
    with _connect(ctx) as g:
        info = g.schema()
    if as_json:
        click.echo(json.dumps(_plain(info), indent=2, sort_keys=True))
        return
    click.echo(f"backend: {info.get('backend')}")
    rows: list[list[Any]] = []
    for label in sorted(info.get("vertex_labels") or []):
        rows.append(["vertex", label, ""])
    for label, conns in sorted((info.get("edge_labels") or {}).items()):
        rows.append(["edge", label, ", ".join(f"{a}->{b}" for a, b in conns)])
    for name, kind in sorted((info.get("properties") or {}).items()):
        rows.append(["property", name, kind])
    for name, spec in sorted((info.get("indexes") or {}).items()):
        rows.append(["index", name, json.dumps(_plain(spec))])
    click.echo(_table(rows, ["kind", "name", "detail"]) if rows else "(no schema yet: run `rdg graph init`)")


@graph.command("expire")
@_SPEC
@_JSON
@click.pass_context
def expire(ctx: click.Context, spec_path: str, as_json: bool) -> None:
    """Drop vertices and edges of labels with a TTL whose last write is older than it.

    \b
    Example:
      rdg graph expire --spec pipelines.yaml
    """
    model = _model(spec_path)
    with _connect(ctx) as g:
        dropped = g.expire(model)
    if as_json:
        click.echo(json.dumps(dropped, indent=2, sort_keys=True))
        return
    if not dropped:
        click.echo("no label has a ttl: nothing to expire")
        return
    click.echo(_table([[k, v] for k, v in sorted(dropped.items())], ["label", "dropped"]))


@graph.command("dump")
@click.pass_context
def dump(ctx: click.Context) -> None:
    """Print every vertex and edge with all properties as JSON (deterministic order).

    \b
    Example:
      rdg graph dump > graph.json
    """
    with _connect(ctx) as g:
        data = g.dump()
    click.echo(json.dumps(_plain(data), indent=1, sort_keys=True, ensure_ascii=False))


_LABELS = click.option("--label", "labels", multiple=True, metavar="LABEL",
                       help="Only vertices of this label and the edges touching them (repeatable; default: all).")


def _identity(label: str, value: Any) -> str:
    return f"{label}:{json.dumps(value, ensure_ascii=False, default=str)}"


@graph.command("check")
@_LABELS
@click.option("--examples", default=5, show_default=True, type=click.IntRange(min=0),
              help="Cases shown per kind of problem.")
@click.option("--deep", is_flag=True,
              help="Also check the storage itself (embedded graph: SQLite's full integrity_check).")
@_JSON
@click.pass_context
def check(ctx: click.Context, labels: tuple[str, ...], examples: int, deep: bool, as_json: bool) -> None:
    """Report duplicate vertices and edges and unkeyed vertices; exit 1 if any.

    Looks for vertices sharing a (label, key value), edges sharing a (from, label, to),
    vertices without a key and edges touching them; prints counts and examples. Reads every
    vertex of the labels (or of the graph) and every edge touching them. Exit 0 when clean.

    \b
    Examples:
      rdg graph check
      rdg graph check --label account --label profile --examples 20
      rdg graph check --json | jq .duplicate_vertices
      rdg graph check --deep
    """
    from rdg.graph import check as run_check

    with _connect(ctx) as g:
        storage = g.storage_problems() if deep else None
        report = run_check(g, labels=list(labels) or None, examples=examples)
    if as_json:
        found = _plain(report.as_dict())
        if deep:
            found["storage"] = {"checked": storage is not None, "problems": storage or []}
        click.echo(json.dumps(found, indent=2, ensure_ascii=False))
    else:
        if deep:
            click.echo("storage: not checked here (JanusGraph's backend keeps its own)" if storage is None else
                       "storage: ok (SQLite integrity_check)" if not storage else
                       "storage: DAMAGED (SQLite integrity_check): " + "; ".join(storage))
        scope = ", ".join(report.labels) if report.labels else "all labels"
        click.echo(f"checked {report.vertices} vertices and {report.edges} edges ({report.backend}; {scope})")
        rows = [["duplicate vertices", report.duplicate_vertices, report.extra_vertices],
                ["duplicate edges", report.duplicate_edges, report.extra_edges],
                ["unkeyed vertices", report.unkeyed_vertices, ""],
                ["edges to unkeyed", report.dangling_edges, ""]]
        click.echo(_table(rows, ["problem", "found", "extra copies"]))
        lines = []
        for ex in report.examples.get("duplicate_vertices", []):
            lines.append(f"duplicate vertex {_identity(ex['label'], ex['value'])}: {ex['copies']} copies "
                         f"(ids {', '.join(map(str, ex['ids']))})")
        for ex in report.examples.get("duplicate_edges", []):
            lines.append(f"duplicate edge {_identity(*ex['from'])} -{ex['label']}-> {_identity(*ex['to'])}: "
                         f"{ex['copies']} copies (counts {', '.join(map(str, ex['counts']))})")
        for ex in report.examples.get("unkeyed_vertices", []):
            lines.append(f"unkeyed vertex {ex['label']} id {ex['id']}: {ex['reason']}")
        for ex in report.examples.get("dangling_edges", []):
            lines.append(f"edge {ex['label']} id {ex['id']}: {ex['reason']}")
        if lines:
            click.echo("examples:")
            for line in lines:
                click.echo(f"  {line}")
        if report.clean:
            click.echo("clean: no duplicates, every vertex keyed")
        elif report.duplicate_vertices or report.duplicate_edges:
            click.echo("run `rdg graph repair` to merge the duplicates (`--dry-run` first to see what it would do)")
    if not report.clean or storage:
        ctx.exit(1)


@graph.command("repair")
@_LABELS
@click.option("--dry-run", is_flag=True, help="Only say what would be merged; change nothing.")
@_JSON
@click.pass_context
def repair(ctx: click.Context, labels: tuple[str, ...], dry_run: bool, as_json: bool) -> None:
    """Merge duplicate vertices and edges left by earlier versions; safe to run twice.

    Per property the newest event wins (ties by value); an edge's count comes from the event
    ids its copies kept, first/last seen from the earliest/newest copy. Each merge is one
    transaction. Stop the writers of these labels first. Unkeyed vertices are left as found.

    \b
    Examples:
      rdg graph repair --dry-run
      rdg graph repair --label account
      rdg graph repair --json
    """
    from rdg.graph import repair as run_repair

    with _connect(ctx) as g:
        report = run_repair(g, labels=list(labels) or None, dry_run=dry_run)
    if as_json:
        click.echo(json.dumps(_plain(report.as_dict()), indent=2, ensure_ascii=False))
        return
    shown = 50
    for m in report.merges[:shown]:
        dropped = ", ".join(map(str, m["dropped"]))
        changed = ", ".join(sorted(m["changed"])) or "nothing"
        if m["kind"] == "vertex":
            click.echo(f"vertex {_identity(m['label'], m['value'])}: kept {m['kept']}, dropped {dropped}, "
                       f"moved {m['edges_moved']} edges, set {changed}")
        else:
            click.echo(f"edge {_identity(*m['from'])} -{m['label']}-> {_identity(*m['to'])}: kept {m['kept']}, "
                       f"dropped {dropped}, set {changed}")
    if len(report.merges) > shown:
        click.echo(f"... and {len(report.merges) - shown} more (--json lists all)")
    verb = "would merge" if dry_run else "merged"
    if report.changed:
        click.echo(f"{verb} {report.vertices_merged} vertices ({report.vertices_dropped} copies dropped, "
                   f"{report.edges_moved} edges moved) and {report.edges_merged} edges "
                   f"({report.edges_dropped} copies dropped)")
    else:
        click.echo("nothing to merge: no duplicate vertices or edges")
    if report.unkeyed_vertices or report.dangling_edges:
        click.echo(f"left as found: {report.unkeyed_vertices} unkeyed vertices, {report.dangling_edges} edges "
                   "to unkeyed vertices (`rdg graph check` lists them)")


def _binding(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise click.BadParameter(f"{text!r}: expected NAME=VALUE")
    name, raw = text.split("=", 1)
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
        raise click.BadParameter(f"binding name {name!r} must be an identifier")
    try:
        value = json.loads(raw)
    except RecursionError:
        raise click.BadParameter(f"binding {name!r} is nested too deeply to read") from None
    except ValueError:
        value = raw
    return name, value


@click.command("query")
@click.argument("gremlin")
@click.option("--bind", "-b", "binds", multiple=True, metavar="NAME=VALUE",
              help="A binding used by name in the query (JSON value, else a string).")
@click.option("--write", is_flag=True, help="Allow the query to change the graph (addV, property, drop...).")
@click.option("--timeout", type=click.FloatRange(0.1, 3600), default=None,
              help="Seconds before the query is stopped (default: the setting query_timeout, 5).")
@click.option("--max-results", type=click.IntRange(min=1), default=None,
              help="Most results a read-only query may return (default: the setting query_max_results, 10000).")
@_JSON
@click.pass_context
def query(ctx: click.Context, gremlin: str, binds: tuple[str, ...], write: bool, timeout: float | None,
          max_results: int | None, as_json: bool) -> None:
    """Run a Gremlin query against the configured graph; values go in as bindings.

    Read-only unless --write: a query with addV, addE, property, drop, mergeV or mergeE is
    refused. It is stopped after --timeout seconds (setting query_timeout, default 5), and
    fails if it would return more than --max-results (setting query_max_results, 10000). On
    the embedded graph, a step it cannot answer as TinkerPop does is refused by name.

    \b
    Examples:
      rdg query "g.V().hasLabel('account').limit(5).valueMap()"
      rdg query "g.V().has('profile','profile_id',p).out('used').values('device_id')" -b p=p1
      rdg query "g.V().has('device','device_id',d).drop()" -b d=tv-9 --write
    """
    bindings = dict(_binding(b) for b in binds)
    settings = settings_from(ctx)
    limit = timeout if timeout is not None else settings.query_timeout
    most = max_results if max_results is not None else settings.query_max_results
    with _connect(ctx) as g:
        results = g.query(gremlin, bindings, write=write, timeout_s=limit, max_results=most)
    _echo_results(results, as_json)


@click.command("journey")
@click.argument("member_id")
@click.option("--label", default="account", show_default=True, help="The member's vertex label.")
@click.option("--since", default=None, help="Only steps seen since: epoch ms, ISO time or a duration ago (7d).")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(min=1), help="Most recent steps to show.")
@_JSON
@click.pass_context
def journey(ctx: click.Context, member_id: str, label: str, since: str | None, limit: int, as_json: bool) -> None:
    """A member's path across profiles, devices and verticals, in time order.

    \b
    Example:
      rdg journey a1 --since 7d
    """
    from rdg.graph import queries

    with _connect(ctx) as g:
        steps = queries.journey(g, member_id, label=label, since=_time_ms(since), limit=limit)
    if as_json:
        click.echo(json.dumps([s.as_dict() for s in steps], indent=2, default=str))
        return
    if not steps:
        click.echo(f"no activity for {label}:{member_id}")
        return
    rows = [[_iso(s.at), s.actor, s.action, s.target, s.count,
             ", ".join(f"{k}={v}" for k, v in sorted(s.properties.items()))] for s in steps]
    click.echo(_table(rows, ["last seen (UTC)", "who", "did", "what", "times", "details"]))


@click.command("neighbors")
@click.argument("label")
@click.argument("key")
@click.option("--hops", default=1, show_default=True, type=click.IntRange(1, 6), help="How far to walk.")
@click.option("--edge-limit", default=50, show_default=True, type=click.IntRange(min=1),
              help="Most recent edges followed per vertex per hop.")
@click.option("--lookback", default="90d", show_default=True, help="Ignore edges older than this (or 'all').")
@_JSON
@click.pass_context
def neighbors(ctx: click.Context, label: str, key: str, hops: int, edge_limit: int, lookback: str,
              as_json: bool) -> None:
    """Vertices within N hops of one vertex, most recent edges first.

    \b
    Example:
      rdg neighbors device d1 --hops 2 --lookback all
    """
    from rdg.graph import queries

    window = _duration_s(lookback)
    with _connect(ctx) as g:
        found = queries.neighbors(g, label, key, hops=hops, edge_limit=edge_limit, lookback_s=window)
    if as_json:
        click.echo(json.dumps([n.as_dict() for n in found], indent=2, default=str))
        return
    if not found:
        click.echo(f"no neighbors of {label}:{key} (lookback {lookback})")
        return
    click.echo(_table([[n.hop, n.vertex, n.via, _iso(n.last_seen), n.count] for n in found],
                      ["hop", "vertex", "via", "last seen (UTC)", "times"]))


def _ref(text: str) -> tuple[str, str]:
    if ":" not in text:
        raise click.BadParameter(f"{text!r}: expected LABEL:KEY, e.g. device:d1")
    label, key = text.split(":", 1)
    return label, key


@click.command("path")
@click.argument("start")
@click.argument("end")
@click.option("--max-hops", default=4, show_default=True, type=click.IntRange(1, 8), help="Longest path searched.")
@_JSON
@click.pass_context
def path(ctx: click.Context, start: str, end: str, max_hops: int, as_json: bool) -> None:
    """The shortest path between two vertices named LABEL:KEY.

    \b
    Example:
      rdg path account:a1 game:g7
    """
    from rdg.graph import queries

    with _connect(ctx) as g:
        found = queries.path(g, _ref(start), _ref(end), max_hops=max_hops)
    if as_json:
        click.echo(json.dumps(found.as_dict(), indent=2, default=str))
        return
    click.echo(str(found))
    click.echo(f"({len(found.edges)} hop{'s' if len(found.edges) != 1 else ''})")
