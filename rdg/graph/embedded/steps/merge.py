"""``mergeV()`` and ``mergeE()``: find the elements a map describes, or create one, with
``option(Merge.onCreate | Merge.onMatch | Merge.outV | Merge.inV, map or traversal)``.

TinkerPop 3.7.3's rules, checked the same way: the map's keys are property keys or the tokens
``T.id``/``T.label`` (and ``Direction.OUT``/``Direction.IN`` for ``mergeE``), no value is null,
``option(onCreate)`` inherits the merge map and may not override its values, ``onMatch`` sets
properties (``single`` cardinality unless a value says ``Cardinality.list(...)``), and a
mid-traversal merge whose ``onMatch`` is a traversal refuses an element as its incoming object.
As a start step the matched element is what ``onMatch`` sees; mid-traversal it is the incoming
traverser's object (a map given by ``inject()`` for ``mergeV()`` with no argument).
Longer than most modules: ``mergeV`` and ``mergeE`` share one base step and one set of map rules
(validation, ``onCreate`` overrides, matching), which only make sense read side by side.

>>> from gremlin_python.process.anonymous_traversal import traversal
>>> from gremlin_python.process.traversal import Merge, T
>>> from rdg.graph.embedded.engine import EmbeddedConnection
>>> from rdg.graph.embedded.store import Store
>>> g = traversal().with_remote(EmbeddedConnection(Store.open(":memory:")))
>>> a = g.merge_v({T.label: "person", "name": "a"}).next()
>>> b = g.merge_v({T.label: "person", "name": "a"}).option(Merge.on_match, {"age": 3}).next()
>>> a == b, g.V().values("age").to_list()
(True, [3])
>>> from gremlin_python.process.traversal import Direction
>>> g.merge_e({T.label: "knows", Direction.OUT: a, Direction.IN: a}).count().next()
1
"""

from __future__ import annotations

from typing import Any, Iterator

from gremlin_python.process.traversal import Cardinality, Direction, Merge, T
from gremlin_python.structure.graph import Edge, Element, Vertex

from rdg.graph.embedded.errors import TraversalError
from rdg.graph.embedded.steps.write import (
    CardValue,
    attach_vertex,
    cardinality_value,
    check_key,
    check_label,
    set_vertex_property,
    token,
)
from rdg.graph.embedded.store import Store
from rdg.graph.embedded.traversal import Compiler, Step, Traversal, step
from rdg.graph.embedded.traverser import Context, Traverser
from rdg.graph.embedded.values import NOTHING, equals, key_of

__all__ = ["MergeEdge", "MergeVertex"]

_IDENTITY = object()
"""``mergeV()``/``mergeE()`` with no argument: the incoming object is the map."""


# -- maps ----------------------------------------------------------------------------------------
def _norm_key(key: Any) -> Any:
    """``T.id_`` is ``T.id``; everything else is itself."""
    return T.id if token(key) == "id" else key


def _norm_map(value: Any, what: str) -> dict[Any, Any]:
    """A merge map as the step reads it (null is the empty map; values keep their cardinality)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TraversalError(f"{what} must give a map, not {type(value).__name__} {value!r}")
    out: dict[Any, Any] = {}
    for k, v in value.items():
        cv = cardinality_value(v)
        out[_norm_key(k)] = cv if cv is not None else v
    return out


def _allowed(key: Any, op: str) -> bool:
    if token(key) in ("id", "label"):
        return True
    return op == "mergeE" and key in (Direction.OUT, Direction.IN)


def _validate(m: dict[Any, Any], ignore_tokens: bool, op: str) -> None:
    """TinkerPop's checks of a merge, ``onCreate`` (tokens allowed) or ``onMatch`` map."""
    allowed = "[T.id, T.label]" if op == "mergeV" else "[T.id, T.label, Direction.IN, Direction.OUT]"
    for k, v in m.items():
        if v is None:
            raise TraversalError(f"{op}() does not allow null Map values - check: {_show(k)}")
        if ignore_tokens:
            if not isinstance(k, str):
                raise TraversalError(f"option(onMatch) expects keys in Map to be of String - check: {_show(k)}")
            check_key(k)
            continue
        if not isinstance(k, str) and not _allowed(k, op):
            raise TraversalError(f"{op}() and option(onCreate) args expect keys in Map to be either String or "
                                 f"{allowed} - check: {_show(k)}")
        if token(k) == "label":
            if not isinstance(v, str):
                raise TraversalError(f"{op}() and option(onCreate) args expect T.label value to be of String - "
                                     f"found: {type(v).__name__}")
            check_label(v)
        for direction, allowed_token in ((Direction.OUT, Merge.out_v), (Direction.IN, Merge.in_v)):
            if k == direction and isinstance(v, Merge) and v != allowed_token:
                raise TraversalError(f"Only Merge.{_merge_name(allowed_token)} token may be used for "
                                     f"Direction.{direction.name}, found: {_show(v)}")
        if isinstance(k, str):
            check_key(k)


