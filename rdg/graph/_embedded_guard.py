"""What the embedded graph may run: every traversal is checked before gremlite sees it.

gremlite (the embedded Gremlin engine) answers some traversals wrongly without an error:
predicates it does not evaluate match nothing, ``repeat().times()`` loses traversers, a
traversal that adds while it reads never ends. A wrong answer is worse than a refusal, so the
embedded graph runs only steps and arguments that TinkerPop's own feature suite shows it gets
right (``tests/graph/tinkerpop``: every scenario passes or is refused here, none answers
differently) and refuses the rest with the step's name. This guards both entry points: the
text of ``rdg query`` and ``Graph.g`` bytecode.

>>> from gremlin_python.process.anonymous_traversal import traversal
>>> from gremlin_python.process.traversal import P
>>> g = traversal().with_remote(None)
>>> check(g.V().has("name", P.within("a", "b")).out("knows").values("name").bytecode)
>>> check(g.V().has("age", P.neq(27)).bytecode)
Traceback (most recent call last):
...
rdg.graph._embedded_guard.EmbeddedUnsupportedError: the embedded graph cannot evaluate the predicate neq() (hint: use JanusGraph (--set gremlin_url=ws://127.0.0.1:8182/gremlin), or filter in Python)
>>> check(g.V().repeat(__.out()).times(2).bytecode)
Traceback (most recent call last):
...
rdg.graph._embedded_guard.EmbeddedUnsupportedError: the embedded graph does not support the step times() (hint: use JanusGraph (--set gremlin_url=ws://127.0.0.1:8182/gremlin), or rewrite the query without it)
"""

from __future__ import annotations

from typing import Any

from gremlin_python.process.graph_traversal import __
from gremlin_python.process.traversal import Bytecode, Cardinality, P

from rdg.errors import RdgError

__all__ = ["ALLOWED_STEPS", "JANUSGRAPH", "EmbeddedUnsupportedError", "GuardedConnection", "check"]

JANUSGRAPH = "JanusGraph (--set gremlin_url=ws://127.0.0.1:8182/gremlin)"
"""Where to go for what the embedded graph refuses: the one spelling every hint uses."""
_JANUS = f"use {JANUSGRAPH}"

ALLOWED_STEPS = frozenset({
    # starts and moves
    "V", "E", "out", "in", "both", "outE", "inE", "bothE", "outV", "inV", "bothV", "otherV",
    # filters and values
    "has", "hasLabel", "limit", "values", "value", "properties", "valueMap", "elementMap", "id", "label",
    "where", "and", "or", "not", "coalesce", "union", "simplePath", "emit", "until", "repeat",
    # shapes and aggregates
    "as", "select", "project", "by", "path", "order", "count", "fold", "unfold", "constant", "flatMap",
    "barrier", "store", "cap",
    # writes
    "addV", "addE", "from", "to", "property", "drop",
    # what .iterate() appends: discard every result
    "none",
})
"""Steps gremlite answers as TinkerGraph does, in the forms :func:`check` lets through."""

_PREDICATES = frozenset({"within", "eq", "containing", "startingWith", "endingWith", "gt", "gte", "lt", "lte"})
"""Predicates gremlite evaluates (number comparisons are refused earlier, by the text parser)."""


class EmbeddedUnsupportedError(RdgError):
    """The embedded graph cannot run this Gremlin step or argument."""


def _refuse_step(name: str) -> EmbeddedUnsupportedError:
    return EmbeddedUnsupportedError(f"the embedded graph does not support the step {name}()",
                                    hint=f"{_JANUS}, or rewrite the query without it")


def _refuse(what: str) -> EmbeddedUnsupportedError:
    return EmbeddedUnsupportedError(f"the embedded graph cannot run {what}", hint=f"{_JANUS}, or rewrite the query")


def _inner(arg: Any) -> Bytecode | None:
    found = getattr(arg, "bytecode", arg)
    return found if isinstance(found, Bytecode) else None


