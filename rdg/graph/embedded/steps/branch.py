"""Branching: ``union``, ``coalesce``, ``choose``, ``branch`` + ``option``, ``optional``,
``local``, and ``map``/``flatMap`` with a traversal (looping, ``repeat``, is in
:mod:`~rdg.graph.embedded.steps.repeat`).

Two kinds of children, as in TinkerPop. A *local* child (``local``, ``optional``, ``coalesce``,
``map``, ``flatMap``) starts afresh for each traverser. A *global* child (the options of
``union``/``choose``/``branch``) is one traversal that every routed traverser goes through, so a
barrier inside it (``fold()``, ``count()``) sees all of them; when no step of the options keeps
state across traversers, each traverser is routed on its own and the stream stays lazy.

>>> from gremlin_python.process.graph_traversal import __
>>> from rdg.graph.embedded.traversal import Compiler
>>> code = __.union(__.identity(), __.constant(1)).coalesce(__.out(), __.identity()).bytecode
>>> [s.name for s in Compiler().compile(code).steps]
['union', 'coalesce']
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Callable, Iterable, Iterator

from gremlin_python.process.traversal import P, Pick

from rdg.graph.embedded.errors import TraversalError, unsupported
from rdg.graph.embedded.predicates import holds
from rdg.graph.embedded.traversal import (
    Compiler, FilterStep, FlatMapStep, MapStep, SideEffectStep, Step, Traversal, step,
)
from rdg.graph.embedded.traverser import Context, Traverser
from rdg.graph.embedded.values import NOTHING, equals

__all__ = ["Branch", "Coalesce", "Local", "Optional", "Union", "child_traversal", "streams"]

_PER_TRAVERSER = (MapStep, FlatMapStep, FilterStep, SideEffectStep)
_PLAIN_STEPS = frozenset({"identity", "as"})


def step_streams(s: Step) -> bool:
    """Whether ``s`` treats each traverser on its own (no barrier, no state across traversers)."""
    flag = getattr(s, "streaming", None)
    if isinstance(flag, bool):
        return flag
    for base in _PER_TRAVERSER:
        if isinstance(s, base):
            return type(s).apply is base.apply
    return s.name in _PLAIN_STEPS and type(s).__module__.endswith(".basic")


def streams(traversal: Traversal) -> bool:
    """Whether every step of ``traversal`` treats each traverser on its own."""
    return all(step_streams(s) for s in traversal.steps)


def child_traversal(c: Compiler, arg: Any, name: str) -> Traversal:
    """``arg`` compiled as a child traversal of ``name()`` (a lambda or a plain value is refused)."""
    if not c.is_traversal(arg):
        raise unsupported(f"{name}({arg!r}) (a lambda or a value where a traversal is expected)")
    return c.child(arg)


def _route(ctx: Context, traversers: Iterator[Traverser], options: list[Traversal],
           targets: Callable[[Traverser], list[Traversal]]) -> Iterator[Traverser]:
    """Send each traverser through the option traversals ``targets`` picks for it (global
    children: run together when one of them holds state across traversers)."""
    if all(streams(o) for o in options):
        for t in traversers:
            ctx.tick()
            for option in targets(t):
                yield from option.run_from(ctx, t)
        return
    routed: dict[int, list[Traverser]] = {id(o): [] for o in options}
    for t in traversers:
        ctx.tick()
        for option in targets(t):
            routed[id(option)].append(t)
    for option in options:
        if routed[id(option)]:
            yield from option.apply(ctx, iter(routed[id(option)]))


# -- union, choose, branch -----------------------------------------------------------------------
class _Starter:
    """The object of the traverser ``g.union(...)`` starts its children with (never a result)."""

    def __repr__(self) -> str:
        return "UNION_STARTER"


_STARTER = _Starter()


class Union(Step):
    """``union(traversals...)``: every traverser through each child, results in turn; at the
    start (``g.union(...)``) the children start the traversal themselves."""

    name = "union"

    def __init__(self, options: list[Traversal], at_start: bool) -> None:
        self.options = options
        self.at_start = at_start

    @property
    def streaming(self) -> bool:
        return all(streams(o) for o in self.options)

    def children(self) -> list[Traversal]:
        return list(self.options)

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        source = iter((Traverser(_STARTER, None, (), ctx.new_sack()),)) if self.at_start else traversers
        for r in _route(ctx, source, self.options, lambda t: self.options):
            if r.obj is not _STARTER:
                yield r


@step("union")
def _union(c: Compiler, name: str, args: list[Any]) -> Step:
    at_start = c.at_start
    return Union([child_traversal(c, a, "union") for a in args], at_start)


def _is_pick(value: Any, pick: str) -> bool:
    return isinstance(value, Pick) and value.name.rstrip("_") == pick


class Branch(Step):
    """``branch(traversal)`` / ``choose(traversal)`` with ``option(token, traversal)``: the first
    value of the traversal picks the options whose token equals it (a ``P`` token: holds for it; a
    traversal token: gives something from it); ``Pick.none`` when none does, ``Pick.any`` always
    (``branch`` only). ``choose(test, a, b)`` is the same with the options ``true`` and ``false``."""

    def __init__(self, name: str, choice: Callable[[Context, Traverser], Any], tests: list[Traversal],
                 *, fixed: bool = False) -> None:
        self.name = name
        self.choice = choice
        self.tests = tests
        self.fixed = fixed
        """Built from ``choose(test, a, b)``: no ``option()`` may follow."""
        self.options: list[tuple[Any, Traversal]] = []
        self.token_tests: dict[int, Traversal] = {}

    @property
    def streaming(self) -> bool:
        return all(streams(o) for _, o in self.options)

    def children(self) -> list[Traversal]:
        return self.tests + list(self.token_tests.values()) + [o for _, o in self.options]

    def add_option(self, token: Any, option: Traversal, c: Compiler) -> None:
        if self.name == "choose" and _is_pick(token, "any"):
            raise TraversalError("choose() cannot take option(Pick.any): only one option applies per traverser")
        if self.name == "choose" and _is_pick(token, "none") and any(_is_pick(k, "none") for k, _ in self.options):
            raise TraversalError("choose() takes one option(Pick.none) at most")
        if c.is_traversal(token):
            self.token_tests[len(self.options)] = c.child(token)
        elif isinstance(token, Enum) and not isinstance(token, Pick):
            raise unsupported(f"option({token!r}, ...) after {self.name}()")
        self.options.append((token, option))

    def modulate(self, name: str, args: list[Any], c: Compiler) -> None:
        if name != "option" or self.fixed:
            super().modulate(name, args, c)
        if len(args) != 2:
            raise unsupported(f"option() with {len(args)} argument(s) after {self.name}()")
        self.add_option(args[0], child_traversal(c, args[1], "option"), c)

    def _matches(self, ctx: Context, i: int, token: Any, value: Any) -> bool:
        test = self.token_tests.get(i)
        if test is not None:
            return test.produces(ctx, Traverser.start(value))
        if isinstance(token, P):
            return holds(token, value)
        return equals(value, token) or (value is None and token is None)

    def targets(self, ctx: Context, t: Traverser) -> list[Traversal]:
        value = self.choice(ctx, t)
        chosen = [o for i, (k, o) in enumerate(self.options)
                  if not isinstance(k, Pick) and self._matches(ctx, i, k, value)]
        if not chosen:
            chosen = [o for k, o in self.options if _is_pick(k, "none")]
        return chosen + [o for k, o in self.options if _is_pick(k, "any")]

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        options = [o for _, o in self.options]
        return _route(ctx, traversers, options, lambda t: self.targets(ctx, t))


def _first_value(name: str, test: Traversal) -> Callable[[Context, Traverser], Any]:
    def choice(ctx: Context, t: Traverser) -> Any:
        value = test.first(ctx, t)
        if value is NOTHING:
            raise TraversalError(f"the traversal of {name}() gave no value for {t.obj!r} to pick an option with")
        return value
    return choice


@step("branch")
def _branch(c: Compiler, name: str, args: list[Any]) -> Step:
    if len(args) != 1:
        raise TraversalError("branch() takes one traversal")
    test = child_traversal(c, args[0], "branch")
    return Branch("branch", _first_value("branch", test), [test])


@step("choose")
def _choose(c: Compiler, name: str, args: list[Any]) -> Step:
    if len(args) == 1:
        test = child_traversal(c, args[0], "choose")
        return Branch("choose", _first_value("choose", test), [test])
    if len(args) not in (2, 3):
        raise TraversalError("choose() takes a traversal, or a test and one or two traversals")
    tests: list[Traversal] = []
    if isinstance(args[0], P):
        predicate = args[0]
        choice: Callable[[Context, Traverser], Any] = lambda ctx, t: holds(predicate, t.obj)  # noqa: E731
    else:
        test = child_traversal(c, args[0], "choose")
        tests.append(test)
        choice = lambda ctx, t: test.produces(ctx, t)  # noqa: E731
    b = Branch("choose", choice, tests, fixed=True)
    b.add_option(True, child_traversal(c, args[1], "choose"), c)
    b.add_option(False, child_traversal(c, args[2], "choose") if len(args) == 3 else Traversal([]), c)
    return b


# -- local children ------------------------------------------------------------------------------
class Coalesce(FlatMapStep):
    """``coalesce(traversals...)``: the results of the first child that gives any."""

    name = "coalesce"

    def __init__(self, options: list[Traversal]) -> None:
        self.options = options

    def children(self) -> list[Traversal]:
        return list(self.options)

    def flat_map(self, ctx: Context, t: Traverser) -> Iterable[Any]:
        for option in self.options:
            results = option.run_from(ctx, t)
            first = next(results, None)
            if first is not None:
                yield first.obj
                for r in results:
                    yield r.obj
                return


@step("coalesce")
def _coalesce(c: Compiler, name: str, args: list[Any]) -> Step:
    return Coalesce([child_traversal(c, a, "coalesce") for a in args])


class Optional(Step):
    """``optional(traversal)``: the child's traversers, or the traverser itself when it gives none."""

    name = "optional"
    streaming = True

    def __init__(self, option: Traversal) -> None:
        self.option = option

    def children(self) -> list[Traversal]:
        return [self.option]

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        for t in traversers:
            ctx.tick()
            results = self.option.run_from(ctx, t)
            first = next(results, None)
            if first is None:
                yield t
                continue
            yield first
            yield from results