def _merge_name(m: Merge) -> str:
    return {"on_create": "onCreate", "on_match": "onMatch", "out_v": "outV", "in_v": "inV"}[m.name]


def _show(value: Any) -> str:
    if isinstance(value, T):
        return f"T.{token(value)}"
    if isinstance(value, Merge):
        return _merge_name(value)
    if isinstance(value, Direction):
        return value.name
    return str(value)


def _same(a: Any, b: Any) -> bool:
    """Java's ``Objects.equals`` for map values (1 and 1.0 differ; vertices by id)."""
    return type(a) is type(b) and key_of(a) == key_of(b)


def _no_overrides(merge: dict[Any, Any], on_create: dict[Any, Any]) -> None:
    for k, v in on_create.items():
        if k in merge and not _same(v, merge[k]):
            raise TraversalError(f"option(onCreate) cannot override values from merge() argument: ({_show(k)}, "
                                 f"{_show(v)})")


def _has_all(store: Store, element: Any, m: dict[Any, Any]) -> bool:
    """``has(key, value)`` for every string key of ``m`` (Gremlin equality, any value of a key)."""
    for k, v in m.items():
        if isinstance(k, str) and not any(equals(x, v) for x in store.values(element, (k,))):
            return False
    return True


def search_vertices(store: Store, m: dict[Any, Any]) -> list[Vertex]:
    """``V(id).hasLabel(label).has(key, value)...`` for a merge map."""
    label = m.get(T.label)
    labels = [label] if label is not None else None
    if T.id in m:
        found: Iterator[Vertex] = store.vertices([m[T.id]])
        if labels:
            found = (v for v in found if v.label == label)
    else:
        first = next((k for k in m if isinstance(k, str) and not isinstance(m[k], CardValue)), None)
        found = store.vertices_where(labels, first, [m[first]] if first is not None else None)
    return [v for v in found if _has_all(store, v, m)]


# -- the step ------------------------------------------------------------------------------------
class _MergeBase(Step):
    """What ``mergeV`` and ``mergeE`` share: the merge map, the options, the traverser rules."""

    writes = True
    kind = "Merge"

    def __init__(self, name: str, merge: Any, at_start: bool) -> None:
        self.name, self.merge, self.at_start = name, merge, at_start
        self.options: dict[Merge, Any] = {}

    def modulate(self, name: str, args: list[Any], c: Compiler) -> None:
        if name != "option" or not args or not isinstance(args[0], Merge) or len(args) not in (2, 3):
            super().modulate(name, args, c)
            return
        which, value = args[0], args[1]
        if which in (Merge.out_v, Merge.in_v) and self.name != "mergeE":
            raise TraversalError(f"Option {_merge_name(which)} for Merge is not supported")
        if c.is_traversal(value) and cardinality_value(value) is None:
            self.options[which] = c.child(value)
            return
        if value is not None and not isinstance(value, dict):
            raise TraversalError(f"option({_merge_name(which)}) takes a map or a traversal, not {value!r}")
        if len(args) == 3:
            if self.name != "mergeV" or not isinstance(args[2], Cardinality):
                raise TraversalError("option() with the Cardinality argument can only be used following mergeV()")
            card = args[2].name.rstrip("_")
            value = {k: v if cardinality_value(v) is not None else CardValue(card, v) for k, v in (value or {}).items()}
        elif self.name != "mergeV" and any(cardinality_value(v) is not None for v in (value or {}).values()):
            raise TraversalError("option() with the Cardinality argument can only be used following mergeV()")
        self.options[which] = _Constant(value)

    def children(self) -> list[Traversal]:
        found = [self.merge, *self.options.values()]
        return [x for x in found if isinstance(x, Traversal)]

    def _map(self, ctx: Context, t: Traverser, source: Any, what: str) -> dict[Any, Any]:
        """``materializeMap``: the map a constant, the incoming object or a traversal gives."""
        if isinstance(source, _Constant):
            return _norm_map(source.value, what)
        if source is _IDENTITY:
            return _norm_map(t.obj, what)
        if isinstance(source, Traversal):
            value = source.first(ctx, t)
            if value is NOTHING:
                raise TraversalError(f"the traversal given to {what} produced no value for {t.obj!r}")
            return _norm_map(value, what)
        return _norm_map(source, what)

    def _match_map(self, ctx: Context, t: Traverser) -> dict[Any, Any]:
        """The ``onMatch`` map for one matched element (``t`` is what the option sees)."""
        source = self.options[Merge.on_match]
        if not self.at_start and isinstance(source, Traversal) and isinstance(t.obj, Element):
            raise TraversalError(f"The incoming traverser for {self.kind} cannot be an Element")
        m = self._map(ctx, t, source, "option(onMatch)")
        _validate(m, True, self.name)
        return m

    def _check_constant_match(self) -> None:
        source = self.options.get(Merge.on_match)
        if isinstance(source, _Constant):
            _validate(_norm_map(source.value, "option(onMatch)"), True, self.name)

    def flat_map(self, ctx: Context, t: Traverser) -> list[Any]:
        raise NotImplementedError

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        if ctx.read_only:
            raise TraversalError(f"{self.name}() in a read-only traversal")
        if self.at_start:
            for found in self.flat_map(ctx, Traverser.start(False, ctx.new_sack())):
                yield Traverser.start(found, ctx.new_sack())
            return
        for t in traversers:
            ctx.tick()
            for found in self.flat_map(ctx, t):
                yield t.extend(found)


