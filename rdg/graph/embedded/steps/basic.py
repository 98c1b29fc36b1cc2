"""The small steps everything uses: ``identity``, ``constant``, ``as``, ``select``, ``path``,
``count``, ``fold``, ``unfold``, ``limit``, ``barrier`` and ``none`` (what ``iterate()`` adds)."""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from gremlin_python.process.traversal import Pop, Scope
from gremlin_python.structure.graph import Path

from rdg.graph.embedded.errors import TraversalError, unsupported
from rdg.graph.embedded.traversal import By, Compiler, FlatMapStep, MapEntry, MapStep, Step, Traversal, step
from rdg.graph.embedded.traverser import Context, Traverser
from rdg.graph.embedded.values import NOTHING

__all__ = ["Count", "Fold", "Label", "Limit", "PathStep", "Select", "Unfold"]


class Identity(Step):
    name = "identity"

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        return traversers


@step("identity", "barrier")
def _identity(c: Compiler, name: str, args: list[Any]) -> Step:
    return Identity()


class Nothing(Step):
    """``none()``: run everything before (writes happen), keep nothing."""

    name = "none"

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        for _ in traversers:
            ctx.tick()
        yield from ()


@step("none")
def _none(c: Compiler, name: str, args: list[Any]) -> Step:
    return Nothing()


class Constant(MapStep):
    name = "constant"

    def __init__(self, value: Any) -> None:
        self.value = value

    def map(self, ctx: Context, t: Traverser) -> Any:
        return self.value


@step("constant")
def _constant(c: Compiler, name: str, args: list[Any]) -> Step:
    if len(args) != 1:
        raise TraversalError("constant() takes one value")
    return Constant(args[0])


class Label(Step):
    """``as(labels...)``: name the current path entry."""

    name = "as"

    def __init__(self, labels: tuple[str, ...]) -> None:
        self.labels = labels

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        for t in traversers:
            yield t.labelled(self.labels)


@step("as")
def _as(c: Compiler, name: str, args: list[Any]) -> Step:
    if not args or not all(isinstance(a, str) for a in args):
        raise TraversalError("as() takes one or more labels")
    return Label(tuple(args))


def select_one(ctx: Context, t: Traverser, label: str, pop: Pop | None) -> Any:
    """The object labelled ``label``: from the path, then a side effect, then (a map) its key;
    :data:`NOTHING` when there is none."""
    found = t.select(label)
    if not found:
        if label in ctx.side_effects:
            return ctx.side_effects[label]
        if isinstance(t.obj, dict) and label in t.obj:
            value = t.obj[label]
            return [value] if pop == Pop.all_ else value
        return NOTHING
    if pop == Pop.all_:
        return found
    if pop == Pop.first:
        return found[0]
    if pop == Pop.mixed:
        return found[0] if len(found) == 1 else found
    return found[-1]


class Select(MapStep):
    """``select(pop?, labels...)``: one label gives its object, several give a map; ``by()``
    modulators apply to the labels in turn."""

    name = "select"

    def __init__(self, pop: Pop | None, labels: tuple[str, ...]) -> None:
        self.pop, self.labels = pop, labels
        self.bys: list[By] = []

    def modulate(self, name: str, args: list[Any], c: Compiler) -> None:
        if name != "by":
            super().modulate(name, args, c)
        self.bys.append(By(args, c))

    def _by(self, i: int) -> By | None:
        return self.bys[i % len(self.bys)] if self.bys else None

    def map(self, ctx: Context, t: Traverser) -> Any:
        values = []
        for i, label in enumerate(self.labels):
            value = select_one(ctx, t, label, self.pop)
            if value is NOTHING:
                return NOTHING
            by = self._by(i)
            if by is not None:
                value = by.value_of(ctx, value)
                if value is NOTHING:
                    return NOTHING
            values.append(value)
        if len(self.labels) == 1:
            return values[0]
        return dict(zip(self.labels, values))

    def children(self) -> list[Traversal]:
        return [x for b in self.bys for x in b.children()]


@step("select")
def _select(c: Compiler, name: str, args: list[Any]) -> Step:
    pop = None
    if args and isinstance(args[0], Pop):
        pop, args = args[0], args[1:]
    if not args or not all(isinstance(a, str) for a in args):
        raise unsupported(f"select({', '.join(map(repr, args))})")
    return Select(pop, tuple(args))


