"""TinkerPop's Gherkin feature files, read from the ``gremlin-test`` jar, and their value notation.

The jar is fetched with the stack's Maven code into the stack cache (never copied into the
repo). A scenario holds the graph it runs on, its parameters, the traversal text, how it is
iterated and what must come out. Values in tables and parameters use TinkerPop's notation
(``v[marko]``, ``d[29].i``, ``m[{...}]``, ``p[...]``...); :func:`expect` turns one into a
canonical value that :func:`canon` also makes from a real result, so the two compare with ``==``.

>>> expect("l[v[marko],d[1].l]", Names({"marko": 1}, {}))
('l', (('v', ('n', 1.0)), ('n', 1.0)))
>>> canon([1, "a"]) == expect("l[d[1].i,a]", Names({}, {}))
True
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VERSION = "3.7.3"
PREFIX = "org/apache/tinkerpop/gremlin/test/features/"


def jar_path(stack_dir: str | Path) -> Path:
    """The gremlin-test jar, fetched once into the stack cache."""
    from rdg.stack._maven import fetch_jars

    lib = fetch_jars("gremlin-test", stack_dir)
    return next(lib.glob(f"gremlin-test-{VERSION}.jar"))


@dataclass
class Scenario:
    feature: str
    name: str
    graph: str = "empty"
    params: dict[str, str] = field(default_factory=dict)
    initializer: str | None = None
    traversal: str = ""
    action: str = "list"  # or "next"
    then: str = ""  # unordered, ordered, of, empty, count, error, nothing, unsupported
    rows: list[str] = field(default_factory=list)
    count: int | None = None
    error_text: str | None = None
    graph_counts: list[tuple[int, str]] = field(default_factory=list)
    result_count: int | None = None
    unsupported: bool = False
    tags: set[str] = field(default_factory=set)
    """The scenario's and its feature file's ``@`` tags (``@MultiProperties``...)."""


def read_features(jar: Path) -> list[Scenario]:
    """Every scenario of every feature file in the jar, in file order."""
    out: list[Scenario] = []
    with zipfile.ZipFile(jar) as zf:
        for name in sorted(n for n in zf.namelist() if n.startswith(PREFIX) and n.endswith(".feature")):
            out += parse_feature(name[len(PREFIX):], zf.read(name).decode("utf-8"))
    return out


_DOC = '"""'


def parse_feature(feature: str, text: str) -> list[Scenario]:
    scenarios: list[Scenario] = []
    cur: Scenario | None = None
    lines = text.splitlines()
    i = 0
    table_for: str | None = None
    feature_tags: set[str] = set()
    pending: set[str] = set()
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if line.startswith("@"):
            pending |= set(line.split())
            continue
        if not line or line.startswith("#"):
            continue
        if line.startswith("Feature:"):
            feature_tags, pending = pending, set()
            continue
        if line.startswith("Scenario:"):
            cur = Scenario(feature, line.split(":", 1)[1].strip(), tags=feature_tags | pending)
            pending = set()
            scenarios.append(cur)
            table_for = None
            continue
        if cur is None:
            continue
        if line.startswith("|"):
            cells = [_unescape_cell(c.strip()) for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
            if table_for == "rows" and cells != ["result"]:
                cur.rows.append(cells[0])
            continue
        table_for = None
        m = re.match(r"^(Given|And|When|Then) (.*)$", line)
        if not m:
            continue
        step = m.group(2)
        if step.startswith("the ") and step.endswith(" graph") and m.group(1) == "Given":
            cur.graph = step[4:-6]
        elif step == "an unsupported test":
            cur.unsupported = True
        elif step.startswith("using the parameter "):
            pm = re.match(r'using the parameter (\w+) defined as "(.*)"$', step)
            if pm:
                cur.params[pm.group(1)] = pm.group(2).replace('\\"', '"')
            pm = re.match(r'using the parameter (\w+) of P\.(\w+)\("(.*)"\)$', step)
            if pm:  # a predicate over a value: kept as "P.<name>(<value>)"
                cur.params[pm.group(1)] = f"P.{pm.group(2)}({pm.group(3)})"
        elif step in ("the traversal of", "the graph initializer of"):
            block, i = _docstring(lines, i)
            if step == "the traversal of":
                cur.traversal = block
            else:
                cur.initializer = block
        elif step == "iterated to list":
            cur.action = "list"
        elif step == "iterated next":
            cur.action = "next"
        elif step.startswith("the result should be "):
            kind = step[len("the result should be "):]
            cur.then = {"unordered": "unordered", "ordered": "ordered", "of": "of", "empty": "empty"}.get(kind, kind)
            table_for = "rows"
        elif step.startswith("the result should have a count of "):
            n = int(step.rsplit(" ", 1)[1])
            if m.group(1) == "Then":
                cur.then, cur.count = "count", n
            else:
                cur.result_count = n
        elif step.startswith("the traversal will raise an error"):
            cur.then = "error"
            em = re.search(r'containing text of "(.*)"$', step)
            cur.error_text = em.group(1) if em else None
        elif step.startswith("nothing should happen because"):
            cur.then = "nothing"
            _, i = _docstring(lines, i)
        elif step.startswith("the graph should return "):
            gm = re.match(r'the graph should return (\d+) for count of "(.*)"$', step)
            if gm:
                cur.graph_counts.append((int(gm.group(1)), gm.group(2).replace('\\"', '"')))
    return scenarios


def _unescape_cell(text: str) -> str:
    """A Gherkin table cell's text: ``\\\\`` is a backslash, ``\\|`` a bar, ``\\n`` a newline."""
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "|": "|", "\\": "\\"}.get(m.group(1), m.group(0)), text)


