"""Changing the graph: ``addV``, ``addE`` (with ``from``/``to``), ``property`` and ``drop``.

As in TinkerPop, a ``property()`` written right after ``addV()``/``addE()`` (or after other such
``property()`` steps) is folded into the add step: its key and value are computed from the
traverser that reached the add step, and the vertex properties it gives use ``list``
cardinality (TinkerGraph's ``addVertex``). A ``property()`` with a cardinality or
meta-properties after ``addV()`` is not folded, nor is one anywhere else: there TinkerGraph's
default ``single`` cardinality applies unless ``list``/``set`` is given. A ``null`` value
removes the property (TinkerGraph does not keep null values), and meta-properties ride on
vertex properties.

Longer than most modules: ``addV``, ``addE`` and ``property`` share that folding, which reads
right only with the three side by side.

>>> from gremlin_python.process.anonymous_traversal import traversal
>>> from rdg.graph.embedded.engine import EmbeddedConnection
>>> from rdg.graph.embedded.store import Store
>>> g = traversal().with_remote(EmbeddedConnection(Store.open(":memory:")))
>>> v = g.add_v("person").property("name", "a").property("name", "b").next()
>>> sorted(g.V(v).values("name").to_list())
['a', 'b']
>>> g.V(v).property("name", "c").values("name").to_list()
['c']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from gremlin_python.process.traversal import Bytecode, Cardinality, T
from gremlin_python.structure.graph import Edge, Property, Vertex, VertexProperty

from rdg.graph.embedded.errors import TraversalError
from rdg.graph.embedded.store import Store
from rdg.graph.embedded.traversal import Compiler, MapStep, Step, Traversal, step
from rdg.graph.embedded.traverser import Context, Traverser
from rdg.graph.embedded.values import NOTHING, key_of

__all__ = ["AddEdge", "AddVertex", "CardValue", "Drop", "PropertyStep", "attach_vertex", "cardinality_value",
           "check_key", "check_label", "set_vertex_property", "token"]


# -- helpers shared with mergeV/mergeE -----------------------------------------------------------
@dataclass(frozen=True)
class CardValue:
    """A value with its own cardinality (``Cardinality.list(33)`` in a map)."""

    cardinality: str
    value: Any


def cardinality_value(value: Any) -> CardValue | None:
    """The :class:`CardValue` a gremlinpython ``CardinalityValue`` stands for (None: not one)."""
    if isinstance(value, CardValue):
        return value
    if isinstance(value, Bytecode) and len(value.source_instructions) == 1:
        name, *args = value.source_instructions[0]
        if name == "CardinalityValueTraversal" and len(args) == 2 and isinstance(args[0], Cardinality):
            return CardValue(args[0].name.rstrip("_"), args[1])
    return None


def token(key: Any) -> str | None:
    """``"id"``/``"label"``/``"key"``/``"value"`` for a ``T`` token (``T.id`` and ``T.id_`` alike)."""
    return key.name.rstrip("_") if isinstance(key, T) else None


def check_key(key: Any) -> str:
    """A property key as TinkerPop accepts it (a non-empty string, not hidden with ``~``)."""
    if key is None:
        raise TraversalError("Property key can not be null")
    if not isinstance(key, str):
        raise TraversalError(f"a property key must be a string, not {type(key).__name__} {key!r}")
    if not key:
        raise TraversalError("Property key can not be empty")
    if key.startswith("~"):
        raise TraversalError(f"Property key can not be a hidden key: {key}")
    return key


def check_label(label: Any) -> str:
    """An element label as TinkerPop accepts it (a non-empty string, not hidden with ``~``)."""
    if label is None or label is NOTHING:
        raise TraversalError("Label can not be null")
    if not isinstance(label, str):
        raise TraversalError(f"a label must be a string, not {type(label).__name__} {label!r}")
    if not label:
        raise TraversalError("Label can not be empty")
    if label.startswith("~"):
        raise TraversalError(f"Label can not be a hidden key: {label}")
    return label


def _java_equal(a: Any, b: Any) -> bool:
    """Java's ``equals`` for property values (1 and 1.0 differ, unlike Gremlin's ``eq``)."""
    return type(a) is type(b) and key_of(a) == key_of(b)


def attach_vertex(store: Store, v: Any, what: str) -> Vertex:
    """The stored vertex ``v`` stands for (a vertex given as a value may carry no label)."""
    if isinstance(v, Vertex):
        found = list(store.vertices([v.id]))
        if found:
            return found[0]
    raise TraversalError(f"{what}: vertex {v!r} is not in the graph")


def _set_meta(store: Store, prop: VertexProperty, meta: list[tuple[Any, Any]]) -> None:
    for key, value in meta:
        if token(key) in ("id", "label"):
            continue
        key = check_key(key)
        if value is None:
            store.drop_property(Property(key, None, prop))
        else:
            store.set_meta_property(prop, key, value)


def set_vertex_property(store: Store, vertex: Vertex, cardinality: str, key: Any, value: Any,
                        meta: list[tuple[Any, Any]] | None = None) -> VertexProperty | None:
    """TinkerVertex.property(cardinality, key, value, meta...): ``single`` replaces every value
    of ``key``, ``list`` adds one more, ``set`` adds it unless an equal value is there (that
    one then gets the meta-properties); a null value removes ``key`` (``single``) or is
    ignored (``list``/``set``)."""
    key = check_key(key)
    meta = meta or []
    for meta_key, _ in meta:
        if not isinstance(meta_key, (str, T)):
            raise TraversalError("The provided key/value array must have a String or T on even array indices")
    if value is None:
        if cardinality == "single":
            store.drop_vertex_key(vertex, key)
        return None
    if cardinality == "set":
        for existing in store.vertex_properties(vertex, (key,)):
            if _java_equal(existing.value, value):
                _set_meta(store, existing, meta)
                return existing
    if cardinality == "single":
        store.drop_vertex_key(vertex, key)
    pid = next((v for k, v in meta if token(k) == "id"), None)
    prop = store.add_vertex_property(vertex, key, value, "list", pid)
    _set_meta(store, prop, meta)
    return prop


def _set_element_property(store: Store, element: Any, key: Any, value: Any) -> None:
    """An edge's property or a vertex property's meta-property (null removes it)."""
    key = check_key(key)
    if value is None:
        store.drop_property(Property(key, None, element))
    elif isinstance(element, Edge):
        store.set_edge_property(element, key, value)
    else:
        store.set_meta_property(element, key, value)


def _compiled(c: Compiler, arg: Any) -> Any:
    return c.child(arg) if c.is_traversal(arg) and cardinality_value(arg) is None else arg


def _resolve(ctx: Context, t: Traverser, arg: Any, what: str) -> Any:
    """A step argument that may be a traversal: its first value from ``t`` (there must be one)."""
    if not isinstance(arg, Traversal):
        return arg
    value = arg.first(ctx, t)
    if value is NOTHING:
        raise TraversalError(f"the traversal given to {what} produced no value for {t.obj!r}")
    return value


def _start(ctx: Context) -> Traverser:
    """What a start step's arguments are computed from (TinkerPop uses a traverser of ``false``)."""
    return Traverser.start(False, ctx.new_sack())


