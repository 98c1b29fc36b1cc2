"""``where``, both forms: ``where([start,] predicate)`` compares the current (or a labelled)
object with labelled ones, ``by()`` applied in turn; ``where(traversal)`` filters by a traversal
whose ``as()`` start and end name labelled objects (without labels it is plain ``filter()``).
:func:`scope_value` is how ``where`` and ``dedup`` look a label up.

>>> from gremlin_python.process.graph_traversal import __
>>> from rdg.graph.embedded.traverser import Context
>>> def run(t): return [x.obj for x in Compiler().compile(t.bytecode).apply(Context(None), iter(()))]
>>> from gremlin_python.process.traversal import P
>>> run(__.inject(1, 2, 3).as_("a").constant(2).where(P.gt("a")))
[2]
>>> run(__.inject(1, 2, 3).as_("a").constant(2).where(__.as_("a").is_(P.gt(1))))
[2, 2]
"""

from __future__ import annotations

from typing import Any, Iterator

from gremlin_python.process.traversal import P

from rdg.graph.embedded.errors import TraversalError, unsupported
from rdg.graph.embedded.predicates import Ternary, leaves, rebuild, test
from rdg.graph.embedded.steps.logic import And, Not, TernaryFilter, TraversalFilter, mark, run_test
from rdg.graph.embedded.traversal import By, Compiler, MapEntry, MapStep, Step, Traversal, step
from rdg.graph.embedded.traverser import Context, Traverser
from rdg.graph.embedded.values import NOTHING, hash_key

__all__ = ["WhereEnd", "WherePredicate", "WhereStart", "WhereTraversal", "scope_value"]


def scope_value(ctx: Context, t: Traverser, key: str) -> Any:
    """What ``key`` names for ``t``, as ``where``/``dedup`` look it up: a key of the current map,
    then a side effect, then the newest path entry with that label."""
    obj = t.obj
    if isinstance(obj, dict) and not isinstance(obj, MapEntry) and key in obj:
        return obj[key]
    if key in ctx.side_effects:
        return ctx.side_effects[key]
    found = t.select(key)
    if found:
        return found[-1]
    raise TraversalError(f"neither the map, the side effects nor the path has a '{key}' key",
                         hint=f"label a step with as('{key}') before this one")


def _is_label(s: Step) -> bool:
    return s.name == "as" and bool(getattr(s, "labels", ()))


def _select_key(leaf: P) -> str:
    if leaf.operator in ("between", "inside", "outside"):
        raise unsupported(f"where() with {leaf.operator}()")
    value = leaf.value
    if isinstance(value, (list, tuple, set, frozenset)):
        value = next(iter(value), None)
    if not isinstance(value, str):
        raise TraversalError(f"where() compares with labels, not {value!r}",
                             hint="write where(P.eq('a')) with a label given by as('a')")
    return value


class WherePredicate(TernaryFilter):
    """``where([start,] predicate)``: the current object (or the one labelled ``start``) against
    the objects the predicate's labels name; ``by()`` modulators apply in turn (start first)."""

    name = "where"

    def __init__(self, start: str | None, predicate: P) -> None:
        self.start, self.predicate = start, predicate
        self.keys = [_select_key(leaf) for leaf in leaves(predicate)]
        self.bys: list[By] = []

    def modulate(self, name: str, args: list[Any], c: Compiler) -> None:
        if name != "by":
            super().modulate(name, args, c)
        self.bys.append(By(args, c))

    def _by(self, i: int, ctx: Context, value: Any) -> Any:
        if not self.bys:
            return value
        return self.bys[i % len(self.bys)].value_of(ctx, value)

    def check(self, ctx: Context, t: Traverser) -> Ternary:
        if self.start is None:
            value = self.bys[0].value(ctx, t) if self.bys else t.obj
        else:
            value = self._by(0, ctx, scope_value(ctx, t, self.start))
        resolved = []
        for i, key in enumerate(self.keys, start=1):
            other = self._by(i, ctx, scope_value(ctx, t, key))
            if other is NOTHING:
                return False
            resolved.append(other)
        if value is NOTHING:
            return False
        found = iter(resolved)
        return test(rebuild(self.predicate, lambda leaf: P(leaf.operator, next(found), leaf.other)), value)

    def children(self) -> list[Traversal]:
        return [x for b in self.bys for x in b.children()]


