"""Reading elements: ``values``, ``properties``, ``id``, ``label``, ``key``, ``value``,
``valueMap``, ``propertyMap``, ``elementMap``."""

from __future__ import annotations

from typing import Any, Iterable

from gremlin_python.process.traversal import Direction, T, WithOptions
from gremlin_python.structure.graph import Edge, Element, Property, Vertex, VertexProperty

from rdg.graph.embedded.errors import TraversalError, unsupported
from rdg.graph.embedded.traversal import By, Compiler, FlatMapStep, MapStep, Step, step
from rdg.graph.embedded.traverser import Context, Traverser
from rdg.graph.embedded.values import NOTHING

__all__ = ["ElementMap", "Properties", "Token", "ValueMap"]


def _element(name: str, obj: Any) -> Any:
    if not isinstance(obj, (Vertex, Edge, VertexProperty)):
        raise TraversalError(f"{name}() needs an element, not {type(obj).__name__} {obj!r}")
    return obj


class Properties(FlatMapStep):
    """``values(keys...)`` (the values) and ``properties(keys...)`` (the property objects)."""

    def __init__(self, name: str, keys: tuple[str, ...]) -> None:
        self.name, self.keys = name, keys

    def flat_map(self, ctx: Context, t: Traverser) -> Iterable[Any]:
        obj = t.obj
        if self.name == "values" and isinstance(obj, dict):
            return [obj[k] for k in self.keys if k in obj] if self.keys else list(obj.values())
        found = ctx.store.properties(_element(self.name, obj), self.keys)
        return [p.value for p in found] if self.name == "values" else found


@step("values", "properties")
def _properties(c: Compiler, name: str, args: list[Any]) -> Step:
    if not all(isinstance(a, str) for a in args):
        raise TraversalError(f"{name}() takes property keys (strings)")
    return Properties(name, tuple(args))


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


class ValueMap(MapStep):
    """``valueMap(keys...)`` (values in lists for vertices), ``propertyMap(keys...)`` (the
    property objects); ``valueMap(true)`` or ``with(WithOptions.tokens)`` add id and label;
    ``by()`` modulates the value lists."""

    def __init__(self, name: str, keys: tuple[str, ...], tokens: bool) -> None:
        self.name, self.keys, self.tokens = name, keys, tokens
        self.by: By | None = None

    def modulate(self, name: str, args: list[Any], c: Compiler) -> None:
        if name == "by" and self.name == "valueMap" and self.by is None:
            self.by = By(args, c)
        elif name == "with" and args and args[0] == WithOptions.tokens:
            option = args[1] if len(args) > 1 else WithOptions.all
            if option in (WithOptions.all, WithOptions.ids, WithOptions.labels, WithOptions.keys, WithOptions.values):
                self.tokens = option
            else:
                self.tokens = option
        else:
            super().modulate(name, args, c)

    def map(self, ctx: Context, t: Traverser) -> Any:
        obj = _element(self.name, t.obj)
        out: dict[Any, Any] = {}
        tokens = self.tokens
        if tokens is True:
            tokens = WithOptions.all
        if tokens and tokens != WithOptions.none:
            if tokens in (WithOptions.all, WithOptions.ids):
                out[T.id] = obj.id
            if tokens in (WithOptions.all, WithOptions.labels):
                if isinstance(obj, VertexProperty):
                    out[T.key] = obj.label
                else:
                    out[T.label] = obj.label
            if isinstance(obj, VertexProperty) and tokens == WithOptions.all:
                out[T.value] = obj.value
        for p in ctx.store.properties(obj, self.keys):
            key = p.label if isinstance(p, VertexProperty) else p.key
            item = p if self.name == "propertyMap" else p.value
            if isinstance(obj, Vertex):
                out.setdefault(key, []).append(item)
            else:
                out[key] = item if self.name == "valueMap" else [item]
        if self.by is not None:
            for k, v in list(out.items()):
                if not isinstance(k, T):
                    value = self.by.value_of(ctx, v)
                    if value is NOTHING:
                        del out[k]
                    else:
                        out[k] = value
        return out


@step("valueMap", "propertyMap")
def _value_map(c: Compiler, name: str, args: list[Any]) -> Step:
    tokens: Any = False
    if args and isinstance(args[0], bool):
        tokens, args = args[0], args[1:]
    if not all(isinstance(a, str) for a in args):
        raise unsupported(f"{name}() with {args!r}")
    return ValueMap(name, tuple(args), tokens)


class ElementMap(MapStep):
    """``elementMap(keys...)``: id, label, one value per key, and an edge's two ends."""

    name = "elementMap"

    def __init__(self, keys: tuple[str, ...]) -> None:
        self.keys = keys

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
        for p in ctx.store.properties(obj, self.keys):
            key = p.label if isinstance(p, VertexProperty) else p.key
            out.setdefault(key, p.value)
        return out


@step("elementMap")
def _element_map(c: Compiler, name: str, args: list[Any]) -> Step:
    if not all(isinstance(a, str) for a in args):
        raise TraversalError("elementMap() takes property keys (strings)")
    return ElementMap(tuple(args))