def _check_writable(ctx: Context, name: str) -> None:
    if ctx.read_only:
        raise TraversalError(f"{name}() in a read-only traversal")


# -- addV ----------------------------------------------------------------------------------------
class _AddElement(MapStep):
    """What ``addV`` and ``addE`` share: one new element per traverser (or one, as the first
    step), made by :meth:`create`."""

    name = "add"
    at_start = False

    def create(self, ctx: Context, t: Traverser) -> Any:
        raise NotImplementedError

    def map(self, ctx: Context, t: Traverser) -> Any:
        return self.create(ctx, t)

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        _check_writable(ctx, self.name)
        if self.at_start:
            yield Traverser.start(self.create(ctx, _start(ctx)), ctx.new_sack())
            return
        yield from super().apply(ctx, traversers)


class AddVertex(_AddElement):
    """``addV(label)`` with the ``property()`` steps folded into it (``T.id``/``T.label`` too)."""

    name = "addV"
    writes = True

    def __init__(self, label: Any, at_start: bool) -> None:
        self.label = label if label is not None else "vertex"
        self.label_given = label is not None
        self.at_start = at_start
        self.params: list[tuple[Any, Any]] = []
        self.vid: Any = NOTHING

    def configure(self, key: Any, value: Any) -> None:
        """A folded ``property(key, value)``."""
        if token(key) == "label":
            if self.label_given:
                raise TraversalError(f"Vertex T.label has already been set to [{self.label}] and cannot be "
                                     f"overridden with [{value}]")
            self.label, self.label_given = value, True
        elif token(key) == "id":
            if self.vid is not NOTHING:
                raise TraversalError(f"Vertex T.id has already been set to [{self.vid}] and cannot be overridden "
                                     f"with [{value}]")
            self.vid = value
        else:
            self.params.append((key, value))

    def children(self) -> list[Traversal]:
        values = [self.label, self.vid, *(x for kv in self.params for x in kv)]
        return [x for x in values if isinstance(x, Traversal)]

    def create(self, ctx: Context, t: Traverser) -> Vertex:
        label = check_label(_resolve(ctx, t, self.label, "addV()"))
        vid = _resolve(ctx, t, self.vid, "property(T.id)") if self.vid is not NOTHING else None
        props = [(_resolve(ctx, t, k, "property()"), _resolve(ctx, t, v, "property()")) for k, v in self.params]
        for key, _ in props:
            if not isinstance(key, (str, T)):
                raise TraversalError("The provided key/value array must have a String or T on even array indices")
        store = ctx.store
        v = store.add_vertex(label, vid)
        for key, value in props:
            if value is None:
                store.drop_vertex_key(v, check_key(key))
            elif not isinstance(key, T):
                set_vertex_property(store, v, "list", key, value)
        return v


