"""The list steps of TinkerPop 3.7: ``combine``, ``conjoin``, ``difference``, ``disjunct``,
``intersect``, ``merge``, ``product``, and the list filters ``all(P)`` and ``any(P)``.

Each map step takes the incoming list (or set, or path) and a second one: a fixed argument or
the first object of a child traversal. Items are the same when Java's ``equals`` says so (``1``
and ``1.0`` are not, unlike ``P.eq``); set results are Python sets (a list when Python itself
would merge two items, such as ``1`` and ``True``, as gremlinpython does):

>>> sorted(symmetric_difference(["a", None, "b"], ["a", "c"]), key=str)
[None, 'b', 'c']
>>> gremlin_set([1, 1.0, "a"]) == [1, 1.0, "a"], java_key(1) == java_key(1.0)
(True, False)
"""

from __future__ import annotations

from typing import Any, Iterable

from gremlin_python.process.traversal import P
from gremlin_python.structure.graph import Edge, Path, Property, Vertex, VertexProperty

from rdg.graph.embedded.errors import TraversalError, unsupported
from rdg.graph.embedded.predicates import Ternary, test as test_predicate
from rdg.graph.embedded.steps.logic import TernaryFilter
from rdg.graph.embedded.steps.text import describe, items_of, java_string
from rdg.graph.embedded.traversal import Compiler, MapEntry, MapStep, Step, Traversal, step
from rdg.graph.embedded.traverser import Context, Traverser
from rdg.graph.embedded.values import NOTHING

__all__ = ["Conjoin", "ListFilter", "ListStep", "gremlin_set", "java_key", "symmetric_difference"]


# -- Java's equality and sets --------------------------------------------------------------------
def java_key(value: Any) -> Any:
    """A hashable key two values share exactly when Java's ``equals`` holds (numbers of different
    types differ, NaN equals NaN, elements by id, collections by content)."""
    if value is None:
        return ("null",)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, float):
        return ("float", repr(value))
    if isinstance(value, str):
        return ("str", value)
    if isinstance(value, (Vertex, Edge, VertexProperty)):
        return (type(value).__name__, java_key(value.id))
    if isinstance(value, Property):
        return ("property", value.key, java_key(value.value), java_key(value.element))
    if isinstance(value, Path):
        return ("path", tuple(java_key(o) for o in value.objects), tuple(frozenset(ls) for ls in value.labels))
    if isinstance(value, (list, tuple)):
        return ("list", tuple(java_key(v) for v in value))
    if isinstance(value, (set, frozenset)):
        return ("set", frozenset(java_key(v) for v in value))
    if isinstance(value, MapEntry):
        return ("entry", java_key(value.key), java_key(value.value))
    if isinstance(value, dict):
        return ("map", frozenset((java_key(k), java_key(v)) for k, v in value.items()))
    try:
        hash(value)
    except TypeError:
        return ("object", type(value).__name__, repr(value))
    return ("object", type(value).__name__, value)


def unique(items: Iterable[Any]) -> list[Any]:
    """``items`` without Java-equal repeats, first ones kept."""
    seen: set[Any] = set()
    out = []
    for item in items:
        k = java_key(item)
        if k not in seen:
            seen.add(k)
            out.append(item)
    return out


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, set):
        return frozenset(_hashable(v) for v in value)
    if isinstance(value, dict):
        raise unsupported("a set of maps as a step's result (Python sets cannot hold maps)")
    return value


def gremlin_set(items: Iterable[Any]) -> Any:
    """The Gremlin set of ``items``: a Python set (lists inside become tuples), or a list of the
    Java-distinct items when Python would merge two of them."""
    distinct = [_hashable(v) for v in unique(items)]
    out = set(distinct)
    return out if len(out) == len(distinct) else distinct


def symmetric_difference(a: list[Any], b: list[Any]) -> Any:
    """The items in exactly one of ``a`` and ``b``, as a Gremlin set."""
    keys_a, keys_b = {java_key(x) for x in a}, {java_key(x) for x in b}
    return gremlin_set([x for x in a if java_key(x) not in keys_b] + [x for x in b if java_key(x) not in keys_a])


