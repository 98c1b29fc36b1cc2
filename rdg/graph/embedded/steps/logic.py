"""Logical filters: ``is``, ``not``, ``and``, ``or`` (also infix: ``a.and().b``, rewritten by
:func:`infix_connectives`) and ``filter``; and :class:`TernaryFilter`, the base of every filter
whose test can be an ERROR (``has``, ``where``, the list filters...).

Gremlin's ternary logic: a predicate over values it cannot compare (``P.lt(NaN)``, a string
against a number) is an ERROR. A filter drops the traverser, but inside ``not()``, ``and()``,
``or()`` or ``where()`` the ERROR reaches the step around it (as TinkerPop's
``GremlinTypeErrorException``), so ``not(is(gt(NaN)))`` is not true either.

>>> from gremlin_python.process.graph_traversal import __
>>> from rdg.graph.embedded.traverser import Context
>>> def run(t): return [x.obj for x in Compiler().compile(t.bytecode).apply(Context(None), iter(()))]
>>> from gremlin_python.process.traversal import P
>>> run(__.inject(1, 2, 3.0, "a").is_(P.gt(1))), run(__.inject(1.0).not_(__.is_(P.gt(float("nan")))))
([2, 3.0], [])
>>> run(__.inject(5).is_(P.lt(9)).and_().is_(P.gt(1))), run(__.inject(1, 2).filter_(__.is_(2)))
([5], [2])
"""

from __future__ import annotations

from typing import Any, Iterator

from gremlin_python.process.traversal import P

from rdg.graph.embedded.errors import TraversalError, unsupported
from rdg.graph.embedded.predicates import GremlinTypeError, Ternary, test
from rdg.graph.embedded.traversal import REWRITES, Compiler, Step, Traversal, step
from rdg.graph.embedded.traverser import Context, Traverser

__all__ = ["And", "Infix", "Is", "Not", "Or", "TernaryFilter", "TraversalFilter", "infix_connectives", "mark",
           "run_test"]


class TernaryFilter(Step):
    """A filter whose test can be ERROR (``None``): dropped, or raised as
    :class:`GremlinTypeError` when the step sits directly in a child of ``not``/``and``/``or``/
    ``where``/``filter`` (:func:`mark`), so that step decides."""

    streaming = True
    """Each traverser on its own (no state across traversers)."""
    propagates = False
    """Set by :func:`mark`: an ERROR goes up to the filter around this step's traversal."""
    reduces = False
    """TinkerPop's BinaryReductionStep: an ERROR in this step's own test ends as false here."""

    def check(self, ctx: Context, t: Traverser) -> Ternary:
        raise NotImplementedError

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        for t in traversers:
            ctx.tick()
            result = self.check(ctx, t)
            if result is True:
                yield t
            elif result is None and self.propagates and not self.reduces:
                raise GremlinTypeError()


def mark(traversal: Traversal) -> Traversal:
    """Let the filters of a filter's child traversal pass their ERRORs up."""
    for s in traversal.steps:
        if isinstance(s, TernaryFilter):
            s.propagates = True
    return traversal


def run_test(ctx: Context, child: Traversal, t: Traverser) -> Ternary:
    """Whether ``child`` gives anything from ``t``; ``None`` when it ends in an ERROR."""
    try:
        return child.produces(ctx, t)
    except GremlinTypeError:
        return None


class Is(TernaryFilter):
    """``is(predicate)`` (a plain value means ``eq``)."""

    name = "is"

    def __init__(self, predicate: P) -> None:
        self.predicate = predicate

    def check(self, ctx: Context, t: Traverser) -> Ternary:
        return test(self.predicate, t.obj)


@step("is")
def _is(c: Compiler, name: str, args: list[Any]) -> Step:
    if len(args) != 1:
        raise TraversalError("is() takes one value or predicate")
    value = args[0]
    if c.is_traversal(value):
        raise unsupported("is() with a traversal")
    return Is(value if isinstance(value, P) else P.eq(value))


