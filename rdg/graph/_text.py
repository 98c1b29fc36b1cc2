"""Parse Gremlin text into a gremlinpython traversal (no ``eval``).

Both backends run bytecode, so ``rdg query "g.V()..."`` is tokenized and rebuilt step by
step on a real ``GraphTraversalSource``. Only a grammar of literals (numbers with Gremlin's
suffixes, ``NaN``, ``Infinity``, ``null``, lists, ``[a: 1]`` maps, ``datetime('...')``), step calls,
traversal source options (``g.withSideEffect(...)``, ``g.withSack(...)``, strategies by name),
anonymous traversals (``__.out()`` or bare ``out()``), predicates (``P.gt(1).and(P.lt(5))``,
``within(...)``), enum values (``T.id``, ``Order.desc``, ``Merge.onCreate``) and bindings (bare
names) is accepted; anything else is a syntax error that says where. Nothing that would run
code is read: no lambdas or closures, and ``new`` only before a strategy
(``g.withStrategies(new SubgraphStrategy(vertices: __.hasLabel('person')))``).

Longer than most modules: the tokenizer, the grammar and the tables of what each name means
(steps, predicates, enums, sources) have to be read together to see what a query may say.

>>> from gremlin_python.process.anonymous_traversal import traversal
>>> g = traversal().with_remote(None)
>>> t = parse("g.V().has('member', 'member_id', who).out('used').limit(5)", g, {"who": "m1"})
>>> t.bytecode.step_instructions
[['V'], ['has', 'member', 'member_id', 'm1'], ['out', 'used'], ['limit', 5]]
>>> parse("g.V().has('n', gt(3))", g, {}).bytecode.step_instructions[1][2]
gt(3)
>>> parse("g.mergeV([name: 'm', (T.label): 'person']).option(Merge.onCreate, [:])", g, {}).bytecode.step_instructions
[['mergeV', {'name': 'm', <T.label: 4>: 'person'}], ['option', <Merge.on_create: 1>, {}]]
"""

from __future__ import annotations

import inspect
import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from gremlin_python import statics
from gremlin_python.process import strategies
from gremlin_python.process.graph_traversal import GraphTraversal, __
from gremlin_python.process.traversal import (
    DT,
    Barrier,
    Cardinality,
    CardinalityValue,
    Column,
    Direction,
    Merge,
    Operator,
    Order,
    P,
    Pick,
    Pop,
    Scope,
    T,
    TextP,
    WithOptions,
)

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
  | (?P<num>[-+]?(?:\d+(?:\.\d+)?(?:[eE][-+]?\d+)?[lLdDfFmMnNiIsSbB]?|Infinity(?![A-Za-z0-9_]))|NaN(?![A-Za-z0-9_]))
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[().,:\[\]])
""", re.VERBOSE)

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "'": "'", '"': '"', "\\": "\\", "$": "$"}


def _spellings(enum: type[Enum]) -> dict[str, Any]:
    """Every Gremlin spelling of an enum's values: ``sum`` for ``sum_``, ``onCreate`` for ``on_create``."""
    out: dict[str, Any] = {}
    for member, found in enum.__members__.items():
        plain = member.rstrip("_")
        for spelling in (member, plain, re.sub(r"_([a-z])", lambda m: m.group(1).upper(), plain)):
            out.setdefault(spelling, found)
    return out


_ENUMS: dict[str, dict[str, Any]] = {
    e.__name__: _spellings(e) for e in (T, Order, Column, Direction, Scope, Pop, Cardinality, Merge, Pick, Operator,
                                        Barrier, DT)}
_ENUMS["WithOptions"] = {n: v for n, v in vars(WithOptions).items() if not n.startswith("_")}
_BARE_ENUMS = {"desc": Order.desc, "asc": Order.asc, "shuffle": Order.shuffle, "id": T.id, "label": T.label,
               "keys": Column.keys, "OUT": Direction.OUT, "IN": Direction.IN, "BOTH": Direction.BOTH,
               "local": Scope.local, "single": Cardinality.single}
