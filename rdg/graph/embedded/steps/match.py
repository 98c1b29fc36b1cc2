"""``match()``: declarative patterns over labelled objects.

Each pattern starts with ``as('x')`` (the object bound to ``x``) and may end with ``as('y')``: an
unbound ``y`` is bound to each result, a bound one must equal it. A pattern without an end label
keeps the traverser once per result. ``and(...)``/``or(...)`` (also written infix) group patterns,
``not(pattern)`` and ``where(...)`` filter. A pattern runs once every label it needs is bound
(its start label, and the labels a ``where()`` inside it compares with), so the answer does not
depend on the order the patterns are written in. The incoming object is bound to the match's
start label (the start label no pattern ends with) unless its path already holds a start label;
each solution is a map of every start and end label to its object, and the path keeps the
labels, so ``select()`` after ``match()`` sees them.

>>> from gremlin_python.process.graph_traversal import __
>>> from rdg.graph.embedded.traversal import Compiler
>>> m = Compiler().compile(__.match(__.as_("a").out().as_("b"), __.as_("b").out().as_("c")).bytecode).steps[0]
>>> m.start_label, sorted(m.labels)
('a', ['a', 'b', 'c'])
"""

from __future__ import annotations

from typing import Any, Iterator

from gremlin_python.process.traversal import P, Bytecode

from rdg.graph.embedded.errors import TraversalError, unsupported
from rdg.graph.embedded.predicates import holds
from rdg.graph.embedded.traversal import Compiler, Step, Traversal, resolve, step
from rdg.graph.embedded.traverser import Context, Traverser
from rdg.graph.embedded.values import equals

__all__ = ["Match"]

Instruction = list[Any]


def _bound(cur: Traverser) -> set[str]:
    out: set[str] = set()
    node = cur.path
    while node is not None:
        out |= node.labels
        node = node.parent
    return out


def _value(cur: Traverser, label: str) -> Any:
    found = cur.select(label)
    if not found:
        raise TraversalError(f"match(): the label '{label}' is not bound yet")
    return found[-1]


def _bind(cur: Traverser, label: str, obj: Any) -> Traverser:
    return cur.extend(obj).labelled((label,))


def _code(arg: Any) -> Bytecode | None:
    code = arg if isinstance(arg, Bytecode) else getattr(arg, "bytecode", None)
    return code if isinstance(code, Bytecode) else None


def _p_labels(p: P) -> set[str]:
    out: set[str] = set()
    for v in (p.value, p.other):
        v = resolve(v)
        if isinstance(v, P):
            out |= _p_labels(v)
        elif isinstance(v, str):
            out.add(v)
        elif isinstance(v, (list, tuple)):
            out |= {x for x in v if isinstance(x, str)}
    return out


def _as_labels(ins: list[Instruction]) -> set[str]:
    out: set[str] = set()
    for name, *args in ins:
        if name == "as":
            out |= {a for a in args if isinstance(a, str)}
        for a in args:
            code = _code(a)
            if code is not None:
                out |= _as_labels(code.step_instructions)
    return out


def _where_refs(ins: list[Instruction]) -> set[str]:
    """Labels the ``where()`` steps anywhere in ``ins`` compare with."""
    out: set[str] = set()
    for name, *args in ins:
        for a in args:
            a = resolve(a)
            code = _code(a)
            if name == "where":
                if isinstance(a, str):
                    out.add(a)
                elif isinstance(a, P):
                    out |= _p_labels(a)
                elif code is not None:
                    out |= _as_labels(code.step_instructions)
            if code is not None:
                out |= _where_refs(code.step_instructions)
    return out


# -- patterns ------------------------------------------------------------------------------------
class Pattern:
    """One pattern of a ``match()``."""

    def starts(self) -> set[str]:
        return set()

    def ends(self) -> set[str]:
        """The labels this pattern binds (or checks)."""
        return set()

    def mentions(self) -> set[str]:
        return self.starts() | self.ends()

    def needs(self, ends: set[str]) -> set[str]:
        """Labels bound before it runs (``ends``: every end label of the match)."""
        return self.starts()

    def solve(self, ctx: Context, cur: Traverser, ends: set[str]) -> Iterator[Traverser]:
        raise NotImplementedError