class _Constant:
    """An option or merge argument given as a map (or null) rather than a traversal."""

    def __init__(self, value: Any) -> None:
        self.value = value


class MergeVertex(_MergeBase):
    """``mergeV(map | traversal)``: the vertices the map matches (``onMatch`` updates them), or
    one new vertex from the map and ``onCreate``."""

    kind = "MergeVertexStep"

    def flat_map(self, ctx: Context, t: Traverser) -> list[Any]:
        store = ctx.store
        merge = self._map(ctx, t, self.merge, "mergeV()")
        _validate(merge, False, "mergeV")
        found = search_vertices(store, merge)
        self._check_constant_match()
        if found:
            if Merge.on_match in self.options:
                for v in found:
                    seen = t.replace(v) if self.at_start else t
                    for key, value in self._match_map(ctx, seen).items():
                        card, value = (value.cardinality, value.value) if isinstance(value, CardValue) else ("single", value)
                        set_vertex_property(store, v, card, key, value)
            return list(found)
        create = self._create_map(ctx, t, merge)
        v = store.add_vertex(check_label(create.get(T.label, "vertex")), create.get(T.id))
        for key, value in create.items():
            if isinstance(key, str):
                card, value = (value.cardinality, value.value) if isinstance(value, CardValue) else ("list", value)
                set_vertex_property(store, v, card, key, value)
        return [v]

    def _create_map(self, ctx: Context, t: Traverser, merge: dict[Any, Any]) -> dict[Any, Any]:
        if Merge.on_create not in self.options:
            return merge
        on_create = self._map(ctx, t, self.options[Merge.on_create], "option(onCreate)")
        if not on_create:
            return merge
        _validate(on_create, False, "mergeV")
        if not merge:
            return on_create
        _no_overrides(merge, on_create)
        return {**on_create, **merge}