"""Enum values Gremlin also accepts without their class (a binding of the same name wins)."""
_BARE_ENUMS.update({name: _ENUMS[enum.__name__][name] for enum, names in (
    (T, "key value"), (Column, "values"), (Direction, "from to"), (Scope, "global"), (Pop, "first last all mixed"),
    (Cardinality, "set list"), (Pick, "any none"), (Operator, "sum minus mult div min max assign addAll sumLong"),
    (Barrier, "normSack"), (DT, "second minute hour day"), (Merge, "onCreate onMatch outV inV"),
) for name in names.split()})
_STRATEGIES = {"ReadOnlyStrategy": strategies.ReadOnlyStrategy, "ProductiveByStrategy": strategies.ProductiveByStrategy,
               "LambdaRestrictionStrategy": strategies.LambdaRestrictionStrategy}
"""Strategies ``g.withStrategies(...)`` may name (with their defaults)."""
_CONFIGURED_STRATEGIES = {"SubgraphStrategy": strategies.SubgraphStrategy,
                          "PartitionStrategy": strategies.PartitionStrategy}
"""Strategies built from their configuration: ``new SubgraphStrategy(vertices: __.hasLabel('x'))``."""
_PREDICATES = {"eq", "neq", "lt", "lte", "gt", "gte", "inside", "outside", "between", "within", "without", "not_"}
_TEXT_PREDICATES = {"containing", "notContaining", "startingWith", "notStartingWith", "endingWith",
                    "notEndingWith", "regex", "notRegex"}
_KEYWORDS = {"in": "in_", "as": "as_", "id": "id_", "not": "not_", "and": "and_", "or": "or_", "is": "is_",
             "from": "from_", "max": "max_", "min": "min_", "sum": "sum_", "range": "range_", "with": "with_",
             "all": "all_", "any": "any_", "filter": "filter_", "map": "map_", "none": "none_"}
_TERMINAL = {"next", "toList", "iterate", "toSet", "to_list", "to_set"}
_SOURCE_STEPS = {"V", "E", "addV", "addE", "inject", "mergeV", "mergeE", "call", "union"}
_SOURCE_OPTIONS = {"withSideEffect", "withSack", "withBulk", "withPath", "withStrategies"}
_STEPS = frozenset(n for n in vars(GraphTraversal) if not n.startswith("_")) - {"clone"}
_ANON_STEPS = frozenset(n for n in vars(__) if not n.startswith("_")) - {"start", "graph_traversal"}
_INTEGERS = {"": int, "i": int, "l": statics.long, "s": statics.short, "b": statics.SingleByte, "n": statics.bigint}


