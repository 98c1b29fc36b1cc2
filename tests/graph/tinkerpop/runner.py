"""Run TinkerPop's scenarios through ``Graph.query`` (``rdg query``'s text path) on one backend.

Each scenario ends as one verdict:

- ``passed``: the answer is the expected one;
- ``failed``: a different answer and no error (what must never happen on the embedded graph);
- ``refused``: rdg said cleanly that it cannot run this (a syntax it does not parse, a step the
  backend does not support, a write in a read-only query, the time limit);
- ``errored``: another error (the server refused it, or the backend broke);
- ``excluded``: not runnable here, for a listed reason (Groovy lambdas, OLAP, graphs not built).

Run it by hand (prints the table per feature file; ``--json`` for the numbers)::

    .venv/bin/python -m tests.graph.tinkerpop.runner --backend embedded
    .venv/bin/python -m tests.graph.tinkerpop.runner --backend ws://127.0.0.1:8182/gremlin
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from rdg.errors import RdgTimeoutError
from rdg.graph import connect
from tests.graph.tinkerpop.features import Names, Scenario, Unsupported, canon, expect, jar_path, read_features
from tests.graph.tinkerpop.graphs import BUILT, build, names

VERDICTS = ("passed", "failed", "refused", "errored", "excluded")
TIMEOUT_S = 10.0
_WRITES = re.compile(r"\b(addV|addE|drop|property|mergeV|mergeE)\(")


@dataclass
class Outcome:
    scenario: Scenario
    verdict: str
    detail: str = ""


EXCLUDED_TAGS = {
    "@AllowNullPropertyValues": "needs a graph that keeps null property values (TinkerGraph's default does not)",
    "@GraphComputerOnly": "OLAP only (a graph computer)",
    "@TinkerServiceRegistry": "TinkerGraph's own call() services",
    "@UserSuppliedVertexPropertyIds": "needs TinkerFactory's exact vertex property ids",
}
"""Scenarios for graph features neither backend offers by default, as TinkerGraph's own feature
test leaves them out too."""


def exclusion(sc: Scenario) -> str | None:
    """Why a scenario is not run here (None: it is run)."""
    if sc.unsupported or sc.then == "nothing":
        return "marked unsupported upstream"
    for tag, why in EXCLUDED_TAGS.items():
        if tag in sc.tags:
            return why
    if sc.graph not in BUILT:
        return f"the {sc.graph} graph is not built"
    if any(v.startswith("c[") for v in sc.params.values()) or "Lambda" in sc.traversal:
        return "a Groovy lambda"
    if "withComputer" in sc.traversal:
        return "OLAP (withComputer)"
    if "g.io(" in sc.traversal:
        return "io() reads files"
    if not sc.traversal:
        return "no traversal"
    return None


def _refusal(err: Exception) -> bool:
    from rdg.graph import EmbeddedUnsupportedError, GremlinSyntaxError, QueryWritesError

    return isinstance(err, (EmbeddedUnsupportedError, GremlinSyntaxError, QueryWritesError, RdgTimeoutError))


class Target:
    """One backend under test, with fresh graphs as the scenarios need them."""

    def __init__(self, backend: str, work: Path, *, bytecode: bool = False) -> None:
        self.backend = backend
        self.bytecode = bytecode
        self.embedded = not backend.startswith(("ws://", "wss://"))
        self.work = work
        self._templates: dict[str, Path] = {}
        self._graph: Any = None
        self._state: tuple[str, bool] | None = None  # (kind, dirty)

    def graph(self, kind: str, *, writes: bool) -> Any:
        if self.embedded:
            return self._embedded(kind, writes)
        if self._graph is None:
            self._graph = connect(self.backend)
        if self._state != (kind, False):
            build(self._graph, kind)
        self._state = (kind, writes)
        return self._graph

    def _embedded(self, kind: str, writes: bool) -> Any:
        if kind not in self._templates:
            path = self.work / f"template-{kind}.db"
            g = connect(str(path))
            build(g, kind)
            g.close()
            self._templates[kind] = path
        if self._state == (kind, False) and self._graph is not None:
            self._state = (kind, writes)
            return self._graph
        if self._graph is not None:
            self._graph.close()
        run = self.work / "run.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{run}{suffix}").unlink(missing_ok=True)
        shutil.copy(self._templates[kind], run)
        self._graph = connect(str(run))
        self._state = (kind, writes)
        return self._graph

    def close(self) -> None:
        if self._graph is not None:
            self._graph.close()


def _items(results: list[Any], action: str) -> list[Any]:
    from gremlin_python.structure.graph import Path as GPath

    if action != "next":
        return results
    if not results:
        raise LookupError("the traversal returned nothing to take next() from")
    first = results[0]
    if isinstance(first, GPath):
        return list(first.objects)
    if isinstance(first, (list, tuple, set, frozenset, dict)):
        return list(first)
    return [first]


def _check(sc: Scenario, got: list[Any], names_: Names) -> str | None:
    """None when the answer is right, else what differs."""
    actual = [canon(x) for x in got]
    if sc.then == "empty":
        return None if not actual else f"expected nothing, got {len(actual)}"
    if sc.then == "count":
        return None if len(actual) == sc.count else f"expected {sc.count} results, got {len(actual)}"
    wanted = [expect(row, names_) for row in sc.rows]
    if sc.then == "unordered":
        ok = Counter(map(repr, _sorted_sets(actual))) == Counter(map(repr, _sorted_sets(wanted)))
    elif sc.then == "ordered":
        ok = _sorted_sets(actual) == _sorted_sets(wanted)
    elif sc.then == "of":
        allowed = set(map(repr, _sorted_sets(wanted)))
        ok = all(repr(a) in allowed for a in _sorted_sets(actual))
    else:
        return f"unknown expectation {sc.then!r}"
    if ok and sc.result_count is not None and len(actual) != sc.result_count:
        return f"expected {sc.result_count} results, got {len(actual)}"
    return None if ok else f"got {actual[:5]!r}, expected {wanted[:5]!r}"


def _sorted_sets(values: list[Any]) -> list[Any]:
    """Values with every frozenset made an ordered tuple (so repr() compares them)."""
    def fix(v: Any) -> Any:
        if isinstance(v, frozenset):
            return ("~", tuple(sorted((fix(x) for x in v), key=repr)))
        if isinstance(v, tuple):
            return tuple(fix(x) for x in v)
        return v
    return [fix(v) for v in values]


def run_one(target: Target, sc: Scenario) -> Outcome:
    why = exclusion(sc)
    if why:
        return Outcome(sc, "excluded", why)
    writes = bool(sc.initializer) or bool(_WRITES.search(sc.traversal))
    try:
        graph = target.graph(sc.graph, writes=writes)
        if sc.initializer:
            graph.query(sc.initializer, {}, write=True, timeout_s=TIMEOUT_S)
        names_ = names(graph.g)
        bindings = {k: _binding(v, names_) for k, v in sc.params.items()}
    except Unsupported as err:
        return Outcome(sc, "excluded", str(err))
    except Exception as err:  # noqa: BLE001 - setting up is the runner's own business
        return Outcome(sc, "refused" if _refusal(err) else "errored", f"setup: {type(err).__name__}: {err}")
    try:
        got = _items(_run(graph, sc.traversal, bindings, target.bytecode), sc.action)
    except Exception as err:  # noqa: BLE001
        if sc.then == "error":
            return Outcome(sc, "refused" if _refusal(err) else "passed", f"{type(err).__name__}: {err}")
        return Outcome(sc, "refused" if _refusal(err) else "errored", f"{type(err).__name__}: {err}"[:300])
    if sc.then == "error":
        return Outcome(sc, "failed", f"expected an error, got {len(got)} results")
    try:
        problem = _check(sc, got, names(graph.g) if writes else names_)
        for count, text in sc.graph_counts:
            n = len(graph.query(text, {k: v for k, v in bindings.items() if k in text}, timeout_s=TIMEOUT_S))
            if problem is None and n != count:
                problem = f"the graph holds {n} for {text}, expected {count}"
    except Exception as err:  # noqa: BLE001
        return Outcome(sc, "refused" if _refusal(err) else "errored", f"checking: {type(err).__name__}: {err}"[:300])
    return Outcome(sc, "passed" if problem is None else "failed", problem or "")


def _run(graph: Any, text: str, bindings: dict[str, Any], bytecode: bool) -> list[Any]:
    """The answer through ``rdg query``'s path (``Graph.query``), or, with ``bytecode``, by
    building the traversal on ``graph.g`` and iterating it (gremlinpython's remote path)."""
    if not bytecode:
        return graph.query(text, bindings, write=True, timeout_s=TIMEOUT_S)
    from rdg.graph._text import parse

    remote = getattr(graph._backend, "connection", None)
    if remote is not None:  # the embedded graph's connection: bound it as Graph.query is
        remote.timeout_s = TIMEOUT_S
    return parse(text, graph.g, bindings).to_list()


def _binding(text: str, names_: Names) -> Any:
    """A parameter's value for the query's bindings (the real object, not its canonical form)."""
    from gremlin_python.process.traversal import P
    from gremlin_python.structure.graph import Vertex

    m = re.match(r"^P\.(\w+)\((.*)\)$", text, re.S)
    if m:  # "using the parameter x of P.within(...)"
        value = _binding(m.group(2), names_)
        return getattr(P, m.group(1))(value)
    m = re.match(r"^v\[(.*)\]$", text)
    if m:
        return Vertex(names_.vertex(m.group(1)))
    m = re.match(r"^v\[(.*)\]\.id$", text)
    if m:
        return names_.vertex(m.group(1))
    m = re.match(r"^e\[(.*)\]\.id$", text)
    if m:
        return names_.edge(m.group(1))
    return _plain(expect(text, names_))


def _plain(value: Any) -> Any:
    """Back from the canonical form to a Python value."""
    if value is None:
        return None
    kind = value[0]
    if kind == "n":
        number = value[1]
        return int(number) if float(number).is_integer() and abs(number) < 2 ** 53 else number
    if kind == "nan":
        return float("nan")
    if kind in ("s", "b"):
        return value[1]
    if kind == "v":
        from gremlin_python.structure.graph import Vertex

        return Vertex(_plain(value[1]))
    if kind == "t":
        from gremlin_python.process.traversal import T

        return getattr(T, value[1] if value[1] not in ("id",) else "id_", None) or getattr(T, value[1])
    if kind == "D":
        from gremlin_python.process.traversal import Direction

        return getattr(Direction, value[1].upper() if value[1].upper() in ("OUT", "IN", "BOTH") else
                       {"from": "OUT", "to": "IN"}.get(value[1].lower(), value[1]))
    if kind == "M":
        from gremlin_python.process.traversal import Merge

        return {"onCreate": Merge.on_create, "onMatch": Merge.on_match, "outV": Merge.out_v,
                "inV": Merge.in_v}[value[1]]
    if kind == "l":
        return [_plain(v) for v in value[1]]
    if kind == "set":
        return {_plain(v) for v in value[1]}
    if kind == "m":
        return {_plain(k): _plain(v) for k, v in value[1]}
    raise Unsupported(f"a parameter of kind {kind}")


def run_all(backend: str, scenarios: Iterable[Scenario], *, bytecode: bool = False) -> list[Outcome]:
    """Every scenario's outcome on ``backend``, through ``rdg query``'s text path or (``bytecode``)
    through ``graph.g``."""
    with tempfile.TemporaryDirectory(prefix="rdg-tinkerpop-") as tmp:
        target = Target(backend, Path(tmp), bytecode=bytecode)
        try:
            ordered = sorted(scenarios, key=lambda s: (s.graph, bool(s.initializer) or bool(_WRITES.search(s.traversal))))
            by_name = {id(s): run_one(target, s) for s in ordered}
        finally:
            target.close()
    return [by_name[id(s)] for s in scenarios]


def table(outcomes: list[Outcome]) -> dict[str, dict[str, int]]:
    """Verdict counts per feature file, and ``TOTAL``."""
    out: dict[str, dict[str, int]] = {}
    for o in outcomes:
        for key in (o.scenario.feature, "TOTAL"):
            row = out.setdefault(key, dict.fromkeys(VERDICTS, 0))
            row[o.verdict] += 1
    return out


def render(rows: dict[str, dict[str, int]]) -> str:
    lines = [f"{'feature':32} " + " ".join(f"{v:>8}" for v in VERDICTS)]
    for feature in sorted(rows, key=lambda f: (f == "TOTAL", f)):
        lines.append(f"{feature:32} " + " ".join(f"{rows[feature][v]:>8}" for v in VERDICTS))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="embedded", help="embedded, or ws://host:port/gremlin")
    parser.add_argument("--stack-dir", default=str(Path.home() / ".cache" / "rdg"))
    parser.add_argument("--feature", default=None, help="only feature files whose path contains this")
    parser.add_argument("--show", default=None, help="print the scenarios with this verdict")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--bytecode", action="store_true",
                        help="iterate traversals built on graph.g (the bytecode path) instead of Graph.query")
    args = parser.parse_args()
    scenarios = [s for s in read_features(jar_path(args.stack_dir)) if not args.feature or args.feature in s.feature]
    backend = "embedded" if args.backend == "embedded" else args.backend
    outcomes = run_all(backend, scenarios, bytecode=args.bytecode)
    if args.show:
        for o in outcomes:
            if o.verdict == args.show:
                print(f"{o.scenario.feature} {o.scenario.name}: {o.detail}\n    {o.scenario.traversal}")
    rows = table(outcomes)
    print(json.dumps(rows) if args.json else render(rows))


if __name__ == "__main__":
    main()