class Simple(Pattern):
    """``as('x')...as('y')``."""

    def __init__(self, start: str, body: Traversal, end: str | None, refs: set[str]) -> None:
        self.start, self.body, self.end, self.refs = start, body, end, refs

    def starts(self) -> set[str]:
        return {self.start}

    def ends(self) -> set[str]:
        return {self.end} if self.end is not None else set()

    def mentions(self) -> set[str]:
        return self.starts() | self.ends() | self.refs

    def needs(self, ends: set[str]) -> set[str]:
        return ({self.start} | (self.refs & ends)) - self.ends()

    def solve(self, ctx: Context, cur: Traverser, ends: set[str]) -> Iterator[Traverser]:
        start = cur.extend(_value(cur, self.start))
        for r in self.body.run_from(ctx, start):
            ctx.tick()
            if self.end is None:
                yield cur
            elif not cur.select(self.end):
                yield _bind(cur, self.end, r.obj)
            elif equals(r.obj, _value(cur, self.end)):
                yield cur


class Group(Pattern):
    """``and(patterns...)`` (every one holds) or ``or(patterns...)`` (the solutions of each)."""

    def __init__(self, either: bool, parts: list[Pattern]) -> None:
        self.either, self.parts = either, parts

    def starts(self) -> set[str]:
        return set().union(*(p.starts() for p in self.parts))

    def ends(self) -> set[str]:
        return set().union(*(p.ends() for p in self.parts))

    def mentions(self) -> set[str]:
        return set().union(*(p.mentions() for p in self.parts))

    def needs(self, ends: set[str]) -> set[str]:
        needed = set().union(*(p.needs(ends) for p in self.parts))
        return needed if self.either else needed - self.ends()

    def solve(self, ctx: Context, cur: Traverser, ends: set[str]) -> Iterator[Traverser]:
        if self.either:
            for part in self.parts:
                yield from solve_all(ctx, [part], cur, ends)
        else:
            yield from solve_all(ctx, self.parts, cur, ends)


class Not(Pattern):
    """``not(pattern)``: holds when the pattern has no solution."""

    def __init__(self, inner: Pattern) -> None:
        self.inner = inner

    def needs(self, ends: set[str]) -> set[str]:
        return self.inner.mentions()

    def solve(self, ctx: Context, cur: Traverser, ends: set[str]) -> Iterator[Traverser]:
        for _ in solve_all(ctx, [self.inner], cur, ends):
            return
        yield cur


class WhereTraversal(Not):
    """``where(pattern)``: holds (once) when the pattern has a solution."""

    def solve(self, ctx: Context, cur: Traverser, ends: set[str]) -> Iterator[Traverser]:
        for _ in solve_all(ctx, [self.inner], cur, ends):
            yield cur
            return


class WherePredicate(Pattern):
    """``where('a', P.neq('b'))``: the predicate, its labels replaced by their objects."""

    def __init__(self, start: str, predicate: P) -> None:
        self.start, self.predicate = start, predicate

    def needs(self, ends: set[str]) -> set[str]:
        return {self.start} | _p_labels(self.predicate)

    mentions = needs  # type: ignore[assignment]

    def _bind_p(self, cur: Traverser, p: P) -> P:
        def value(v: Any) -> Any:
            v = resolve(v)
            if isinstance(v, P):
                return self._bind_p(cur, v)
            if isinstance(v, str):
                return _value(cur, v)
            if isinstance(v, (list, tuple)):
                return [_value(cur, x) if isinstance(x, str) else x for x in v]
            return v
        return P(p.operator, value(p.value), value(p.other) if p.other is not None else None)

    def solve(self, ctx: Context, cur: Traverser, ends: set[str]) -> Iterator[Traverser]:
        if holds(self._bind_p(cur, self.predicate), _value(cur, self.start)):
            yield cur


def solve_all(ctx: Context, patterns: list[Pattern], cur: Traverser, ends: set[str]) -> Iterator[Traverser]:
    """Every way ``patterns`` all hold from the bindings on ``cur``'s path (filters first, then
    the first pattern whose labels are bound)."""
    if not patterns:
        yield cur
        return
    bound = _bound(cur)
    ready = [p for p in patterns if p.needs(ends) <= bound]
    if not ready:
        missing = sorted(set().union(*(p.needs(ends) for p in patterns)) - bound)
        raise TraversalError(f"match() cannot go on: no remaining pattern can start, the labels {missing} are never bound")
    checks = [p for p in ready if p.ends() <= bound]
    chosen = checks[0] if checks else ready[0]
    rest = [p for p in patterns if p is not chosen]
    for nxt in chosen.solve(ctx, cur, ends):
        yield from solve_all(ctx, rest, nxt, ends)


# -- building patterns from bytecode -------------------------------------------------------------
def _split(ins: list[Instruction], word: str) -> list[list[Instruction]]:
    parts: list[list[Instruction]] = [[]]
    for i in ins:
        if i[0] == word and len(i) == 1:
            parts.append([])
        else:
            parts[-1].append(i)
    return parts


