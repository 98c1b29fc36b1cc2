"""The small steps everything uses: ``identity``, ``barrier``, ``constant``, ``as``, ``unfold``
and ``none`` (what ``iterate()`` adds); ``limit`` lives in :mod:`~rdg.graph.embedded.steps.range`. ``count``/``fold`` live in
:mod:`~rdg.graph.embedded.steps.aggregate`, ``select``/``path`` in :mod:`~rdg.graph.embedded.steps.maps`.

>>> from gremlin_python.process.graph_traversal import __
>>> from rdg.graph.embedded.traversal import Compiler
>>> steps = Compiler().compile(__.constant(1).barrier().unfold().bytecode).steps
>>> [s.name for s in steps]
['constant', 'barrier', 'unfold']
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from gremlin_python.structure.graph import Path

from rdg.graph.embedded.errors import TraversalError
from rdg.graph.embedded.traversal import Compiler, FlatMapStep, MapEntry, MapStep, Step, step
from rdg.graph.embedded.traverser import Context, Traverser

__all__ = ["Barrier", "Constant", "Identity", "Label", "Unfold"]


class Identity(Step):
    """``identity()``: every traverser as it is."""

    name = "identity"

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        return traversers


@step("identity")
def _identity(c: Compiler, name: str, args: list[Any]) -> Step:
    return Identity()


class Barrier(Step):
    """``barrier()``: run everything before to the end (so side effects such as ``group('x')``
    are complete), then pass every traverser on."""

    name = "barrier"
    barrier = True

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        held = []
        for t in traversers:
            ctx.tick()
            held.append(t)
        yield from held


@step("barrier")
def _barrier(c: Compiler, name: str, args: list[Any]) -> Step:
    return Barrier()


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
    """``constant(value)``: every traverser's object becomes ``value``."""

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
