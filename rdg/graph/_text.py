"""Parse Gremlin text into a gremlinpython traversal, for the embedded graph (no ``eval``).

The embedded store runs bytecode, so ``rdg query "g.V()..."`` is tokenized and rebuilt step by
step on a real ``GraphTraversalSource``. Only a grammar of literals, step calls, anonymous
traversals (``__.out()`` or bare ``out()``), predicates (``P.gt(1)``, ``within(...)``), enum
values (``T.id``, ``Order.desc``) and bindings (bare names) is accepted; anything else is a
syntax error that says where.

>>> from gremlin_python.process.anonymous_traversal import traversal
>>> g = traversal().with_remote(None)
>>> t = parse("g.V().has('member', 'member_id', who).out('used').limit(5)", g, {"who": "m1"})
>>> t.bytecode.step_instructions
[['V'], ['has', 'member', 'member_id', 'm1'], ['out', 'used'], ['limit', 5]]
>>> parse("g.V().has('n', gt(3))", g, {}, embedded=False).bytecode.step_instructions[1][2]
gt(3)
>>> parse("g.V().has('n', gt(3))", g, {})  # gremlite compares stored integers wrongly: refused
Traceback (most recent call last):
rdg.graph._text.GremlinSyntaxError: the embedded graph cannot compare numbers with gt() (column 16) (hint: filter numbers in Python, or use JanusGraph (--set gremlin_url=ws://127.0.0.1:8182/gremlin))
"""

from __future__ import annotations

import re
from typing import Any

from gremlin_python.process.graph_traversal import GraphTraversal, __
from gremlin_python.process.traversal import Cardinality, Column, Direction, Order, P, Pop, Scope, T, TextP

from rdg.errors import RdgError

__all__ = ["MAX_NESTING", "WRITE_STEPS", "GremlinSyntaxError", "QueryTooLargeError", "QueryWritesError", "parse",
           "writes"]

WRITE_STEPS = frozenset({"addV", "addE", "drop", "property", "mergeV", "mergeE"})
"""Steps that change the graph: a read-only query may use none of them, at any depth."""

MAX_NESTING = 64
"""The deepest nesting of parentheses and brackets a query may have."""


class GremlinSyntaxError(RdgError):
    """The query text is not Gremlin this parser understands."""


class QueryWritesError(RdgError):
    """A query meant to be read-only would change the graph."""


class QueryTooLargeError(RdgError):
    """A query would return more results than its limit (``query_max_results``)."""


