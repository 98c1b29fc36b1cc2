"""Steps that build maps and other structures from a traverser: ``select`` (labels, a child
traversal, ``Column.keys``/``values``), ``path`` (with ``from()``/``to()``/``by()``),
``project`` and ``index``; ``group``/``groupCount`` are in
:mod:`~rdg.graph.embedded.steps.group`, ``math`` in :mod:`~rdg.graph.embedded.steps.math`
(which shares :func:`select_one` and :class:`Ring`).

An unproductive ``by()`` (one that gives nothing) drops the traverser (``select``, ``path``)
or skips the key (``project``).

>>> from gremlin_python.process.anonymous_traversal import traversal
>>> from gremlin_python.process.graph_traversal import __
>>> from rdg.graph.embedded.engine import EmbeddedConnection
>>> from rdg.graph.embedded.store import Store
>>> g = traversal().with_remote(EmbeddedConnection(Store.open(":memory:")))
>>> g.inject(3).project("n", "none").by(__.identity()).by(__.is_(4)).next()
{'n': 3}
>>> g.inject(1).as_("a").map(__.constant(2)).path().next(), g.inject(["x", "y"]).index().next()
(path[1, 2], [['x', 0], ['y', 1]])
"""

from __future__ import annotations

from typing import Any

from gremlin_python.process.traversal import Column, Pop
from gremlin_python.structure.graph import Path

from rdg.graph.embedded.errors import TraversalError
from rdg.graph.embedded.traversal import By, Compiler, MapEntry, MapStep, Step, Traversal, column_of, step
from rdg.graph.embedded.traverser import Context, Traverser
from rdg.graph.embedded.values import NOTHING

__all__ = ["Index", "PathStep", "Project", "Ring", "Select", "select_one"]


# -- scope values ------------------------------------------------------------------------------
def select_one(ctx: Context, t: Traverser, label: Any, pop: Pop | None) -> Any:
    """The value ``label`` names for ``t``: a key of the current map, then a side effect, then a
    path label (``pop`` picks among several; ``None`` means the last); :data:`NOTHING` if none."""
    obj = t.obj
    if isinstance(obj, dict) and not isinstance(obj, MapEntry):
        try:
            if label in obj:
                return obj[label]
        except TypeError:
            pass
    if not isinstance(label, str):
        return NOTHING
    if label in ctx.side_effects:
        return ctx.side_effects[label]
    found = t.select(label)
    if not found:
        return NOTHING
    if pop == Pop.all_:
        return found
    if pop == Pop.first:
        return found[0]
    if pop == Pop.mixed:
        return found[0] if len(found) == 1 else found
    return found[-1]


class Ring:
    """``by()`` modulators taken in turn (none: identity)."""

    def __init__(self) -> None:
        self.bys: list[By] = []

    def add(self, args: list[Any], c: Compiler) -> None:
        self.bys.append(By(args, c))

    def get(self, i: int) -> By | None:
        return self.bys[i % len(self.bys)] if self.bys else None

    def value_of(self, ctx: Context, i: int, obj: Any) -> Any:
        by = self.get(i)
        return obj if by is None else by.value_of(ctx, obj)

    def value(self, ctx: Context, i: int, t: Traverser) -> Any:
        by = self.get(i)
        return t.obj if by is None else by.value(ctx, t)

    def children(self) -> list[Traversal]:
        return [x for b in self.bys for x in b.children()]


# -- select --------------------------------------------------------------------------------------
class Select(MapStep):
    """``select(pop?, labels...)``: one label gives its value, several a map (``by()`` in turn,
    an unproductive one drops the traverser); ``select(traversal)`` takes the label from a child
    traversal; ``select(Column.keys|values)`` the keys or values of a map or path."""

    name = "select"

    def __init__(self, pop: Pop | None, labels: tuple[Any, ...] = (), *, key: Traversal | None = None,
                 column: Column | None = None) -> None:
        self.pop, self.labels, self.key, self.column = pop, labels, key, column
        self.ring = Ring()

    def modulate(self, name: str, args: list[Any], c: Compiler) -> None:
        if name != "by" or self.column is not None:
            super().modulate(name, args, c)
        self.ring.add(args, c)

    def map(self, ctx: Context, t: Traverser) -> Any:
        if self.column is not None:
            return column_of(t.obj, self.column)
        if self.key is not None:
            label = self.key.first(ctx, t)
            if label is NOTHING:
                return NOTHING
            value = select_one(ctx, t, label, self.pop)
            if value is NOTHING or value is None:
                return None if value is None else NOTHING
            found = self.ring.value_of(ctx, 0, value)
            return None if found is NOTHING else found
        if len(self.labels) == 1:
            value = select_one(ctx, t, self.labels[0], self.pop)
            if value is NOTHING or value is None:
                return value
            return self.ring.value_of(ctx, 0, value)
        out: dict[Any, Any] = {}
        for i, label in enumerate(self.labels):
            value = select_one(ctx, t, label, self.pop)
            if value is NOTHING:
                return NOTHING
            value = self.ring.value_of(ctx, i, value)
            if value is NOTHING:
                return NOTHING
            out[label] = value
        return out

    def children(self) -> list[Traversal]:
        return self.ring.children() + ([self.key] if self.key is not None else [])


