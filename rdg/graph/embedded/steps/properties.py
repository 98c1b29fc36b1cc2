"""Reading elements: ``values``, ``properties``, ``id``, ``label``, ``key``, ``value``,
``element``, ``valueMap``, ``propertyMap``, ``elementMap``.

A ``null`` among the keys is ignored (``values("name", null)`` is ``values("name")``);
``valueMap`` takes ``with(WithOptions.tokens[, ids|labels|keys|values])`` and any number of
``by()``, used in turn for each entry of the map (tokens included), as TinkerPop's ring does.

>>> from gremlin_python.process.anonymous_traversal import traversal
>>> from rdg.graph.embedded.engine import EmbeddedConnection
>>> from rdg.graph.embedded.store import Store
>>> g = traversal().with_remote(EmbeddedConnection(Store.open(":memory:")))
>>> _ = g.add_v("person").property("name", "marko").iterate()
>>> g.V().value_map("name", None).to_list()
[{'name': ['marko']}]
>>> g.V().properties("name").element().label().to_list()
['person']
"""

from __future__ import annotations

from typing import Any, Iterable

from gremlin_python.process.traversal import Direction, T, WithOptions
from gremlin_python.structure.graph import Edge, Element, Property, Vertex, VertexProperty

from rdg.graph.embedded.errors import TraversalError, unsupported
from rdg.graph.embedded.traversal import By, Compiler, FlatMapStep, MapStep, Step, Traversal, step
from rdg.graph.embedded.traverser import Context, Traverser
from rdg.graph.embedded.values import NOTHING

__all__ = ["ElementMap", "ElementOf", "Properties", "Token", "ValueMap"]


def _element(name: str, obj: Any) -> Any:
    if not isinstance(obj, (Vertex, Edge, VertexProperty)):
        raise TraversalError(f"{name}() needs an element, not {type(obj).__name__} {obj!r}")
    return obj


def _keys(name: str, args: list[Any]) -> tuple[str, ...]:
    """Property keys given to a step (``null`` ones are left out, as TinkerPop does)."""
    keys = [a for a in args if a is not None]
    if not all(isinstance(a, str) for a in keys):
        raise TraversalError(f"{name}() takes property keys (strings), not {args!r}")
    return tuple(keys)


class Properties(FlatMapStep):
    """``values(keys...)`` (the values) and ``properties(keys...)`` (the property objects)."""

    def __init__(self, name: str, keys: tuple[str, ...], all_keys: bool) -> None:
        self.name, self.keys, self.all_keys = name, keys, all_keys

    def flat_map(self, ctx: Context, t: Traverser) -> Iterable[Any]:
        obj = t.obj
        if not self.all_keys and not self.keys:
            return ()  # only null keys were given
        if self.name == "values" and isinstance(obj, dict):
            return [obj[k] for k in self.keys if k in obj] if self.keys else list(obj.values())
        found = ctx.store.properties(_element(self.name, obj), self.keys)
        return [p.value for p in found] if self.name == "values" else found


@step("values", "properties")
def _properties(c: Compiler, name: str, args: list[Any]) -> Step:
    return Properties(name, _keys(name, args), not args)


class Token(MapStep):
    """``id()``, ``label()``, ``key()``, ``value()``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def map(self, ctx: Context, t: Traverser) -> Any:
        obj = t.obj
        if self.name == "id" and isinstance(obj, Element):
            return obj.id
        if self.name == "label" and isinstance(obj, Element):
            return obj.label
        if self.name == "key" and isinstance(obj, (VertexProperty, Property)):
            return obj.label if isinstance(obj, VertexProperty) else obj.key
        if self.name == "value" and isinstance(obj, (VertexProperty, Property)):
            return obj.value
        raise TraversalError(f"{self.name}() cannot be taken from {type(obj).__name__} {obj!r}")


@step("id", "label", "key", "value")
def _token(c: Compiler, name: str, args: list[Any]) -> Step:
    if args:
        raise TraversalError(f"{name}() takes no arguments")
    return Token(name)


class ElementOf(MapStep):
    """``element()``: the vertex of a vertex property, the edge or vertex property of a property."""

    name = "element"

    def map(self, ctx: Context, t: Traverser) -> Any:
        obj = t.obj
        owner = obj.vertex if isinstance(obj, VertexProperty) else obj.element if isinstance(obj, Property) else None
        if owner is None:
            raise TraversalError(f"element() needs a property, not {type(obj).__name__} {obj!r}")
        return owner


@step("element")
def _element_step(c: Compiler, name: str, args: list[Any]) -> Step:
    if args:
        raise TraversalError("element() takes no arguments")
    return ElementOf()


def _tokens(value: Any) -> int:
    """``valueMap(true)``/``with(WithOptions.tokens, ...)`` as TinkerPop's bit mask."""
    if value is True:
        return WithOptions.all
    if value is False:
        return WithOptions.none
    if isinstance(value, int):
        return value
    raise TraversalError("WithOptions.tokens requires Integer arguments (possible values are: "
                         "WithOptions.[none|ids|labels|keys|values|all])")