# -- the map steps -------------------------------------------------------------------------------
class ListStep(MapStep):
    """``combine``, ``difference``, ``disjunct``, ``intersect``, ``merge`` and ``product``: the
    incoming collection against a fixed argument or a child traversal's first object."""

    def __init__(self, name: str, value: Any, traversal: Traversal | None) -> None:
        self.name, self.value, self.traversal = name, value, traversal

    def map(self, ctx: Context, t: Traverser) -> Any:
        if self.name == "merge" and isinstance(t.obj, dict) and not isinstance(t.obj, MapEntry):
            return self._merge_maps(ctx, t)
        mine = self.incoming(t)
        if self.name == "merge" and self.traversal is None and isinstance(self.value, dict):
            raise TraversalError("merge step type mismatch: expected argument to be Iterable but got Map "
                                 "(merge a map into a map, or a list into a list)")
        other = self.argument(ctx, t)
        return self.combine(mine, other)

    def combine(self, mine: list[Any], other: list[Any]) -> Any:
        name = self.name
        if name == "combine":
            return mine + other
        if name == "product":
            return [[a, b] for a in mine for b in other]
        if name == "merge":
            return gremlin_set(mine + other)
        if name == "difference":
            keys = {java_key(x) for x in other}
            return gremlin_set(x for x in mine if java_key(x) not in keys)
        if name == "intersect":
            keys = {java_key(x) for x in mine}
            return gremlin_set(x for x in other if java_key(x) in keys)
        return symmetric_difference(mine, other)  # disjunct

    def incoming(self, t: Traverser) -> list[Any]:
        obj = t.obj
        if obj is None:
            raise TraversalError(f"Incoming traverser for {self.name} step can't be null")
        items = items_of(obj)
        if items is None:
            raise TraversalError(f"{self.name} step can only take an array or an Iterable type for incoming "
                                 f"traversers, encountered {describe(obj)} (fold() first makes a list)")
        return items

    def _other(self, ctx: Context, t: Traverser) -> Any:
        if self.traversal is None:
            return self.value
        value = self.traversal.first(ctx, t)
        if value is NOTHING:
            raise TraversalError(f"the traversal given to {self.name}() gave nothing for {describe(t.obj)}")
        return value

    def argument(self, ctx: Context, t: Traverser) -> list[Any]:
        value = self._other(ctx, t)
        if self.traversal is not None:
            if value is None:
                raise TraversalError(f"Provided traversal argument for {self.name} step must yield an iterable "
                                     "type, not null")
            items = items_of(value)
            if items is None:
                raise TraversalError(f"Provided traversal argument for {self.name} step must yield an iterable "
                                     f"type, encountered {describe(value)} (end it with fold())")
            return items
        if value is None:
            raise TraversalError(f"Argument provided for {self.name} step can't be null")
        items = items_of(value)
        if items is None:
            raise TraversalError(f"{self.name} step can only take an array or an Iterable as an argument, "
                                 f"encountered {describe(value)}")
        return items

    def _merge_maps(self, ctx: Context, t: Traverser) -> dict[Any, Any]:
        other = self._other(ctx, t)
        if not isinstance(other, dict) or isinstance(other, MapEntry):
            raise TraversalError(f"merge step expected provided argument to evaluate to a Map, encountered "
                                 f"{describe(other)}")
        return {**t.obj, **other}

    def children(self) -> list[Traversal]:
        return [self.traversal] if self.traversal is not None else []


@step("combine", "difference", "disjunct", "intersect", "merge", "product")
def _list_step(c: Compiler, name: str, args: list[Any]) -> Step:
    if len(args) != 1:
        raise TraversalError(f"{name}() takes one list (or a traversal that gives one)")
    if c.is_traversal(args[0]):
        return ListStep(name, None, c.child(args[0]))
    return ListStep(name, args[0], None)


class Conjoin(MapStep):
    """``conjoin(delimiter)``: the items of a list as text joined by ``delimiter``; nulls are
    skipped, an empty list gives ``""`` and a list of nulls gives null."""

    name = "conjoin"

    def __init__(self, delimiter: str) -> None:
        self.delimiter = delimiter

    def map(self, ctx: Context, t: Traverser) -> Any:
        obj = t.obj
        if obj is None:
            raise TraversalError("Incoming traverser for conjoin step can't be null")
        items = items_of(obj)
        if items is None:
            raise TraversalError(f"conjoin step can only take an array or an Iterable type for incoming "
                                 f"traversers, encountered {describe(obj)} (fold() first makes a list)")
        if not items:
            return ""
        texts = [java_string(i) for i in items if i is not None]
        return self.delimiter.join(texts) if texts else None


@step("conjoin")
def _conjoin(c: Compiler, name: str, args: list[Any]) -> Step:
    if len(args) != 1:
        raise TraversalError("conjoin() takes one delimiter")
    if args[0] is None:
        raise TraversalError("Input delimiter to conjoin step can't be null")
    if not isinstance(args[0], str):
        raise TraversalError(f"conjoin() takes a string delimiter, not {describe(args[0])}")
    return Conjoin(args[0])


# -- the filters ---------------------------------------------------------------------------------
class ListFilter(TernaryFilter):
    """``all(P)`` / ``any(P)``: keeps lists whose every / some item satisfies ``P``; anything that
    is not a list is dropped. An item ``P`` cannot judge (a type error) counts only when no other
    item decides: then the whole answer is an ERROR (dropped, or passed to a ``not()`` around)."""

    def __init__(self, name: str, predicate: P) -> None:
        self.name, self.predicate = name, predicate

    def check(self, ctx: Context, t: Traverser) -> Ternary:
        """True, False, or None for Gremlin's ERROR."""
        items = items_of(t.obj)
        if items is None:
            return False
        every = self.name == "all"
        error = False
        for item in items:
            result = test_predicate(self.predicate, item)
            if result is None:
                error = True
            elif result is not every:
                return result
        return None if error else every


@step("all", "any")
def _list_filter(c: Compiler, name: str, args: list[Any]) -> Step:
    if len(args) != 1 or not isinstance(args[0], P):
        raise TraversalError(f"{name}() takes one predicate, e.g. {name}(P.gt(3))")
    return ListFilter(name, args[0])