def _docstring(lines: list[str], i: int) -> tuple[str, int]:
    while i < len(lines) and lines[i].strip() != _DOC:
        i += 1
    i += 1
    body = []
    while i < len(lines) and lines[i].strip() != _DOC:
        body.append(lines[i].strip())
        i += 1
    return "\n".join(body).strip(), i + 1


# -- values --------------------------------------------------------------------------------------

@dataclass
class Names:
    """Vertex ids by name and edge ids by ``out-label->in``, read from the graph under test."""

    vertices: dict[str, Any]
    edges: dict[str, Any]

    def vertex(self, name: str) -> Any:
        if name not in self.vertices:
            raise KeyError(f"no vertex named {name!r}")
        return self.vertices[name]

    def edge(self, spec: str) -> Any:
        if spec not in self.edges:
            raise KeyError(f"no edge {spec!r}")
        return self.edges[spec]


class Unsupported(Exception):
    """A value the runner cannot stand for (a Groovy lambda ``c[...]``)."""


def split_top(text: str) -> list[str]:
    """Split on commas that are not inside brackets or braces or quotes."""
    parts, depth, cur, quote = [], 0, [], None
    for ch in text:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch == '"':
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    if "".join(cur).strip():
        parts.append("".join(cur).strip())
    return parts


def _number(body: str, kind: str) -> Any:
    if body in ("NaN",):
        return ("nan",)
    if body in ("Infinity", "+Infinity"):
        return ("n", math.inf)
    if body == "-Infinity":
        return ("n", -math.inf)
    return ("n", float(body))


def expect(text: str, names: Names) -> Any:
    """The canonical value of one value in TinkerPop's notation."""
    text = text.strip()
    if text == "null":
        return None
    if text in ("true", "false"):
        return ("b", text == "true")
    m = re.match(r"^(\w+)\[(.*)\](\.\w+)?$", text, re.S)
    if not m:
        return ("s", text)
    kind, body, suffix = m.group(1), m.group(2), (m.group(3) or "")[1:]
    if kind == "v":
        ident = canon(names.vertex(body))
        return ident if suffix == "id" else ("v", ident)
    if kind == "e":
        ident = canon(names.edge(body))
        return ident if suffix == "id" else ("e", ident)
    if kind == "d":
        return _number(body, suffix)
    if kind == "l":
        return ("l", tuple(expect(p, names) for p in split_top(body)))
    if kind == "s":
        return ("set", frozenset(expect(p, names) for p in split_top(body)))
    if kind == "p":
        return ("path", tuple(expect(p, names) for p in split_top(body)))
    if kind == "m":
        return _map(json.loads(body), names)
    if kind == "t":
        return ("t", body)
    if kind == "D":
        return ("D", body)
    if kind == "M":
        return ("M", body)
    if kind == "str":
        return ("s", body)
    if kind == "vp":
        vm = re.match(r"^(.*?)-(\w+)->(.*)$", body)
        if not vm:
            raise ValueError(f"bad vp[...]: {text}")
        return ("vp", vm.group(2), expect(vm.group(3), names))
    if kind == "dt":
        return ("dt", _iso(body))
    if kind == "c":
        raise Unsupported("a Groovy lambda")
    return ("s", text)


def _map(doc: Any, names: Names) -> Any:
    if isinstance(doc, dict):
        return ("m", frozenset((expect(k, names), _map(v, names)) for k, v in doc.items()))
    if isinstance(doc, list):
        return ("l", tuple(_map(v, names) for v in doc))
    if isinstance(doc, str):
        return expect(doc, names)
    if isinstance(doc, bool):
        return ("b", doc)
    if doc is None:
        return None
    return ("n", float(doc))


def _iso(text: str) -> str:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.timezone.utc).isoformat()


def canon(value: Any) -> Any:
    """The canonical value of a result from either backend."""
    from gremlin_python.process.traversal import Direction, T
    from gremlin_python.structure.graph import Edge, Path, Property, Vertex, VertexProperty

    if value is None:
        return None
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, (int, float)):
        if isinstance(value, float) and math.isnan(value):
            return ("nan",)
        return ("n", float(value))
    if isinstance(value, str):
        return ("s", value)
    if isinstance(value, Vertex):
        return ("v", canon(value.id))
    if isinstance(value, Edge):
        return ("e", canon(value.id))
    if isinstance(value, VertexProperty):
        return ("vp", value.label, canon(value.value))
    if isinstance(value, Property):
        return ("prop", value.key, canon(value.value))
    if isinstance(value, Path):
        return ("path", tuple(canon(o) for o in value.objects))
    if isinstance(value, dict):
        return ("m", frozenset((canon(k), canon(v)) for k, v in value.items()))
    if isinstance(value, (set, frozenset)):
        return ("set", frozenset(canon(v) for v in value))
    if isinstance(value, (list, tuple)):
        return ("l", tuple(canon(v) for v in value))
    if isinstance(value, T):
        return ("t", value.name.rstrip("_"))
    if isinstance(value, Direction):
        return ("D", value.name)
    if isinstance(value, dt.datetime):
        return ("dt", (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc))
                .astimezone(dt.timezone.utc).isoformat())
    return ("obj", str(value))