def _check_predicate(p: P) -> None:
    if p.operator not in _PREDICATES:
        raise EmbeddedUnsupportedError(f"the embedded graph cannot evaluate the predicate {p.operator}()",
                                       hint=f"{_JANUS}, or filter in Python")
    for value in (p.value, p.other):
        if isinstance(value, P):
            _check_predicate(value)
    if p.value is None and p.operator != "within":
        raise _refuse(f"{p.operator}(null)")
    if p.operator == "within" and (p.value is None or (isinstance(p.value, list) and not p.value)):
        raise _refuse("within() without values")


def check(bytecode: Bytecode, *, nested: bool = False) -> None:
    """Raise :class:`EmbeddedUnsupportedError` unless every step of ``bytecode`` (and of every
    traversal inside it) is one the embedded graph answers truthfully.

    Args:
        nested: ``bytecode`` is an anonymous traversal inside another step.
    """
    if bytecode.source_instructions and not nested:
        names = ", ".join(ins[0] for ins in bytecode.source_instructions)
        raise _refuse(f"traversal source options ({names})")
    steps = bytecode.step_instructions
    scans_vertices = scans_edges = False  # an earlier step reads every vertex / edges as it goes
    keys_set: set[Any] = set()
    for i, ins in enumerate(steps):
        name, args = ins[0], ins[1:]
        if name not in ALLOWED_STEPS:
            raise _refuse_step(name)
        following_by = 0
        for later in steps[i + 1:]:
            if later[0] != "by":
                break
            following_by += 1
        if name == "addV" and scans_vertices or name == "addE" and scans_edges:
            raise _refuse(f"{name}() after a step that reads every {'vertex' if name == 'addV' else 'edge'} "
                          "(gremlite would read what it adds, without end)")
        scans_vertices |= name == "V" and not args
        scans_edges |= name == "E" and not args or name in ("outE", "inE", "bothE")
        if name == "property":
            if any(isinstance(a, Cardinality) for a in args):
                raise _refuse("property() with a cardinality")
            if any(isinstance(a, (dict, list, set)) for a in args):
                raise _refuse("property() with a map or a list")
            if len(args) >= 2 and args[1] is None:
                raise _refuse("property() with a null value (removing a property)")
            if args and args[0] in keys_set:
                raise _refuse(f"property({args[0]!r}) set twice in one traversal")
            if args:
                keys_set.add(args[0])
        if name == "union" and i == 0 and not nested:
            raise _refuse("union() as the first step (gremlite loses where each branch starts)")
        if name == "constant" and args and args[0] is None:
            raise _refuse("constant(null)")
        if name in ("path", "valueMap", "elementMap", "select") and following_by > 1:
            raise _refuse(f"{name}() with more than one by() modulator")
        if name == "id" and any(s[0] == "properties" for s in steps[:i]):
            raise _refuse("the ids of properties")
        if name == "order":
            for later in steps[i + 1:i + 1 + following_by]:
                if any(_inner(a) is not None for a in later[1:]):
                    raise _refuse("order().by() with a traversal")
                if any(isinstance(a, str) for a in later[1:]):  # gremlite drops what lacks the key
                    raise _refuse("order().by() a property key (elements without it are dropped)")
        if name in ("where", "and", "or", "not"):
            for a in args:
                inner = _inner(a)
                if inner is not None and inner.step_instructions and inner.step_instructions[0][0] == "as":
                    raise _refuse(f"{name}() matching step labels (as(...) inside it)")
        for a in args:
            if isinstance(a, P):
                _check_predicate(a)
            inner = _inner(a)
            if inner is not None:
                check(inner, nested=True)


class GuardedConnection:
    """gremlite's remote connection with :func:`check` in front of every traversal."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def submit(self, bytecode: Bytecode) -> Any:
        check(bytecode)
        return self._inner.submit(bytecode)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


_ = __  # the doctest's anonymous traversals