class Not(TernaryFilter):
    """``not(traversal)``: keeps what the traversal gives nothing for (an ERROR stays one)."""

    name = "not"

    def __init__(self, child: Traversal) -> None:
        self.child = mark(child)

    def check(self, ctx: Context, t: Traverser) -> Ternary:
        result = run_test(ctx, self.child, t)
        return None if result is None else not result

    def children(self) -> list[Traversal]:
        return [self.child]


@step("not")
def _not(c: Compiler, name: str, args: list[Any]) -> Step:
    if len(args) != 1 or not c.is_traversal(args[0]):
        raise TraversalError("not() takes one traversal")
    return Not(c.child(args[0]))


class And(TernaryFilter):
    """``and(traversals...)``: every traversal gives something (false beats ERROR beats true)."""

    name = "and"

    def __init__(self, traversals: list[Traversal]) -> None:
        self.traversals = [mark(x) for x in traversals]

    def check(self, ctx: Context, t: Traverser) -> Ternary:
        error = False
        for child in self.traversals:
            result = run_test(ctx, child, t)
            if result is False:
                return False
            error = error or result is None
        return None if error else True

    def children(self) -> list[Traversal]:
        return list(self.traversals)


class Or(And):
    """``or(traversals...)``: some traversal gives something (true beats ERROR beats false)."""

    name = "or"

    def check(self, ctx: Context, t: Traverser) -> Ternary:
        error = False
        for child in self.traversals:
            result = run_test(ctx, child, t)
            if result is True:
                return True
            error = error or result is None
        return None if error else False


class Infix(Step):
    """``a.and().b`` / ``a.or().b`` as written; :func:`infix_connectives` turns it into
    :class:`And`/:class:`Or` once the whole traversal is compiled."""

    def __init__(self, name: str) -> None:
        self.name = name

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        raise unsupported(f"an infix {self.name}() here")


@step("and", "or")
def _connective(c: Compiler, name: str, args: list[Any]) -> Step:
    if not args:
        return Infix(name)
    if not all(c.is_traversal(a) for a in args):
        raise TraversalError(f"{name}() takes traversals")
    children = [c.child(a) for a in args]
    return And(children) if name == "and" else Or(children)


def _absorbable(s: Step) -> bool:
    """A step an infix connective may take into its left side (not the traversal's start)."""
    if s.name == "inject":
        return False
    return not (s.name in ("V", "E") and getattr(s, "at_start", False))


def _split(steps: list[Step], name: str) -> list[Step]:
    marks = [i for i, s in enumerate(steps) if isinstance(s, Infix) and s.name == name]
    if not marks:
        return steps
    begin = marks[0]
    while begin > 0 and _absorbable(steps[begin - 1]):
        begin -= 1
    parts: list[list[Step]] = [steps[begin:marks[0]], []]
    for s in steps[marks[0] + 1:]:
        if isinstance(s, Infix) and s.name == name:
            parts.append([])
        else:
            parts[-1].append(s)
    if name == "or":
        return steps[:begin] + [Or([Traversal(_split(p, "and")) for p in parts])]
    return steps[:begin] + [And([Traversal(p) for p in parts])]


def infix_connectives(steps: list[Step]) -> list[Step]:
    """``a.or().b.and().c`` -> ``or(a, and(b, c))``: ``and`` binds tighter, as TinkerPop's
    ConnectiveStrategy does."""
    return _split(_split(steps, "or"), "and")


REWRITES.append(infix_connectives)


class TraversalFilter(TernaryFilter):
    """``filter(traversal)`` (and ``where(traversal)`` without labels): keeps what the traversal
    gives something for; an ERROR inside counts as nothing."""

    name = "filter"
    reduces = True

    def __init__(self, child: Traversal) -> None:
        self.child = mark(child)

    def check(self, ctx: Context, t: Traverser) -> Ternary:
        return run_test(ctx, self.child, t) is True

    def children(self) -> list[Traversal]:
        return [self.child]


@step("filter")
def _filter(c: Compiler, name: str, args: list[Any]) -> Step:
    if len(args) != 1 or not c.is_traversal(args[0]):
        raise unsupported("filter() with a lambda or predicate (give it a traversal)")
    return TraversalFilter(c.child(args[0]))