@step("addV")
def _add_v(c: Compiler, name: str, args: list[Any]) -> Step:
    if len(args) > 1:
        raise TraversalError("addV() takes at most a label")
    return AddVertex(_compiled(c, args[0]) if args else None, c.at_start)


# -- addE ----------------------------------------------------------------------------------------
class AddEdge(_AddElement):
    """``addE(label).from(x).to(y)``: ``x``/``y`` are step labels, traversals or vertices; a
    missing end is the traverser's own object, which must then be a vertex."""

    name = "addE"
    writes = True

    def __init__(self, label: Any, at_start: bool) -> None:
        self.label, self.at_start = label, at_start
        self.ends: dict[str, Any] = {}
        self.params: list[tuple[Any, Any]] = []

    def modulate(self, name: str, args: list[Any], c: Compiler) -> None:
        if name in ("from", "to") and len(args) == 1:
            self.ends[name] = _compiled(c, args[0])
        else:
            super().modulate(name, args, c)

    def configure(self, key: Any, value: Any) -> None:
        """A folded ``property(key, value)`` (``T.label`` cannot change the label given)."""
        if token(key) != "label":
            self.params.append((key, value))

    def children(self) -> list[Traversal]:
        values = [self.label, *self.ends.values(), *(x for kv in self.params for x in kv)]
        return [x for x in values if isinstance(x, Traversal)]

    def _end(self, ctx: Context, t: Traverser, which: str, label: str) -> Vertex:
        spec = self.ends.get(which, NOTHING)
        if spec is NOTHING:
            found = t.obj
        elif isinstance(spec, str):
            from rdg.graph.embedded.steps.maps import select_one

            found = select_one(ctx, t, spec, None)
            if found is NOTHING:
                raise TraversalError(f"addE({label}).{which}('{spec}'): nothing is labelled '{spec}'")
        else:
            found = _resolve(ctx, t, spec, f"addE({label}).{which}()")
        if not isinstance(found, Vertex):
            raise TraversalError(f"The value given to addE({label}).{which}() must resolve to a Vertex but "
                                 f"{type(found).__name__} {found!r} was specified instead")
        return attach_vertex(ctx.store, found, f"addE({label}).{which}()")

    def create(self, ctx: Context, t: Traverser) -> Edge:
        label = check_label(_resolve(ctx, t, self.label, "addE()"))
        into = self._end(ctx, t, "to", label)
        out = self._end(ctx, t, "from", label)
        props = [(_resolve(ctx, t, k, "property()"), _resolve(ctx, t, v, "property()")) for k, v in self.params]
        eid = next((v for k, v in props if token(k) == "id"), None)
        edge = ctx.store.add_edge(label, out, into, eid)
        for key, value in props:
            if not isinstance(key, T):
                _set_element_property(ctx.store, edge, key, value)
        return edge


@step("addE")
def _add_e(c: Compiler, name: str, args: list[Any]) -> Step:
    if len(args) != 1:
        raise TraversalError("addE() takes a label")
    return AddEdge(_compiled(c, args[0]), c.at_start)


# -- property ------------------------------------------------------------------------------------
@dataclass
class _Assign:
    """One ``property([cardinality,] key, value, meta...)`` that was not folded."""

    cardinality: str | None
    key: Any
    value: Any
    meta: list[tuple[Any, Any]]

    def traversals(self) -> list[Traversal]:
        values = [self.key, self.value, *(x for kv in self.meta for x in kv)]
        return [x for x in values if isinstance(x, Traversal)]

    def run(self, ctx: Context, t: Traverser) -> None:
        key = _resolve(ctx, t, self.key, "property()")
        if isinstance(key, T):
            raise TraversalError(f"T.{token(key)} is immutable on existing elements")
        value = _resolve(ctx, t, self.value, f"property('{key}')")
        meta = [(_resolve(ctx, t, k, "property()"), _resolve(ctx, t, v, "property()")) for k, v in self.meta]
        element = t.obj
        if self.cardinality is not None and not isinstance(element, Vertex):
            raise TraversalError(f"Property cardinality can only be set for a Vertex but the traversal encountered "
                                 f"{type(element).__name__} for key: {key}")
        if isinstance(element, Vertex):
            set_vertex_property(ctx.store, element, self.cardinality or "single", key, value, meta)
        elif isinstance(element, (Edge, VertexProperty)):
            _set_element_property(ctx.store, element, key, value)
        else:
            raise TraversalError(f"property() needs an element, not {type(element).__name__} {element!r}")


