"""Changing the graph: ``addV``, ``addE`` (with ``from``/``to``), ``property`` and ``drop``.

Properties follow TinkerGraph's defaults: ``single`` cardinality unless ``list``/``set`` is
given, a ``null`` value removes the property, meta-properties ride on vertex properties.
"""

from __future__ import annotations

from typing import Any, Iterator

from gremlin_python.process.traversal import Cardinality, T
from gremlin_python.structure.graph import Edge, Property, Vertex, VertexProperty

from rdg.graph.embedded.errors import TraversalError, unsupported
from rdg.graph.embedded.traversal import Compiler, Step, Traversal, step
from rdg.graph.embedded.traverser import Context, Traverser
from rdg.graph.embedded.values import NOTHING

__all__ = ["AddEdge", "AddVertex", "Drop", "SetProperty"]


def _value(ctx: Context, t: Traverser | None, arg: Any) -> Any:
    """A step argument that may be a traversal (its first value from ``t``)."""
    if isinstance(arg, Traversal):
        return arg.first(ctx, t) if t is not None else arg.first(ctx, Traverser.start(None))
    return arg


def _child_or_value(c: Compiler, arg: Any) -> Any:
    return c.child(arg) if c.is_traversal(arg) else arg


class AddVertex(Step):
    """``addV(label)``; a ``property(T.id, n)`` right after picks the id."""

    name = "addV"
    writes = True

    def __init__(self, label: Any, at_start: bool) -> None:
        self.label, self.at_start = label, at_start
        self.props: list[tuple[Any, Any, Any, list[Any]]] = []

    def _one(self, ctx: Context, t: Traverser | None) -> Vertex:
        label = _value(ctx, t, self.label)
        if label is NOTHING or not isinstance(label, str):
            raise TraversalError(f"addV() needs a label string, not {label!r}")
        vid = None
        for card, key, value, _meta in self.props:
            if key == T.id:
                vid = _value(ctx, t, value)
        v = ctx.store.add_vertex(label, vid)
        return v

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        if ctx.read_only:
            raise TraversalError("addV() in a read-only traversal")
        if self.at_start:
            yield Traverser.start(self._one(ctx, None), ctx.new_sack())
            return
        for t in list(traversers):
            yield t.extend(self._one(ctx, t))


@step("addV")
def _add_v(c: Compiler, name: str, args: list[Any]) -> Step:
    if len(args) > 1:
        raise TraversalError("addV() takes at most a label")
    label = _child_or_value(c, args[0]) if args else "vertex"
    return AddVertex(label, c.at_start)


class AddEdge(Step):
    """``addE(label).from(x).to(y)``: ``x``/``y`` are step labels, traversals or vertices;
    a missing end is the current vertex."""

    name = "addE"
    writes = True

    def __init__(self, label: Any, at_start: bool) -> None:
        self.label, self.at_start = label, at_start
        self.ends: dict[str, Any] = {}

    def modulate(self, name: str, args: list[Any], c: Compiler) -> None:
        if name in ("from", "to") and len(args) == 1:
            self.ends[name] = _child_or_value(c, args[0])
        else:
            super().modulate(name, args, c)

    def children(self) -> list[Traversal]:
        return [v for v in self.ends.values() if isinstance(v, Traversal)]

    def _end(self, ctx: Context, t: Traverser | None, which: str) -> Vertex:
        spec = self.ends.get(which)
        if spec is None:
            if t is None or not isinstance(t.obj, Vertex):
                raise TraversalError(f"addE() needs a {which}() vertex")
            return t.obj
        if isinstance(spec, Traversal):
            found = spec.first(ctx, t if t is not None else Traverser.start(None))
        elif isinstance(spec, str):
            from rdg.graph.embedded.steps.basic import select_one

            found = select_one(ctx, t, spec, None) if t is not None else NOTHING
        else:
            found = spec
        if isinstance(found, Vertex):
            return found
        if found is not NOTHING and not isinstance(found, (Edge, VertexProperty, Property)) and found is not None:
            hit = list(ctx.store.vertices([found]))
            if hit:
                return hit[0]
        raise TraversalError(f"addE(): the {which}() end is not a vertex ({found!r})")

    def _one(self, ctx: Context, t: Traverser | None) -> Edge:
        label = _value(ctx, t, self.label)
        if not isinstance(label, str):
            raise TraversalError(f"addE() needs a label string, not {label!r}")
        out, into = self._end(ctx, t, "from"), self._end(ctx, t, "to")
        return ctx.store.add_edge(label, out, into)

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        if ctx.read_only:
            raise TraversalError("addE() in a read-only traversal")
        if self.at_start:
            yield Traverser.start(self._one(ctx, None), ctx.new_sack())
            return
        for t in list(traversers):
            yield t.extend(self._one(ctx, t))


