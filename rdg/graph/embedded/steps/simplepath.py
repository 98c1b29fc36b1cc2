"""Path filters: ``simplePath()`` keeps traversers whose path repeats no object, ``cyclicPath()``
those whose path does; ``from()``/``to()`` narrow the path to a labelled stretch, ``by()``
compares values of its objects instead.

>>> from gremlin_python.process.graph_traversal import __
>>> from rdg.graph.embedded.traverser import Context
>>> def run(t): return [x.obj for x in Compiler().compile(t.bytecode).apply(Context(None), iter(()))]
>>> run(__.inject(1).constant(2).simple_path()), run(__.inject(1).constant(1).simple_path())
([2], [])
>>> run(__.inject(1).constant(1).cyclic_path())
[1]
"""

from __future__ import annotations

from typing import Any, Iterator

from rdg.graph.embedded.errors import TraversalError
from rdg.graph.embedded.traversal import By, Compiler, Step, Traversal, step
from rdg.graph.embedded.traverser import Context, Traverser
from rdg.graph.embedded.values import NOTHING, hash_key

__all__ = ["PathFilter", "sub_path"]


def sub_path(t: Traverser, start: str | None, end: str | None) -> tuple[list[Any], list[set[str]]]:
    """The traverser's path from the newest object labelled ``start`` to the newest labelled
    ``end`` (the whole path without them): objects and labels."""
    objects, labels = t.path_objects(), t.path_labels()
    if start is None and end is None:
        return objects, labels
    first = last = -1
    for i in range(len(objects) - 1, -1, -1):
        if first == -1 and start in labels[i]:
            first = i
        if last == -1 and end in labels[i]:
            last = i
    if start is not None and first == -1:
        raise TraversalError(f"could not locate the path from-label '{start}'")
    if end is not None and last == -1:
        raise TraversalError(f"could not locate the path to-label '{end}'")
    first = 0 if first == -1 else first
    last = len(objects) - 1 if last == -1 else last
    if first > last:
        raise TraversalError(f"could not isolate the path from '{start}' to '{end}'")
    return objects[first:last + 1], labels[first:last + 1]


class PathFilter(Step):
    """``simplePath()`` (no object repeats) / ``cyclicPath()`` (some object repeats), over the
    path between ``from()`` and ``to()``, with ``by()`` applied to its objects in turn; a
    ``by()`` that gives nothing drops the traverser."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.simple = name == "simplePath"
        self.streaming = True
        self.start: str | None = None
        self.end: str | None = None
        self.bys: list[By] = []

    def modulate(self, name: str, args: list[Any], c: Compiler) -> None:
        if name == "by":
            self.bys.append(By(args, c))
        elif name in ("from", "to") and len(args) == 1 and isinstance(args[0], str):
            if name == "from":
                self.start = args[0]
            else:
                self.end = args[0]
        else:
            super().modulate(name, args, c)

    def _keep(self, ctx: Context, t: Traverser) -> bool:
        objects, _ = sub_path(t, self.start, self.end)
        seen: set[Any] = set()
        simple = True
        for i, obj in enumerate(objects):
            if self.bys:
                obj = self.bys[i % len(self.bys)].value_of(ctx, obj)
                if obj is NOTHING:
                    return False
            key = hash_key(obj)
            if key in seen:
                simple = False
            seen.add(key)
        return simple == self.simple

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        for t in traversers:
            ctx.tick()
            if self._keep(ctx, t):
                yield t

    def children(self) -> list[Traversal]:
        return [x for b in self.bys for x in b.children()]


@step("simplePath", "cyclicPath")
def _path_filter(c: Compiler, name: str, args: list[Any]) -> Step:
    if args:
        raise TraversalError(f"{name}() takes no arguments")
    return PathFilter(name)