class PropertyStep(Step):
    """``property(...)``: the assignments not folded into an ``addV``/``addE`` before it (the
    others live in that step; modulators such as ``from()`` after it go to that step)."""

    name = "property"
    writes = True

    def __init__(self, target: AddVertex | AddEdge | None) -> None:
        self.target = target
        self.assigns: list[_Assign] = []

    def modulate(self, name: str, args: list[Any], c: Compiler) -> None:
        if self.target is not None and not self.assigns:
            self.target.modulate(name, args, c)
        else:
            super().modulate(name, args, c)

    def children(self) -> list[Traversal]:
        return [x for a in self.assigns for x in a.traversals()]

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        if not self.assigns:
            yield from traversers
            return
        _check_writable(ctx, self.name)
        for t in traversers:
            ctx.tick()
            for a in self.assigns:
                a.run(ctx, t)
            yield t


def _fold_target(c: Compiler) -> AddVertex | AddEdge | None:
    """The ``addV``/``addE`` step the new ``property()`` may fold into (past other ``property()``)."""
    for s in reversed(c.steps_so_far):
        if isinstance(s, PropertyStep):
            continue
        return s if isinstance(s, (AddVertex, AddEdge)) else None
    return None


def _add_one(c: Compiler, ps: PropertyStep, cardinality: str | None, key: Any, value: Any, meta: list[Any]) -> None:
    """GraphTraversal.property(cardinality, key, value, meta...): fold it or keep it."""
    if isinstance(key, T) and value is None:
        raise TraversalError("Value of T cannot be null")
    target = ps.target
    key, value = _compiled(c, key), _compiled(c, value)
    cv = cardinality_value(value)
    if cv is not None:
        cardinality, value = cv.cardinality, cv.value
    if isinstance(target, AddEdge) and cardinality not in (None, "single"):
        raise TraversalError(f"Multi-property cardinality of [{cardinality}] can only be set for a Vertex but is "
                             f"being used for addE() with key: {key}")
    if isinstance(target, AddEdge) or (isinstance(target, AddVertex) and not meta and (
            isinstance(key, (T, Traversal)) or (isinstance(key, str) and cardinality is None))):
        target.configure(key, value)
        return
    pairs = [(_compiled(c, k), _compiled(c, v)) for k, v in zip(meta[::2], meta[1::2])]
    ps.assigns.append(_Assign(cardinality, key, value, pairs))


@step("property")
def _property(c: Compiler, name: str, args: list[Any]) -> Step:
    ps = PropertyStep(_fold_target(c))
    cardinality = None
    if args and isinstance(args[0], Cardinality):
        cardinality, args = args[0].name.rstrip("_"), args[1:]
    if len(args) == 1 and (args[0] is None or isinstance(args[0], dict)):
        for key, value in (args[0] or {}).items():  # property(map): one property() per entry
            cv = cardinality_value(value)
            if cv is not None:
                _add_one(c, ps, cv.cardinality, key, cv.value, [])
            else:
                _add_one(c, ps, cardinality, key, value, [])
        return ps
    if len(args) < 2 or len(args) % 2:
        raise TraversalError("property() takes a key and a value (and meta key/value pairs), or a map")
    _add_one(c, ps, cardinality, args[0], args[1], list(args[2:]))
    return ps


# -- drop ----------------------------------------------------------------------------------------
class Drop(Step):
    """``drop()``: remove each element or property; nothing comes out."""

    name = "drop"
    writes = True

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        _check_writable(ctx, self.name)
        store = ctx.store
        for t in traversers:
            ctx.tick()
            obj = t.obj
            if isinstance(obj, Vertex):
                store.drop_vertex(obj)
            elif isinstance(obj, Edge):
                store.drop_edge(obj)
            elif isinstance(obj, (VertexProperty, Property)):
                store.drop_property(obj)
            else:
                raise TraversalError(f"The incoming object is not removable: {obj!r}")
        yield from ()


@step("drop")
def _drop(c: Compiler, name: str, args: list[Any]) -> Step:
    if args:
        raise TraversalError("drop() takes no arguments")
    return Drop()
