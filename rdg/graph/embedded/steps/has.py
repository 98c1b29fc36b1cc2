"""Filters on elements and properties: ``has`` in all its forms, ``hasLabel``, ``hasId``,
``hasKey``, ``hasValue``, ``hasNot``.

A value where a predicate may stand means ``eq(value)``; a multi-valued vertex property
passes when any of its values does.
"""

from __future__ import annotations

from typing import Any

from gremlin_python.process.traversal import P, T
from gremlin_python.structure.graph import Edge, Element, Property, Vertex, VertexProperty

from rdg.graph.embedded.errors import TraversalError, unsupported
from rdg.graph.embedded.predicates import Ternary, test
from rdg.graph.embedded.steps.logic import TernaryFilter
from rdg.graph.embedded.steps.start import GraphStep
from rdg.graph.embedded.traversal import Compiler, FilterStep, Step, Traversal, step
from rdg.graph.embedded.traverser import Context, Traverser
from rdg.graph.embedded.values import NOTHING

__all__ = ["Has", "HasNot"]


def _pred(value: Any) -> P:
    return value if isinstance(value, P) else P.eq(value)


def _any_of(values: list[Any]) -> P:
    flat: list[Any] = []
    for v in values:
        if isinstance(v, (list, tuple, set)):
            flat.extend(v)
        else:
            flat.append(v)
    if len(flat) == 1 and isinstance(flat[0], P):
        return flat[0]
    if any(isinstance(v, P) for v in flat):
        raise unsupported("a mix of values and predicates in one has step")
    return P.within(flat)


def _token_value(obj: Any, token: T) -> Any:
    """``T.id``/``T.label`` of an element, ``T.key``/``T.value`` of a property or vertex
    property; :data:`NOTHING` where the token does not apply (the ``has`` is then false)."""
    name = token.name.rstrip("_")
    if isinstance(obj, VertexProperty):
        return {"id": obj.id, "label": obj.label, "key": obj.label, "value": obj.value}[name]
    if isinstance(obj, Property):
        return {"key": obj.key, "value": obj.value}.get(name, NOTHING)
    if isinstance(obj, Element):
        return {"id": obj.id, "label": obj.label}.get(name, NOTHING)
    raise TraversalError(f"has() needs an element or a property, not {type(obj).__name__} {obj!r}")


class Has(TernaryFilter):
    """Keeps elements whose ``what`` (a property key, or ``T.id``/``T.label``/``T.key``/
    ``T.value``) satisfies ``predicate`` (or, with a traversal, whose value the traversal
    maps to something); ``label`` narrows to that label too. ``id_as_string`` compares ids
    as strings (``hasId("1")``, as TinkerPop does when every wanted id is a string)."""

    def __init__(self, name: str, what: Any, predicate: P | None, *, label: str | None = None,
                 traversal: Traversal | None = None, id_as_string: bool = False) -> None:
        self.name, self.what, self.predicate, self.label, self.traversal = name, what, predicate, label, traversal
        self.id_as_string = id_as_string

    def _passes(self, ctx: Context, t: Traverser, value: Any) -> Ternary:
        if self.traversal is not None:
            return self.traversal.produces(ctx, t.extend(value))
        return test(self.predicate, value) if self.predicate is not None else True

    def check(self, ctx: Context, t: Traverser) -> Ternary:
        obj = t.obj
        if self.label is not None and not (isinstance(obj, Element) and obj.label == self.label):
            return False
        if isinstance(self.what, T):
            value = _token_value(obj, self.what)
            if value is NOTHING:
                return False
            if self.id_as_string and self.what.name.startswith("id"):
                value = str(value)
            return self._passes(ctx, t, value)
        if isinstance(obj, Property) and not isinstance(obj, VertexProperty):
            return False
        if not isinstance(obj, (Vertex, Edge, VertexProperty)):
            raise TraversalError(f"{self.name}() needs an element, not {type(obj).__name__} {obj!r}")
        if self.what is None:
            return False
        for value in ctx.store.values(obj, (self.what,)):
            result = self._passes(ctx, t, value)
            if result is not False:
                return result
        return False

    def children(self) -> list[Traversal]:
        return [self.traversal] if self.traversal is not None else []


