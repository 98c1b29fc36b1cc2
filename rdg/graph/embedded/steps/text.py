"""Values as text, the way TinkerGraph's Java writes them: the steps ``asString`` and ``format``,
and the helpers the string, list and date steps share (:func:`describe` for error messages,
:func:`items_of` for what Java calls an Iterable, :func:`java_string`). The other string steps
are in :mod:`~rdg.graph.embedded.steps.strings`.

As in TinkerGraph, a null passes through ``asString`` unchanged and ``Scope.local`` applies it to
each item of a list; values become text as Java's ``String.valueOf`` writes them:

>>> java_string([1, 2.5, None, {"name": ["marko"]}, True, 1e-05])
'[1, 2.5, null, {name=[marko]}, true, 1.0E-5]'
"""

from __future__ import annotations

import math
import re
import uuid
from decimal import Decimal
from enum import Enum
from typing import Any

from gremlin_python.structure.graph import Edge, Path, Property, Vertex, VertexProperty

from rdg.graph.embedded.errors import TraversalError, unsupported
from rdg.graph.embedded.traversal import By, Compiler, MapEntry, MapStep, Step, Traversal, step, split_scope
from rdg.graph.embedded.traverser import Context, Traverser
from rdg.graph.embedded.values import NOTHING, type_name

__all__ = ["AsString", "Format", "describe", "items_of", "java_double", "java_string"]


# -- Java's view of values -----------------------------------------------------------------------
def describe(value: Any) -> str:
    """A value for an error message: its Gremlin type and (shortened) text."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type_name(value)} {text}"


def items_of(value: Any) -> list[Any] | None:
    """The items of what Java calls an Iterable (a list, a set, a path), else ``None``."""
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    if isinstance(value, Path):
        return list(value.objects)
    return None


def java_double(x: float) -> str:
    """``Double.toString``: plain between 10^-3 and 10^7, else ``1.0E10`` style.

    >>> java_double(29.0), java_double(1e7), java_double(-0.00012), java_double(float("nan"))
    ('29.0', '1.0E7', '-1.2E-4', 'NaN')
    """
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    if 1e-3 <= abs(x) < 1e7:
        return repr(x)  # Python writes this range plainly too, whole numbers with ".0"
    sign, digits, exponent = Decimal(repr(x)).as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    power = int(exponent) + len(digits) - 1
    return f"{'-' if sign else ''}{text[0]}.{text[1:] or '0'}E{power}"


def _abbreviate(text: str, width: int = 20) -> str:
    return text if len(text) <= width else text[:width - 3] + "..."


def java_string(value: Any) -> str:
    """``String.valueOf(value)`` as TinkerGraph writes it: ``v[1]``, ``e[7][1-knows->2]``,
    ``vp[name->marko]``, ``[a, b]``, ``{k=v}``, ``null``, ``true``, ``29``, ``0.5``.

    Raises:
        EmbeddedUnsupportedError: For values whose text is the JVM's own business (a date, which
            Java writes in the server's time zone, or a set of several items, in hash order).
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Vertex):
        return f"v[{java_string(value.id)}]"
    if isinstance(value, Edge):
        return (f"e[{java_string(value.id)}][{java_string(value.outV.id)}-{value.label}->"
                f"{java_string(value.inV.id)}]")
    if isinstance(value, VertexProperty):
        return f"vp[{value.label}->{_abbreviate(java_string(value.value))}]"
    if isinstance(value, Property):
        return f"p[{value.key}->{_abbreviate(java_string(value.value))}]"
    if isinstance(value, Path):
        return "path[" + ", ".join(java_string(o) for o in value.objects) + "]"
    if isinstance(value, MapEntry):
        return f"{java_string(value.key)}={java_string(value.value)}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{java_string(k)}={java_string(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(java_string(v) for v in value) + "]"
    if isinstance(value, (set, frozenset)) and len(value) <= 1:
        return "[" + ", ".join(java_string(v) for v in value) + "]"
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.name.rstrip("_")
    raise unsupported(f"the text of {describe(value)} (TinkerGraph writes it in the JVM's own way: "
                      "a date in the server's time zone, a set in hash order)")


# -- the steps -----------------------------------------------------------------------------------
class AsString(MapStep):
    """``asString()``: any value as text (null stays null); ``asString(local)``: each item of a list."""

    name = "asString"

    def __init__(self, local: bool) -> None:
        self.local = local

    def map(self, ctx: Context, t: Traverser) -> Any:
        obj = t.obj
        if obj is None:
            return None
        items = items_of(obj) if self.local else None
        if items is None:
            return java_string(obj)
        return [None if i is None else java_string(i) for i in items]


_VARIABLE = re.compile(r"(?<!%)%\{(.*?)\}")
_FROM_BY = "_"


class Format(MapStep):
    """``format("%{name} is %{age}")``: each ``%{key}`` is the element's property, else the map's
    key, a side effect or the last object labelled so on the path; ``%{_}`` takes the next
    ``by()`` in turn (the object itself without one). A variable with no value (or null) drops
    the traverser."""

    name = "format"

    def __init__(self, template: str) -> None:
        self.template = template
        self.bys: list[By] = []

    def modulate(self, name: str, args: list[Any], c: Compiler) -> None:
        if name != "by":
            super().modulate(name, args, c)
        self.bys.append(By(args, c))

    def map(self, ctx: Context, t: Traverser) -> Any:
        out: list[str] = []
        last = 0
        turn = 0
        for match in _VARIABLE.finditer(self.template):
            name = match.group(1)
            if name == _FROM_BY:
                value = self._from_by(ctx, t, turn)
                turn += 1
            else:
                value = self._variable(ctx, t, name)
            if value is NOTHING or value is None:
                return NOTHING
            out.append(self.template[last:match.start()])
            out.append(java_string(value))
            last = match.end()
        out.append(self.template[last:])
        return "".join(out)

    def _from_by(self, ctx: Context, t: Traverser, turn: int) -> Any:
        if not self.bys:
            return t.obj
        return self.bys[turn % len(self.bys)].value(ctx, t)

    @staticmethod
    def _variable(ctx: Context, t: Traverser, name: str) -> Any:
        obj = t.obj
        if isinstance(obj, (Vertex, Edge, VertexProperty)):
            found = ctx.store.properties(obj, (name,))
            if len(found) > 1:
                raise TraversalError(f"format(): {describe(obj)} has several '{name}' properties; "
                                     f"use values('{name}') to choose one")
            if found:
                return found[0].value
        if isinstance(obj, dict) and not isinstance(obj, MapEntry) and name in obj:
            return obj[name]
        if name in ctx.side_effects:
            return ctx.side_effects[name]
        labelled = t.select(name)
        return labelled[-1] if labelled else NOTHING

    def children(self) -> list[Traversal]:
        return [x for b in self.bys for x in b.children()]


# -- factories -----------------------------------------------------------------------------------
@step("asString")
def _as_string(c: Compiler, name: str, args: list[Any]) -> Step:
    local, rest = split_scope(args)
    if rest:
        raise TraversalError("asString() takes only a scope")
    return AsString(local)


@step("format")
def _format(c: Compiler, name: str, args: list[Any]) -> Step:
    if len(args) != 1 or not isinstance(args[0], str):
        raise TraversalError("format() takes one template string, e.g. format('%{name} is %{age}')")
    return Format(args[0])