@step("select")
def _select(c: Compiler, name: str, args: list[Any]) -> Step:
    pop = None
    if args and isinstance(args[0], Pop):
        pop, args = args[0], args[1:]
    if len(args) == 1 and isinstance(args[0], Column) and pop is None:
        return Select(None, column=args[0])
    if len(args) == 1 and c.is_traversal(args[0]):
        return Select(pop, key=c.child(args[0]))
    if not args or not all(isinstance(a, str) for a in args):
        raise TraversalError(f"select() takes labels, a traversal or a column, not {args!r}")
    return Select(pop, tuple(args))


# -- path ----------------------------------------------------------------------------------------
class PathStep(MapStep):
    """``path()``: every object the traverser went through, ``by()`` applied in turn (an
    unproductive one drops the traverser); ``from(label)``/``to(label)`` cut it to that part."""

    name = "path"

    def __init__(self) -> None:
        self.ring = Ring()
        self.start: str | None = None
        self.end: str | None = None

    def modulate(self, name: str, args: list[Any], c: Compiler) -> None:
        if name == "by":
            self.ring.add(args, c)
        elif name in ("from", "to") and len(args) == 1 and isinstance(args[0], str):
            if name == "from":
                self.start = args[0]
            else:
                self.end = args[0]
        else:
            super().modulate(name, args, c)

    def _cut(self, labels: list[set[str]], objects: list[Any]) -> tuple[list[set[str]], list[Any]]:
        if self.start is None and self.end is None:
            return labels, objects
        first = last = -1
        for i in range(len(labels) - 1, -1, -1):
            if first == -1 and self.start in labels[i]:
                first = i
            if last == -1 and self.end in labels[i]:
                last = i
        if self.start is not None and first == -1:
            raise TraversalError(f"path().from('{self.start}'): no step of the path is labelled {self.start}")
        if self.end is not None and last == -1:
            raise TraversalError(f"path().to('{self.end}'): no step of the path is labelled {self.end}")
        first = 0 if first == -1 else first
        last = len(labels) - 1 if last == -1 else last
        if first > last:
            raise TraversalError(f"path(): '{self.start}' comes after '{self.end}' on the path")
        return labels[first:last + 1], objects[first:last + 1]

    def map(self, ctx: Context, t: Traverser) -> Any:
        nodes = t.nodes()
        labels, objects = self._cut([set(n.labels) for n in nodes], [n.obj for n in nodes])
        if self.ring.bys:
            moved = []
            for i, obj in enumerate(objects):
                value = self.ring.value_of(ctx, i, obj)
                if value is NOTHING:
                    return NOTHING
                moved.append(value)
            objects = moved
        return Path(labels, objects)

    def children(self) -> list[Traversal]:
        return self.ring.children()


@step("path")
def _path(c: Compiler, name: str, args: list[Any]) -> Step:
    if args:
        raise TraversalError("path() takes no arguments")
    return PathStep()


# -- project -------------------------------------------------------------------------------------
class Project(MapStep):
    """``project(keys...)``: a map of each key to its ``by()`` (in turn) of the traverser; a key
    whose ``by()`` gives nothing is left out."""

    name = "project"

    def __init__(self, keys: tuple[str, ...]) -> None:
        self.keys = keys
        self.ring = Ring()

    def modulate(self, name: str, args: list[Any], c: Compiler) -> None:
        if name != "by":
            super().modulate(name, args, c)
        self.ring.add(args, c)

    def map(self, ctx: Context, t: Traverser) -> Any:
        out: dict[str, Any] = {}
        for i, key in enumerate(self.keys):
            value = self.ring.value(ctx, i, t)
            if value is not NOTHING:
                out[key] = value
        return out

    def children(self) -> list[Traversal]:
        return self.ring.children()


@step("project")
def _project(c: Compiler, name: str, args: list[Any]) -> Step:
    if not args or not all(isinstance(a, str) for a in args):
        raise TraversalError("project() takes one or more keys")
    if len(set(args)) != len(args):
        raise TraversalError(f"project() keys must be unique: {args!r}")
    return Project(tuple(args))


# -- index ---------------------------------------------------------------------------------------
_INDEXER = "~tinkerpop.index.indexer"


class Index(MapStep):
    """``index()``: each item of a collection with its position, as ``[item, i]`` pairs (or,
    ``with(WithOptions.indexer, WithOptions.map)``, as a map ``{i: item}``)."""

    name = "index"

    def __init__(self) -> None:
        self.as_map = False

    def modulate(self, name: str, args: list[Any], c: Compiler) -> None:
        if name == "with" and len(args) == 2 and args[0] == _INDEXER and args[1] in (0, 1):
            self.as_map = args[1] == 1
            return
        if name == "with" and args and args[0] == _INDEXER:
            raise TraversalError("with(WithOptions.indexer, ...) takes WithOptions.list or WithOptions.map")
        super().modulate(name, args, c)

    def map(self, ctx: Context, t: Traverser) -> Any:
        obj = t.obj
        if isinstance(obj, Path):
            items = list(obj.objects)
        elif isinstance(obj, dict) and not isinstance(obj, MapEntry):
            items = [MapEntry({k: v}) for k, v in obj.items()]
        elif isinstance(obj, (list, tuple, set, frozenset)):
            items = list(obj)
        else:
            items = [obj]
        if self.as_map:
            return {i: item for i, item in enumerate(items)}
        return [[item, i] for i, item in enumerate(items)]


@step("index")
def _index(c: Compiler, name: str, args: list[Any]) -> Step:
    if args:
        raise TraversalError("index() takes no arguments")
    return Index()