@step("addE")
def _add_e(c: Compiler, name: str, args: list[Any]) -> Step:
    if len(args) != 1:
        raise TraversalError("addE() takes a label")
    return AddEdge(_child_or_value(c, args[0]), c.at_start)


class SetProperty(Step):
    """``property([cardinality,] key, value[, meta key, meta value ...])``."""

    name = "property"
    writes = True

    def __init__(self, cardinality: str | None, key: Any, value: Any, meta: list[Any]) -> None:
        self.cardinality, self.key, self.value, self.meta = cardinality, key, value, meta

    def children(self) -> list[Traversal]:
        return [x for x in (self.key, self.value, *self.meta) if isinstance(x, Traversal)]

    def _set(self, ctx: Context, t: Traverser) -> None:
        obj = t.obj
        key, value = _value(ctx, t, self.key), _value(ctx, t, self.value)
        meta = [_value(ctx, t, m) for m in self.meta]
        if value is NOTHING:
            raise TraversalError(f"property('{key}') got no value from its traversal")
        if isinstance(key, T):
            raise TraversalError(f"property(T.{key.name}) can only be given when the element is added")
        if not isinstance(key, str):
            raise TraversalError(f"property() takes a key string, not {key!r}")
        store = ctx.store
        if isinstance(obj, Vertex):
            if value is None:
                store.drop_vertex_key(obj, key)
                return
            prop = store.add_vertex_property(obj, key, value, self.cardinality or "single")
            for k, v in zip(meta[::2], meta[1::2]):
                if v is not None:
                    store.set_meta_property(prop, k, v)
        elif isinstance(obj, Edge):
            if meta:
                raise TraversalError("edge properties cannot have meta-properties")
            if value is None:
                store.drop_property(Property(key, None, obj))
            else:
                store.set_edge_property(obj, key, value)
        elif isinstance(obj, VertexProperty):
            if value is None:
                store.drop_property(Property(key, None, obj))
            else:
                store.set_meta_property(obj, key, value)
        else:
            raise TraversalError(f"property() needs an element, not {type(obj).__name__} {obj!r}")

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        if ctx.read_only:
            raise TraversalError("property() in a read-only traversal")
        for t in traversers:
            ctx.tick()
            self._set(ctx, t)
            yield t


@step("property")
def _property(c: Compiler, name: str, args: list[Any]) -> Step:
    cardinality = None
    if args and isinstance(args[0], Cardinality):
        cardinality, args = args[0].name.rstrip("_"), args[1:]
    if len(args) < 2 or len(args) % 2:
        raise TraversalError("property() takes a key and a value (and meta key/value pairs)")
    if isinstance(args[0], dict):
        raise unsupported("property(map)")
    key, value, *meta = (_child_or_value(c, a) for a in args)
    prev = c.steps_so_far[-1] if c.steps_so_far else None
    if isinstance(prev, AddVertex) and key == T.id and not meta:
        prev.props.append((cardinality, key, value, meta))
        return _Same()
    if isinstance(key, T) and key.name == "label":
        raise TraversalError("property(T.label) is not allowed; the label is given by addV()/addE()")
    return SetProperty(cardinality, key, value, meta)


class _Same(Step):
    name = "property"
    writes = True

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        return traversers


class Drop(Step):
    """``drop()``: remove each element or property; nothing comes out."""

    name = "drop"
    writes = True

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        if ctx.read_only:
            raise TraversalError("drop() in a read-only traversal")
        store = ctx.store
        for t in list(traversers):
            obj = t.obj
            if isinstance(obj, Vertex):
                store.drop_vertex(obj)
            elif isinstance(obj, Edge):
                store.drop_edge(obj)
            elif isinstance(obj, (VertexProperty, Property)):
                store.drop_property(obj)
            else:
                raise TraversalError(f"drop() needs an element or a property, not {obj!r}")
        yield from ()


@step("drop")
def _drop(c: Compiler, name: str, args: list[Any]) -> Step:
    return Drop()