_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<num>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?[lLdDfF]?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[().,\[\]])
""", re.VERBOSE)

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "'": "'", '"': '"', "\\": "\\", "$": "$"}
_ENUMS = {"T": T, "Order": Order, "Column": Column, "Direction": Direction, "Scope": Scope, "Pop": Pop,
          "Cardinality": Cardinality}
_BARE_ENUMS = {"desc": Order.desc, "asc": Order.asc, "shuffle": Order.shuffle, "id": T.id, "label": T.label,
               "keys": Column.keys, "OUT": Direction.OUT, "IN": Direction.IN, "BOTH": Direction.BOTH,
               "local": Scope.local, "single": Cardinality.single}
_PREDICATES = {"eq", "neq", "lt", "lte", "gt", "gte", "inside", "outside", "between", "within", "without", "not_"}
_TEXT_PREDICATES = {"containing", "notContaining", "startingWith", "notStartingWith", "endingWith",
                    "notEndingWith", "regex", "notRegex"}
_NUMERIC_COMPARE = {"lt", "lte", "gt", "gte", "inside", "outside", "between"}
_KEYWORDS = {"in": "in_", "as": "as_", "id": "id_", "not": "not_", "and": "and_", "or": "or_", "is": "is_",
             "from": "from_", "max": "max_", "min": "min_", "sum": "sum_", "range": "range_", "with": "with_",
             "all": "all_", "any": "any_", "filter": "filter_", "map": "map_", "none": "none_"}
_TERMINAL = {"next", "toList", "iterate", "toSet", "to_list", "to_set"}
_SOURCE_STEPS = {"V", "E", "addV", "addE", "inject"}


def _snake(name: str) -> str:
    if name in _KEYWORDS:
        return _KEYWORDS[name]
    return re.sub(r"(?<=[a-z0-9])([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def _unquote(text: str) -> str:
    body = text[1:-1]
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt == "u":
                digits = body[i + 2:i + 6]
                if not re.fullmatch(r"[0-9A-Fa-f]{4}", digits):
                    raise ValueError(f"\\u must be followed by 4 hex digits, not {digits!r}")
                out.append(chr(int(digits, 16)))
                i += 6
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


class _Parser:
    def __init__(self, text: str, bindings: dict[str, Any], *, embedded: bool) -> None:
        self.text = text
        self.bindings = bindings
        self.embedded = embedded
        self.tokens: list[tuple[str, str, int]] = []
        pos = depth = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m:
                self.fail(pos, f"unexpected character {text[pos]!r}")
            kind = m.lastgroup or ""
            if kind != "ws":
                self.tokens.append((kind, m.group(), pos))
            if kind == "punct" and m.group() in "([":
                depth += 1
                if depth > MAX_NESTING:
                    self.fail(pos, f"nested more than {MAX_NESTING} levels deep")
            elif kind == "punct" and m.group() in ")]":
                depth -= 1
            pos = m.end()
        self.i = 0

    def fail(self, pos: int, msg: str) -> None:
        raise GremlinSyntaxError(f"Gremlin syntax error at column {pos + 1}: {msg}",
                                 hint=f"near: {self.text[max(0, pos - 15):pos + 15]!r}")

    def peek(self, offset: int = 0) -> tuple[str, str, int]:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else ("eof", "", len(self.text))

    def take(self, value: str | None = None, kind: str | None = None) -> tuple[str, str, int]:
        tok = self.peek()
        if (value is not None and tok[1] != value) or (kind is not None and tok[0] != kind):
            self.fail(tok[2], f"expected {value or kind}, found {tok[1] or 'end of query'!r}")
        self.i += 1
        return tok

    def query(self, g: Any) -> Any:
        self.take("g")
        self.take(".")
        kind, name, pos = self.take(kind="name")
        if name not in _SOURCE_STEPS:
            self.fail(pos, f"a query starts with g.V(), g.E(), g.addV(), g.addE() or g.inject(), not g.{name}()")
        method = getattr(g, _snake(name))
        t = method(*self.args())
        t = self.chain(t)
        if self.peek()[0] != "eof":
            self.fail(self.peek()[2], f"unexpected {self.peek()[1]!r}")
        return t

    def chain(self, t: Any) -> Any:
        while self.peek()[1] == ".":
            self.take(".")
            _, name, pos = self.take(kind="name")
            if name in _TERMINAL:
                self.args()
                if self.peek()[0] != "eof":
                    self.fail(pos, f"{name}() must be the last call")
                return t
            t = self.step(t, name, pos)
        return t

    def step(self, t: Any, name: str, pos: int) -> Any:
        attr = _snake(name)
        method = getattr(GraphTraversal, attr, None)
        if method is None or attr.startswith("_") or attr in ("iterate", "next", "to_list", "to_set", "has_next"):
            self.fail(pos, f"unknown step {name}()")
        return getattr(t, attr)(*self.args())

    def args(self) -> list[Any]:
        self.take("(")
        out: list[Any] = []
        if self.peek()[1] != ")":
            out.append(self.arg())
            while self.peek()[1] == ",":
                self.take(",")
                out.append(self.arg())
        self.take(")")
        return out

    def arg(self) -> Any:
        kind, value, pos = self.peek()
        if kind == "str":
            self.i += 1
            try:
                return _unquote(value)
            except ValueError as err:
                self.fail(pos, f"bad escape in a string: {err}")
        if kind == "num":
            self.i += 1
            v = value.rstrip("lLdDfF")
            if value[-1] in "dDfF" or "." in v or "e" in v.lower():
                return float(v)
            return int(v)
        if value == "[":
            self.take("[")
            items: list[Any] = []
            if self.peek()[1] != "]":
                items.append(self.arg())
                while self.peek()[1] == ",":
                    self.take(",")
                    items.append(self.arg())
            self.take("]")
            return items
        if kind != "name":
            self.fail(pos, f"unexpected {value or 'end of query'!r}")
        self.i += 1
        if value in ("true", "false"):
            return value == "true"
        if value == "null":
            return None
        nxt = self.peek()[1]
        if value in _ENUMS and nxt == ".":
            self.take(".")
            _, member, mpos = self.take(kind="name")
            found = getattr(_ENUMS[value], _snake(member), None) or getattr(_ENUMS[value], member, None)
            if found is None:
                self.fail(mpos, f"{value} has no value {member}")
            return found
        if value in ("P", "TextP") and nxt == ".":
            self.take(".")
            _, pred, ppos = self.take(kind="name")
            return self.predicate(pred, ppos)
        if value == "__" and nxt == ".":
            self.take(".")
            _, first, fpos = self.take(kind="name")
            return self.chain(self.anon(first, fpos))
        if nxt == "(":
            if value in _PREDICATES or value in _TEXT_PREDICATES:
                return self.predicate(value, pos)
            return self.chain(self.anon(value, pos))
        if value in _BARE_ENUMS:
            return _BARE_ENUMS[value]
        if value in self.bindings:
            return self.bindings[value]
        self.fail(pos, f"unknown name {value!r}: pass values as bindings (name=value)")
        return None

    def anon(self, name: str, pos: int) -> Any:
        attr = _snake(name)
        if not hasattr(__, attr) or attr.startswith("_"):
            self.fail(pos, f"unknown step {name}()")
        return getattr(__, attr)(*self.args())

    def predicate(self, name: str, pos: int) -> Any:
        attr = _snake(name)
        owner = TextP if name in _TEXT_PREDICATES else P
        fn = getattr(owner, attr, None) or getattr(owner, name, None)
        if fn is None:
            self.fail(pos, f"unknown predicate {name}()")
        args = self.args()
        if self.embedded and attr in _NUMERIC_COMPARE and any(
                isinstance(a, (int, float)) and not isinstance(a, bool) for a in args):
            raise GremlinSyntaxError(
                f"the embedded graph cannot compare numbers with {name}() (column {pos + 1})",
                hint="filter numbers in Python, or use JanusGraph (--set gremlin_url=ws://127.0.0.1:8182/gremlin)")
        if len(args) == 1 and isinstance(args[0], list) and attr in ("within", "without"):
            return fn(args[0])
        return fn(*args)


def writes(built: Any) -> list[str]:
    """The graph-changing steps in a traversal, inner traversals included.

    >>> from gremlin_python.process.anonymous_traversal import traversal
    >>> g = traversal().with_remote(None)
    >>> writes(parse("g.V().sideEffect(__.drop()).count()", g, {})), writes(parse("g.V().count()", g, {}))
    (['drop'], [])
    """
    found: list[str] = []
    stack = [built.bytecode]
    while stack:
        code = stack.pop()
        for name, *args in [*code.source_instructions, *code.step_instructions]:
            if name in WRITE_STEPS:
                found.append(name)
            for arg in args:
                inner = arg if hasattr(arg, "step_instructions") else getattr(arg, "bytecode", None)
                if inner is not None:
                    stack.append(inner)
    return found


def parse(text: str, g: Any, bindings: dict[str, Any], *, embedded: bool = True) -> Any:
    """Build the traversal that ``text`` describes on ``g``, with ``bindings`` for bare names.

    Raises:
        GremlinSyntaxError: The text is not in the supported grammar (the message gives the column).
    """
    if not isinstance(text, str) or not text.strip():
        raise GremlinSyntaxError("empty Gremlin query", hint="e.g. rdg query \"g.V().limit(5)\"")
    try:
        return _Parser(text.strip().rstrip(";"), bindings, embedded=embedded).query(g)
    except RdgError:
        raise
    except Exception as err:  # noqa: BLE001 - a form the grammar reads but cannot build
        raise GremlinSyntaxError(f"cannot build this query: {type(err).__name__}: {err}",
                                 hint="see docs/graph.md for the Gremlin rdg query understands") from err


def parse_read_only(text: str, g: Any, bindings: dict[str, Any], *, embedded: bool = True) -> Any:
    """:func:`parse`, refusing a query that would change the graph.

    Raises:
        QueryWritesError: The query has a step from :data:`WRITE_STEPS`.
    """
    built = parse(text, g, bindings, embedded=embedded)
    found = writes(built)
    if found:
        raise QueryWritesError(f"this query changes the graph ({', '.join(sorted(set(found)))}) and queries are "
                               "read-only unless asked otherwise",
                               hint="add --write to `rdg query` (or write=True to Graph.query) if you mean it")
    return built