def _snake(name: str) -> str:
    if name in _KEYWORDS:
        return _KEYWORDS[name]
    return re.sub(r"(?<=[a-z0-9])([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def _method(name: str, known: frozenset[str]) -> str | None:
    """The gremlinpython method for a step spelled as in Gremlin (``in`` is ``in_``, ``format`` is ``format_``)."""
    for attr in (_snake(name), _snake(name) + "_", name):
        if attr in known:
            return attr
    return None


def _number(text: str) -> Any:
    """A number token as gremlinpython sends it: ``1L`` a long, ``2.5d`` a double, ``1.0m`` a BigDecimal."""
    if text.lstrip("+-") == "Infinity":
        return float("-inf") if text.startswith("-") else float("inf")
    if text == "NaN":
        return float("nan")
    suffix = text[-1].lower() if text[-1].isalpha() else ""
    body = text[:-1] if suffix else text
    if suffix == "m":
        exact = Decimal(body)
        exponent = int(exact.as_tuple().exponent)
        return statics.BigDecimal(-exponent, int(exact.scaleb(-exponent)))
    if suffix in ("d", "f") or (not suffix and ("." in body or "e" in body.lower())):
        return float(body)
    if "." in body or "e" in body.lower():
        raise ValueError(f"the integer suffix {text[-1]!r} on a decimal number")
    return _INTEGERS[suffix](int(body))


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
    def __init__(self, text: str, bindings: dict[str, Any]) -> None:
        self.text = text
        self.bindings = bindings
        self.tokens: list[tuple[str, str, int]] = []
        pos = depth = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m:
                self.fail(pos, f"unexpected character {text[pos]!r}" + (
                    ": lambdas and closures are not read (rdg query runs no code)" if text[pos] == "{" else ""))
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
        _, name, pos = self.take(kind="name")
        while name in _SOURCE_OPTIONS:
            if name == "withStrategies":
                g = g.with_strategies(*self.strategies())
            else:
                g = getattr(g, _snake(name))(*self.args())
            self.take(".")
            _, name, pos = self.take(kind="name")
        if name not in _SOURCE_STEPS:
            self.fail(pos, f"a query starts with g.V(), g.E(), g.addV(), g.addE() or g.inject(), not g.{name}() "
                           "(also read: g.mergeV(), g.mergeE(), g.call(), g.union(), after g.withSideEffect(), "
                           "g.withSack(), g.withBulk(), g.withPath() or g.withStrategies())")
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
        attr = _method(name, _STEPS)
        if attr is None:
            self.fail(pos, f"unknown step {name}()")
        return getattr(t, str(attr))(*self.args())

    def strategies(self) -> list[Any]:
        """The arguments of ``g.withStrategies(...)``: strategies by name, with their defaults."""
        self.take("(")
        out: list[Any] = []
        while self.peek()[1] != ")":
            if out:
                self.take(",")
            _, name, pos = self.take(kind="name")
            if name == "new":
                if self.peek()[1] not in _CONFIGURED_STRATEGIES:
                    self.new(pos)
                _, name, pos = self.take(kind="name")
            if name in _CONFIGURED_STRATEGIES:
                out.append(self.configured_strategy(name, pos))
                continue
            if name not in _STRATEGIES or self.peek()[1] == "(":
                self.fail(pos, f"withStrategies() takes strategies by name ({', '.join(sorted(_STRATEGIES))}) "
                               f"or new {' / new '.join(sorted(_CONFIGURED_STRATEGIES))}(option: value, ...), "
                               f"not {name}")
            out.append(_STRATEGIES[name]())
        self.take(")")
        return out

    def configured_strategy(self, name: str, pos: int) -> Any:
        """``SubgraphStrategy(vertices: __.has('x'), checkAdjacentVertices: false)``: options by name
        (values are literals, lists or anonymous traversals; nothing runs until the query does)."""
        options: dict[str, Any] = {}
        if self.peek()[1] == "(":
            self.take("(")
            while self.peek()[1] != ")":
                if options:
                    self.take(",")
                _, key, kpos = self.take(kind="name")
                self.take(":")
                if key in options:
                    self.fail(kpos, f"{name} option {key} given twice")
                options[key] = self.arg()
            self.take(")")
        cls = _CONFIGURED_STRATEGIES[name]
        allowed = [p for p in inspect.signature(cls).parameters]
        kwargs = {}
        for key, value in options.items():
            if _snake(key) not in allowed:
                spelled = ", ".join(re.sub(r"_([a-z])", lambda m: m.group(1).upper(), a) for a in allowed)
                self.fail(pos, f"{name} has no option {key} (it takes {spelled})")
            kwargs[_snake(key)] = value
        try:
            built = cls(**kwargs)
        except TypeError as err:
            self.fail(pos, f"{name} needs its options: {err}")
        if "checkAdjacentProperties" in built.configuration:  # gremlinpython 3.7 files it under the wrong key
            built.configuration["checkAdjacentVertices"] = built.configuration.pop("checkAdjacentProperties")
        return built

    def new(self, pos: int) -> None:
        self.fail(pos, "'new' is not read: rdg query creates no objects and runs no code "
                       "(name a strategy without arguments, e.g. g.withStrategies(ReadOnlyStrategy), or "
                       f"configure {' or '.join(sorted(_CONFIGURED_STRATEGIES))} with new)")

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
            try:
                number = _number(value)
            except (ValueError, InvalidOperation) as err:
                self.fail(pos, f"bad number {value}: {err}")
            return number
        if value == "[":
            return self.collection()
        if kind != "name":
            self.fail(pos, f"unexpected {value or 'end of query'!r}")
        self.i += 1
        if value in ("true", "false"):
            return value == "true"
        if value == "null":
            return None
        if value == "new":
            self.new(pos)
        nxt = self.peek()[1]
        if value in _ENUMS and nxt == ".":
            self.take(".")
            _, member, mpos = self.take(kind="name")
            found = _ENUMS[value].get(member)
            if found is None:
                self.fail(mpos, f"{value} has no value {member}")
            if isinstance(found, Cardinality) and self.peek()[1] == "(":  # Cardinality.list(33)
                args = self.args()
                if len(args) != 1:
                    self.fail(mpos, f"{value}.{member}() takes one value")
                return getattr(CardinalityValue, found.name)(args[0])
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
            if value == "datetime":
                return self.datetime_literal(pos)
            return self.chain(self.anon(value, pos))
        if value in self.bindings:
            return self.bindings[value]
        if value in _BARE_ENUMS:
            return _BARE_ENUMS[value]
        self.fail(pos, f"unknown name {value!r}: pass values as bindings (name=value)")
        return None

    def collection(self) -> Any:
        """``[1, 2]``, ``[:]``, or a map: ``[name: 'x']`` (a bare key is a string), ``["a": 1]``,
        ``[T.id: 1]``, ``[(T.label): 'x']``."""
        self.take("[")
        if self.peek()[1] == ":":
            self.take(":")
            self.take("]")
            return {}
        if self.peek()[1] == "]":
            self.take("]")
            return []
        first, keyed, pos = self.key()
        if self.peek()[1] != ":":
            if keyed:
                self.take(":")
            items = [first]
            while self.peek()[1] == ",":
                self.take(",")
                items.append(self.arg())
            self.take("]")
            return items
        out: dict[Any, Any] = {}
        key = first
        while True:
            self.take(":")
            try:
                hash(key)
            except TypeError:
                self.fail(pos, "a map key must be a string, a number or an enum value, not a list or a map")
            out[key] = self.arg()
            if self.peek()[1] != ",":
                break
            self.take(",")
            key, _, pos = self.key()
        self.take("]")
        return out

    def key(self) -> tuple[Any, bool, int]:
        """A list item or a map key, and whether only a map key can be this (``name:``, ``(T.id)``)."""
        kind, value, pos = self.peek()
        if kind == "name" and self.peek(1)[1] == ":":
            self.i += 1
            return value, True, pos
        if value == "(":
            self.take("(")
            key = self.arg()
            self.take(")")
            return key, True, pos
        return self.arg(), False, pos

    def datetime_literal(self, pos: int) -> datetime:
        """``datetime('2023-08-02T00:00:00Z')``: a timezone-aware datetime (UTC when the text has no offset)."""
        args = self.args()
        if len(args) != 1 or not isinstance(args[0], str):
            self.fail(pos, "datetime() takes one ISO 8601 string, e.g. datetime('2023-08-02T00:00:00Z')")
        try:
            found = datetime.fromisoformat(args[0])
        except ValueError:
            self.fail(pos, f"datetime() cannot read {args[0]!r}: write ISO 8601, e.g. '2023-08-02T00:00:00Z'")
        return found if found.tzinfo is not None else found.replace(tzinfo=UTC)

    def anon(self, name: str, pos: int) -> Any:
        attr = _method(name, _ANON_STEPS)
        if attr is None:
            self.fail(pos, f"unknown step {name}()")
        return getattr(__, str(attr))(*self.args())

    def predicate(self, name: str, pos: int) -> Any:
        attr = _snake(name)
        owner = TextP if name in _TEXT_PREDICATES else P
        fn = getattr(owner, attr, None) if attr in _PREDICATES or name in _TEXT_PREDICATES else None
        if fn is None:
            self.fail(pos, f"unknown predicate {name}()")
        args = self.args()
        if len(args) == 1 and isinstance(args[0], list) and attr in ("within", "without"):
            found = fn(args[0])
        else:
            found = fn(*args)
        while self.peek()[1] == "." and self.peek(1)[1] in ("and", "or") and self.peek(2)[1] == "(":
            self.take(".")
            _, conj, cpos = self.take(kind="name")
            other = self.args()
            if len(other) != 1 or not isinstance(other[0], P):
                self.fail(cpos, f"{conj}() on a predicate takes one predicate, e.g. P.gt(1).{conj}(P.lt(5))")
            found = found.and_(other[0]) if conj == "and" else found.or_(other[0])
        return found


def writes(built: Any) -> list[str]:
    """The graph-changing steps in a traversal, inner traversals included.

    >>> from gremlin_python.process.anonymous_traversal import traversal
    >>> g = traversal().with_remote(None)
    >>> writes(parse("g.V().sideEffect(__.drop()).count()", g, {})), writes(parse("g.V().count()", g, {}))
    (['drop'], [])
    >>> writes(parse("g.inject([k: [__.addV('x')]])", g, {}))
    ['addV']
    """
    found: list[str] = []
    stack = [built.bytecode]
    while stack:
        code = stack.pop()
        for name, *args in [*code.source_instructions, *code.step_instructions]:
            if name in WRITE_STEPS:
                found.append(name)
            values = list(args)
            while values:  # traversals inside lists and maps count too: [a: __.drop()]
                arg = values.pop()
                if isinstance(arg, (list, tuple, set)):
                    values.extend(arg)
                elif isinstance(arg, dict):
                    values.extend([*arg.keys(), *arg.values()])
                elif isinstance(arg, strategies.TraversalStrategy):  # SubgraphStrategy(vertices: __.addV())
                    values.extend(getattr(v, "bytecode", v) for v in arg.configuration.values())
                inner = arg if hasattr(arg, "step_instructions") else getattr(arg, "bytecode", None)
                if inner is not None:
                    stack.append(inner)
    return found


def parse(text: str, g: Any, bindings: dict[str, Any]) -> Any:
    """Build the traversal that ``text`` describes on ``g``, with ``bindings`` for bare names.

    Raises:
        GremlinSyntaxError: The text is not in the supported grammar (the message gives the column).
    """
    if not isinstance(text, str) or not text.strip():
        raise GremlinSyntaxError("empty Gremlin query", hint="e.g. rdg query \"g.V().limit(5)\"")
    try:
        return _Parser(text.strip().rstrip(";"), bindings).query(g)
    except RdgError:
        raise
    except Exception as err:  # noqa: BLE001 - a form the grammar reads but cannot build
        raise GremlinSyntaxError(f"cannot build this query: {type(err).__name__}: {err}",
                                 hint="see docs/graph.md for the Gremlin rdg query understands") from err


def parse_read_only(text: str, g: Any, bindings: dict[str, Any]) -> Any:
    """:func:`parse`, refusing a query that would change the graph.

    Raises:
        QueryWritesError: The query has a step from :data:`WRITE_STEPS`.
    """
    built = parse(text, g, bindings)
    found = writes(built)
    if found:
        raise QueryWritesError(f"this query changes the graph ({', '.join(sorted(set(found)))}) and queries are "
                               "read-only unless asked otherwise",
                               hint="add --write to `rdg query` (or write=True to Graph.query) if you mean it")
    return built