class MergeEdge(_MergeBase):
    """``mergeE(map | traversal)``: the edges the map matches (by id, ends, label and
    properties; ``onMatch`` updates them), or one new edge from the map and ``onCreate``;
    ``Merge.outV``/``Merge.inV`` in the map stand for what ``option(outV/inV)`` gives."""

    kind = "MergeEdgeStep"

    def _resolve_ends(self, ctx: Context, t: Traverser, m: dict[Any, Any]) -> dict[Any, Any]:
        for which, direction in ((Merge.out_v, Direction.OUT), (Merge.in_v, Direction.IN)):
            if direction not in m:
                continue
            value = m[direction]
            if value == which:
                source = self.options.get(which)
                if source is None:
                    raise TraversalError(f"option({_merge_name(which)}) must be specified if it is used for "
                                         f"{direction.name}")
                m[direction] = self._vertex_from_option(ctx, t, source).id
            elif isinstance(value, Vertex):
                m[direction] = value.id
        return m

    def _vertex_from_option(self, ctx: Context, t: Traverser, source: Any) -> Vertex:
        if isinstance(source, _Constant):
            value = source.value
        else:
            value = source.first(ctx, t)
            if value is NOTHING:
                raise TraversalError(f"the traversal given to option(outV/inV) produced no value for {t.obj!r}")
        if isinstance(value, Vertex):
            return _attach(ctx.store, value)
        if isinstance(value, dict):
            found = search_vertices(ctx.store, _norm_map(value, "option(outV/inV)"))
            if not found:
                raise TraversalError(f"no vertex matches {value!r} for mergeE()")
            return found[0]
        raise TraversalError(f"Vertex could not be resolved from mergeE: {value!r}")

    def _search(self, store: Store, m: dict[Any, Any]) -> list[Edge]:
        label, out, into = m.get(T.label), m.get(Direction.OUT), m.get(Direction.IN)
        labels = (label,) if label is not None else ()
        if T.id in m:
            found = [e for e in store.edges([m[T.id]]) if (label is None or e.label == label)
                     and (out is None or e.outV.id == out) and (into is None or e.inV.id == into)]
        elif out is not None or into is not None:
            end = out if out is not None else into
            found = []
            for v in store.vertices([end]):
                edges = store.adjacent(v, "out" if out is not None else "in", labels)
                found += [e for e in edges if out is None or into is None or e.inV.id == into]
        else:
            found = list(store.edges_where(labels) if labels else store.edges())
        return [e for e in found if _has_all(store, e, m)]

    def flat_map(self, ctx: Context, t: Traverser) -> list[Any]:
        store = ctx.store
        unresolved = self._map(ctx, t, self.merge, "mergeE()")
        _validate(unresolved, False, "mergeE")
        merge = self._resolve_ends(ctx, t, dict(unresolved))
        found = self._search(store, merge)
        self._check_constant_match()
        if found:
            if Merge.on_match in self.options:
                for e in found:
                    seen = t.replace(e) if self.at_start else t
                    for key, value in self._match_map(ctx, seen).items():
                        store.set_edge_property(e, key, value)
            return list(found)
        create = self._create_map(ctx, t, unresolved, merge)
        if Direction.OUT not in create:
            raise TraversalError("Out Vertex not specified in onCreate - edge cannot be created")
        if Direction.IN not in create:
            raise TraversalError("In Vertex not specified in onCreate - edge cannot be created")
        out, into = _end_vertex(store, create[Direction.OUT]), _end_vertex(store, create[Direction.IN])
        edge = store.add_edge(check_label(create.get(T.label, "edge")), out, into, create.get(T.id))
        for key, value in create.items():
            if isinstance(key, str):
                store.set_edge_property(edge, check_key(key), value)
        return [edge]

    def _create_map(self, ctx: Context, t: Traverser, unresolved: dict[Any, Any],
                    merge: dict[Any, Any]) -> dict[Any, Any]:
        if Merge.on_create not in self.options:
            return merge
        on_create = self._map(ctx, t, self.options[Merge.on_create], "option(onCreate)")
        if not on_create:
            return merge
        _validate(on_create, False, "mergeE")
        _no_overrides(unresolved, on_create)
        return self._resolve_ends(ctx, t, {**on_create, **merge})


def _attach(store: Store, v: Vertex) -> Vertex:
    try:
        return attach_vertex(store, v, "mergeE()")
    except TraversalError:
        raise TraversalError(f"Vertex could not be resolved from mergeE: {v!r}") from None


def _end_vertex(store: Store, value: Any) -> Vertex:
    """An edge end given as a vertex or as a vertex id."""
    if isinstance(value, Vertex):
        return _attach(store, value)
    found = list(store.vertices([value]))
    if not found:
        raise TraversalError(f"Vertex id could not be resolved from mergeE: {value!r}")
    return found[0]


@step("mergeV", "mergeE")
def _merge(c: Compiler, name: str, args: list[Any]) -> Step:
    if len(args) > 1:
        raise TraversalError(f"{name}() takes one map or traversal")
    if not args:
        merge: Any = _IDENTITY
    elif c.is_traversal(args[0]):
        merge = c.child(args[0])
    elif args[0] is None or isinstance(args[0], dict):
        merge = _Constant(args[0])
        _validate(_norm_map(args[0], f"{name}()"), False, name)
    else:
        raise TraversalError(f"{name}() takes a map or a traversal, not {args[0]!r}")
    cls = MergeVertex if name == "mergeV" else MergeEdge
    return cls(name, merge, c.at_start)