class ValueMap(MapStep):
    """``valueMap(keys...)`` (values, in lists for vertices), ``propertyMap(keys...)`` (the
    property objects); ``valueMap(true)`` or ``with(WithOptions.tokens)`` add id and label."""

    def __init__(self, name: str, keys: tuple[str, ...], all_keys: bool, tokens: int) -> None:
        self.name, self.keys, self.all_keys, self.tokens = name, keys, all_keys, tokens
        self.bys: list[By] = []

    def modulate(self, name: str, args: list[Any], c: Compiler) -> None:
        if name == "by":
            self.bys.append(By(args, c))
        elif name == "with" and args and args[0] == WithOptions.tokens:
            if len(args) == 1:
                self.tokens = WithOptions.all
            elif len(args) == 2 and isinstance(args[1], bool):
                self.tokens = _tokens(args[1])
            else:
                for option in args[1:]:
                    if isinstance(option, bool):
                        raise TraversalError("WithOptions.tokens requires Integer arguments")
                    self.tokens |= _tokens(option)
        elif name == "with":
            return  # other options are kept by TinkerPop and read by nothing
        else:
            super().modulate(name, args, c)

    def children(self) -> list[Traversal]:
        return [x for b in self.bys for x in b.children()]

    def _tokens_of(self, obj: Any, out: dict[Any, Any]) -> None:
        if self.name != "valueMap":
            return
        if self.tokens & WithOptions.ids:
            out[T.id] = obj.id
        if isinstance(obj, VertexProperty):
            if self.tokens & WithOptions.keys:
                out[T.key] = obj.label
            if self.tokens & WithOptions.values:
                out[T.value] = obj.value
        elif self.tokens & WithOptions.labels:
            out[T.label] = obj.label

    def map(self, ctx: Context, t: Traverser) -> Any:
        obj = _element(self.name, t.obj)
        out: dict[Any, Any] = {}
        self._tokens_of(obj, out)
        found = ctx.store.properties(obj, self.keys) if self.all_keys or self.keys else []
        for p in found:
            key = p.label if isinstance(p, VertexProperty) else p.key
            item = p if self.name == "propertyMap" else p.value
            if isinstance(obj, Vertex):
                out.setdefault(key, []).append(item)
            else:
                out[key] = item
        if self.bys:
            for i, key in enumerate(list(out)):
                value = self.bys[i % len(self.bys)].value_of(ctx, out[key])
                if value is NOTHING:
                    del out[key]
                else:
                    out[key] = value
        return out


@step("valueMap", "propertyMap")
def _value_map(c: Compiler, name: str, args: list[Any]) -> Step:
    tokens = WithOptions.none
    if args and isinstance(args[0], bool):
        tokens, args = _tokens(args[0]), args[1:]
    if not all(a is None or isinstance(a, str) for a in args):
        raise unsupported(f"{name}() with {args!r}")
    return ValueMap(name, _keys(name, args), not args, tokens)


class ElementMap(MapStep):
    """``elementMap(keys...)``: id, label, one value per key (the last, for multi-properties)
    and an edge's two ends."""

    name = "elementMap"

    def __init__(self, keys: tuple[str, ...], all_keys: bool) -> None:
        self.keys, self.all_keys = keys, all_keys

    def map(self, ctx: Context, t: Traverser) -> Any:
        obj = _element(self.name, t.obj)
        out: dict[Any, Any] = {T.id: obj.id}
        if isinstance(obj, VertexProperty):
            out[T.key] = obj.label
            out[T.value] = obj.value
        else:
            out[T.label] = obj.label
        if isinstance(obj, Edge):
            out[Direction.IN] = {T.id: obj.inV.id, T.label: obj.inV.label}
            out[Direction.OUT] = {T.id: obj.outV.id, T.label: obj.outV.label}
        found = ctx.store.properties(obj, self.keys) if self.all_keys or self.keys else []
        for p in found:
            out[p.label if isinstance(p, VertexProperty) else p.key] = p.value
        return out


@step("elementMap")
def _element_map(c: Compiler, name: str, args: list[Any]) -> Step:
    return ElementMap(_keys(name, args), not args)