class HasNot(FilterStep):
    """``hasNot(key)``: elements without that property."""

    name = "hasNot"

    def __init__(self, key: str) -> None:
        self.key = key

    def keep(self, ctx: Context, t: Traverser) -> bool:
        obj = t.obj
        if not isinstance(obj, (Vertex, Edge, VertexProperty)):
            return True
        return not ctx.store.values(obj, (self.key,))


def _ids_as_strings(p: P) -> bool:
    """TinkerPop compares ids as strings when the wanted ids are all strings (``hasId("1")``)."""
    if p.operator in ("and", "or", "not"):
        return False
    if isinstance(p.value, str):
        return True
    wanted = p.value if isinstance(p.value, (list, tuple, set)) else None
    return bool(wanted) and all(w is None or isinstance(w, str) for w in wanted)


def _push_down(c: Compiler, labels: list[str] | None, key: str | None, p: P | None) -> None:
    """Let a ``V()`` just before read only what this ``has`` can keep (an index lookup)."""
    prev = c.steps_so_far[-1] if c.steps_so_far else None
    if not isinstance(prev, GraphStep) or prev.name != "V" or prev.ids is not None or prev.key is not None:
        return
    if labels is not None and prev.labels is None and all(isinstance(x, str) for x in labels):
        prev.labels = list(labels)
    if key is not None and p is not None and p.operator in ("eq", "within") and p.value is not None:
        values = p.value if p.operator == "within" else [p.value]
        if isinstance(values, (list, tuple)) and all(v is not None for v in values):
            prev.key, prev.values = key, list(values)


@step("has")
def _has(c: Compiler, name: str, args: list[Any]) -> Step:
    if len(args) == 1:
        if isinstance(args[0], T) or args[0] is None:
            return Has("has", args[0], None)
        if not isinstance(args[0], str):
            raise TraversalError(f"has() takes a property key, not {args[0]!r}")
        return Has("has", args[0], None)
    if len(args) == 2:
        what, value = args
        if c.is_traversal(value):
            return Has("has", what, None, traversal=c.child(value))
        p = _pred(value)
        if isinstance(what, T) and what.name == "label":
            _push_down(c, [p.value] if p.operator == "eq" else (list(p.value) if p.operator == "within" else None),
                       None, None)
        elif isinstance(what, str):
            _push_down(c, None, what, p)
        is_id = isinstance(what, T) and what.name.startswith("id")
        return Has("has", what, p, id_as_string=is_id and _ids_as_strings(p))
    if len(args) == 3:
        label, key, value = args
        p = _pred(value)
        if isinstance(key, str):
            _push_down(c, [label], key, p)
        return Has("has", key, p, label=label)
    raise TraversalError(f"has() takes 1 to 3 arguments, not {len(args)}")


@step("hasLabel")
def _has_label(c: Compiler, name: str, args: list[Any]) -> Step:
    p = _any_of(args)
    if p.operator == "within":
        _push_down(c, list(p.value), None, None)
    return Has(name, T.label, p)


@step("hasId")
def _has_id(c: Compiler, name: str, args: list[Any]) -> Step:
    flat = [x for a in args for x in (a if isinstance(a, (list, tuple, set)) else [a])]
    p = _any_of([a.id if isinstance(a, Element) else a for a in flat])
    return Has(name, T.id, p, id_as_string=_ids_as_strings(p))


@step("hasKey")
def _has_key(c: Compiler, name: str, args: list[Any]) -> Step:
    return Has(name, T.key, _any_of(args))


@step("hasValue")
def _has_value(c: Compiler, name: str, args: list[Any]) -> Step:
    return Has(name, T.value, _any_of(args))


@step("hasNot")
def _has_not(c: Compiler, name: str, args: list[Any]) -> Step:
    if len(args) != 1 or not isinstance(args[0], str):
        raise TraversalError("hasNot() takes one property key")
    return HasNot(args[0])