@step("optional")
def _optional(c: Compiler, name: str, args: list[Any]) -> Step:
    if len(args) != 1:
        raise TraversalError("optional() takes one traversal")
    return Optional(child_traversal(c, args[0], "optional"))


class Local(Step):
    """``local(traversal)``: the child runs for each traverser on its own (a ``limit``,
    ``order`` or ``count`` inside sees one traverser's results only)."""

    name = "local"
    streaming = True

    def __init__(self, child: Traversal) -> None:
        self.child = child

    def children(self) -> list[Traversal]:
        return [self.child]

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        for t in traversers:
            ctx.tick()
            yield from self.child.run_from(ctx, t)


@step("local")
def _local(c: Compiler, name: str, args: list[Any]) -> Step:
    if len(args) != 1:
        raise TraversalError("local() takes one traversal")
    return Local(child_traversal(c, args[0], "local"))


class MapTraversal(MapStep):
    """``map(traversal)``: the child's first result (none: the traverser is dropped)."""

    name = "map"

    def __init__(self, child: Traversal) -> None:
        self.child = child

    def children(self) -> list[Traversal]:
        return [self.child]

    def map(self, ctx: Context, t: Traverser) -> Any:
        return self.child.first(ctx, t)


class FlatMapTraversal(FlatMapStep):
    """``flatMap(traversal)``: every result of the child."""

    name = "flatMap"

    def __init__(self, child: Traversal) -> None:
        self.child = child

    def children(self) -> list[Traversal]:
        return [self.child]

    def flat_map(self, ctx: Context, t: Traverser) -> Iterable[Any]:
        return (r.obj for r in self.child.run_from(ctx, t))


@step("map", "flatMap")
def _map(c: Compiler, name: str, args: list[Any]) -> Step:
    if len(args) != 1:
        raise TraversalError(f"{name}() takes one traversal")
    child = child_traversal(c, args[0], name)
    return MapTraversal(child) if name == "map" else FlatMapTraversal(child)