class _Outer:
    """The traverser a ``where(traversal)`` is testing (what its end label is matched against)."""

    t: Traverser | None = None


class WhereStart(MapStep):
    """A ``where()`` traversal's ``as('a')`` start: the object labelled ``a``."""

    name = "where-start"

    def __init__(self, key: str) -> None:
        self.key = key

    def map(self, ctx: Context, t: Traverser) -> Any:
        return scope_value(ctx, t, self.key)


class WhereEnd(Step):
    """A ``where()`` traversal's ``as('b')`` end: keeps what equals the object labelled ``b``."""

    name = "where-end"
    streaming = True

    def __init__(self, key: str, outer: _Outer) -> None:
        self.key, self.outer = key, outer

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        wanted = None
        for t in traversers:
            ctx.tick()
            if wanted is None:
                assert self.outer.t is not None
                wanted = hash_key(scope_value(ctx, self.outer.t, self.key))
            if hash_key(t.obj) == wanted:
                yield t


def _configure(traversal: Traversal, outer: _Outer) -> None:
    """Turn a ``where()`` traversal's start and end labels into :class:`WhereStart`/:class:`WhereEnd`."""
    steps = traversal.steps
    if not steps:
        return
    first = steps[0]
    if isinstance(first, (And, Not)):
        for child in first.children():
            _configure(child, outer)
    elif _is_label(first):
        steps[0] = WhereStart(first.labels[0])
    last = steps[-1]
    if _is_label(last):
        if len(last.labels) > 1:
            raise TraversalError("the end step of a where() traversal can only have one label")
        steps[-1] = WhereEnd(last.labels[0], outer)


def _has_variables(traversal: Traversal) -> bool:
    """Whether a ``where()`` traversal starts or ends at a label (else it is a plain filter)."""
    steps = traversal.steps
    if not steps:
        return False
    first, last = steps[0], steps[-1]
    if _is_label(first) or _is_label(last) or isinstance(first, WhereStart) or isinstance(last, WhereEnd):
        return True
    if isinstance(first, WherePredicate) and first.start is not None:
        return True
    if isinstance(last, WherePredicate) and last.start is not None:
        return True
    return isinstance(first, (And, Not, WhereTraversal)) and any(_has_variables(x) for x in first.children())


class WhereTraversal(TernaryFilter):
    """``where(traversal)`` with labels: ``as('a')`` at its start begins from the object labelled
    ``a``; ``as('b')`` at its end keeps only results equal to the object labelled ``b``."""

    name = "where"
    reduces = True

    def __init__(self, child: Traversal) -> None:
        self.outer = _Outer()
        _configure(child, self.outer)
        self.child = mark(child)

    def check(self, ctx: Context, t: Traverser) -> Ternary:
        self.outer.t = t
        return run_test(ctx, self.child, t) is True

    def children(self) -> list[Traversal]:
        return [self.child]


@step("where")
def _where(c: Compiler, name: str, args: list[Any]) -> Step:
    if len(args) == 1 and c.is_traversal(args[0]):
        child = c.child(args[0])
        return WhereTraversal(child) if _has_variables(child) else TraversalFilter(child)
    if len(args) == 1 and isinstance(args[0], P):
        return WherePredicate(None, args[0])
    if len(args) == 2 and isinstance(args[0], str) and isinstance(args[1], P):
        return WherePredicate(args[0], args[1])
    raise TraversalError("where() takes a traversal, a predicate, or a label and a predicate")