def _pattern_of(c: Compiler, arg: Any) -> Pattern:
    code = _code(arg)
    if code is None:
        raise TraversalError(f"match() takes traversals as patterns, not {arg!r}")
    return _pattern(c, [[i[0], *[resolve(a) for a in i[1:]]] for i in code.step_instructions])


def _pattern(c: Compiler, ins: list[Instruction]) -> Pattern:
    for word in ("or", "and"):
        parts = _split(ins, word)
        if len(parts) > 1:
            if any(not p for p in parts):
                raise TraversalError(f"{word}() in a match() pattern needs patterns on both sides")
            return Group(word == "or", [_pattern(c, p) for p in parts])
    if not ins:
        raise TraversalError("match() got an empty pattern")
    name, args = ins[0][0], ins[0][1:]
    if name in ("and", "or", "not", "where") and len(ins) > 1:
        raise unsupported(f"a match() pattern with steps after {name}()")
    if name in ("and", "or"):
        return Group(name == "or", [_pattern_of(c, a) for a in args])
    if name == "not" and len(args) == 1:
        return Not(_pattern_of(c, args[0]))
    if name == "where":
        if len(args) == 2 and isinstance(args[0], str) and isinstance(args[1], P):
            return WherePredicate(args[0], args[1])
        if len(args) == 1 and c.is_traversal(args[0]):
            return WhereTraversal(_pattern_of(c, args[0]))
        raise unsupported("this where() form as a match() pattern")
    if name != "as" or len(args) != 1 or not isinstance(args[0], str):
        raise TraversalError("each match() pattern must start with as('label') (or be and/or/not/where)")
    body, end = ins[1:], None
    if body and body[-1][0] == "as":
        if len(body[-1]) != 2:
            raise TraversalError("a match() pattern ends with as() of one label at most")
        end, body = body[-1][1], body[:-1]
    code = Bytecode()
    code.step_instructions = [list(i) for i in body]
    compiled = c.compile(code)
    _refuse_shared_state(compiled)
    return Simple(args[0], compiled, end, _where_refs(body))


_STATEFUL = frozenset({"dedup", "limit", "range", "skip", "tail", "sample"})


def _refuse_shared_state(body: Traversal) -> None:
    """TinkerPop runs a pattern without a barrier as one traversal for every traverser, so a
    ``limit()``/``dedup()`` in it counts across all of them; this match runs each on its own."""
    if any(getattr(s, "barrier", False) and s.name != "barrier" for s in body.steps):
        return
    for s in body.steps:
        if s.name in _STATEFUL and getattr(s, "streaming", True) is False:
            raise unsupported(f"{s.name}() in a match() pattern without a barrier (TinkerPop shares its state "
                              "across traversers)")


def _traversals(p: Pattern) -> list[Traversal]:
    if isinstance(p, Simple):
        return [p.body]
    if isinstance(p, Group):
        return [t for part in p.parts for t in _traversals(part)]
    if isinstance(p, Not):
        return _traversals(p.inner)
    return []


class Match(Step):
    """``match(patterns...)``: each solution as a map of the match's labels."""

    name = "match"
    streaming = True

    def __init__(self, patterns: list[Pattern]) -> None:
        self.patterns = patterns
        self.ends = set().union(*(p.ends() for p in patterns))
        self.labels = set().union(*(p.starts() for p in patterns)) | self.ends
        self.start_label = self._start_label()

    def _start_label(self) -> str | None:
        for p in self.patterns:
            for label in sorted(p.needs(self.ends)):
                if label not in self.ends:
                    return label
        for p in self.patterns:
            for label in sorted(p.starts()):
                return label
        return None

    def children(self) -> list[Traversal]:
        return [t for p in self.patterns for t in _traversals(p)]

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        starts = set().union(*(p.starts() for p in self.patterns))
        for t in traversers:
            ctx.tick()
            cur = t
            if self.start_label is not None and not (_bound(t) & starts):
                cur = t.labelled((self.start_label,))
            for solution in solve_all(ctx, self.patterns, cur, self.ends):
                yield solution.extend(self._bindings(solution))

    def _bindings(self, cur: Traverser) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for node in cur.nodes():
            for label in node.labels:
                if label in self.labels:
                    found[label] = node.obj
        return found


@step("match")
def _match(c: Compiler, name: str, args: list[Any]) -> Step:
    if not args:
        raise TraversalError("match() takes one or more patterns")
    return Match([_pattern_of(c, a) for a in args])
