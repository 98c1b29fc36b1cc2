"""Where traversals begin: ``V()``, ``E()`` and ``inject()`` (also mid-traversal: ``out().V()``).

``V()``/``E()`` take ids, elements, or lists of them (an id that is not in the graph gives
nothing). ``V()`` followed by ``has(label, key, value)`` or ``hasLabel()`` reads the index
instead of every vertex (the ``has`` step still checks each one). ``call()`` is refused: the
embedded graph offers no services.

>>> from gremlin_python.process.anonymous_traversal import traversal
>>> from rdg.graph.embedded.engine import EmbeddedConnection
>>> from rdg.graph.embedded.store import Store
>>> g = traversal().with_remote(EmbeddedConnection(Store.open(":memory:")))
>>> v = g.add_v("person").next()
>>> [x.label for x in g.V([v, 12345]).to_list()], g.inject(1, 2).to_list()
(['person'], [1, 2])
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from gremlin_python.structure.graph import Element

from rdg.graph.embedded.errors import unsupported
from rdg.graph.embedded.traversal import Compiler, Step, step
from rdg.graph.embedded.traverser import Context, Traverser

__all__ = ["GraphStep", "Inject"]


def _id_of(value: Any) -> Any:
    return value.id if isinstance(value, Element) else value


def _ids(args: list[Any]) -> list[Any] | None:
    if not args:
        return None
    out: list[Any] = []
    for a in args:
        if isinstance(a, (list, tuple, set, frozenset)):
            out.extend(_id_of(x) for x in a)
        else:
            out.append(_id_of(a))
    return out


class GraphStep(Step):
    """``V(ids...)`` / ``E(ids...)``: at the start, the traversal's first traversers; later,
    every traverser is replaced by all of them."""

    def __init__(self, name: str, args: list[Any], at_start: bool) -> None:
        self.name = name
        self.ids = _ids(args)
        self.at_start = at_start
        self.labels: list[str] | None = None
        """Pushed down from a following ``hasLabel``/``has(label, ...)``."""
        self.key: str | None = None
        self.values: list[Any] | None = None
        """Pushed down from a following ``has(key, value)`` / ``has(key, within(...))``."""

    def elements(self, ctx: Context) -> Iterator[Any]:
        store = ctx.store
        if self.name == "E":
            if self.ids is not None:
                return store.edges(self.ids)
            return store.edges_where(self.labels) if self.labels else store.edges()
        if self.ids is not None:
            return store.vertices(self.ids)
        if self.labels is not None or self.key is not None:
            return store.vertices_where(self.labels, self.key, self.values)
        return store.vertices()

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        if self.at_start:
            for e in self.elements(ctx):
                ctx.tick()
                yield Traverser.start(e, ctx.new_sack())
            return
        for t in traversers:
            for e in list(self.elements(ctx)):
                ctx.tick()
                yield t.extend(e)


@step("V", "E")
def _graph(c: Compiler, name: str, args: list[Any]) -> Step:
    return GraphStep(name, args, c.at_start)


class Inject(Step):
    """``inject(values...)``: more objects into the stream (at the start: the only ones)."""

    name = "inject"

    def __init__(self, values: Iterable[Any], first_in_child: bool = False) -> None:
        self.values = list(values)
        self.first_in_child = first_in_child
        """First step of a child traversal (``concat(__.inject(x))``): the parent's traverser
        comes before the injected objects, as in TinkerPop."""

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        if self.first_in_child:
            yield from traversers
        for v in self.values:
            yield Traverser.start(v, ctx.new_sack())
        if not self.first_in_child:
            yield from traversers


@step("inject")
def _inject(c: Compiler, name: str, args: list[Any]) -> Step:
    return Inject(args, first_in_child=c.depth > 1 and not c.steps_so_far)


@step("call")
def _call(c: Compiler, name: str, args: list[Any]) -> Step:
    raise unsupported("call(): the embedded graph offers no services (TinkerGraph's tinker.search, "
                      "tinker.degree.centrality and the like are TinkerGraph's own)")