class PathStep(MapStep):
    """``path()``: every object the traverser went through, ``by()`` applied in turn."""

    name = "path"

    def __init__(self) -> None:
        self.bys: list[By] = []

    def modulate(self, name: str, args: list[Any], c: Compiler) -> None:
        if name != "by":
            super().modulate(name, args, c)
        self.bys.append(By(args, c))

    def map(self, ctx: Context, t: Traverser) -> Any:
        nodes = t.nodes()
        objects = []
        for i, n in enumerate(nodes):
            value = n.obj
            if self.bys:
                value = self.bys[i % len(self.bys)].value_of(ctx, value)
                if value is NOTHING:
                    raise TraversalError(f"path().by() gave nothing for {n.obj!r}")
            objects.append(value)
        return Path([set(n.labels) for n in nodes], objects)

    def children(self) -> list[Traversal]:
        return [x for b in self.bys for x in b.children()]


@step("path")
def _path(c: Compiler, name: str, args: list[Any]) -> Step:
    return PathStep()


def _local(args: list[Any]) -> tuple[bool, list[Any]]:
    if args and isinstance(args[0], Scope):
        return args[0] == Scope.local, args[1:]
    return False, args


class Count(Step):
    """``count()``: how many traversers (``count(local)``: the size of each collection)."""

    name = "count"

    def __init__(self, local: bool) -> None:
        self.local = local

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        if self.local:
            for t in traversers:
                obj = t.obj
                n = len(obj.objects) if isinstance(obj, Path) else (len(obj) if isinstance(obj, (list, set, dict, tuple)) else 1)
                yield t.extend(n)
            return
        n = 0
        for _ in traversers:
            ctx.tick()
            n += 1
        yield Traverser.start(n, ctx.new_sack())


@step("count")
def _count(c: Compiler, name: str, args: list[Any]) -> Step:
    local, rest = _local(args)
    if rest:
        raise TraversalError("count() takes only a scope")
    return Count(local)


class Fold(Step):
    """``fold()``: every object in one list."""

    name = "fold"

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        items = []
        for t in traversers:
            ctx.tick()
            items.append(t.obj)
        yield Traverser.start(items, ctx.new_sack())


@step("fold")
def _fold(c: Compiler, name: str, args: list[Any]) -> Step:
    if args:
        raise unsupported("fold(seed, operator)")
    return Fold()


class Unfold(FlatMapStep):
    """``unfold()``: the items of a list or set, the entries of a map; anything else as it is."""

    name = "unfold"

    def flat_map(self, ctx: Context, t: Traverser) -> Iterable[Any]:
        obj = t.obj
        if isinstance(obj, dict) and not isinstance(obj, MapEntry):
            return [MapEntry({k: v}) for k, v in obj.items()]
        if isinstance(obj, Path):
            return list(obj.objects)
        if isinstance(obj, (list, tuple, set, frozenset)):
            return list(obj)
        return (obj,)


@step("unfold")
def _unfold(c: Compiler, name: str, args: list[Any]) -> Step:
    return Unfold()


class Limit(Step):
    """``limit(n)``: the first n traversers (``limit(local, n)``: of each collection)."""

    name = "limit"

    def __init__(self, n: int, local: bool) -> None:
        self.n, self.local = n, local

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        if self.local:
            for t in traversers:
                obj = t.obj
                if isinstance(obj, dict):
                    yield t.extend(dict(list(obj.items())[:self.n]))
                elif isinstance(obj, (list, tuple)):
                    part = list(obj)[:self.n]
                    if self.n != 1:
                        yield t.extend(part)
                    elif part:
                        yield t.extend(part[0])
                else:
                    yield t
            return
        if self.n <= 0:
            return
        taken = 0
        for t in traversers:
            yield t
            taken += 1
            if taken >= self.n:
                return


@step("limit")
def _limit(c: Compiler, name: str, args: list[Any]) -> Step:
    local, rest = _local(args)
    if len(rest) != 1 or isinstance(rest[0], bool) or not isinstance(rest[0], int):
        raise TraversalError("limit() takes a number")
    return Limit(rest[0], local)
