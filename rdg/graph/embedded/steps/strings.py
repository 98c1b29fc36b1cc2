"""The string steps of TinkerPop 3.7 other than ``asString``/``format`` (those are in
:mod:`~rdg.graph.embedded.steps.text`): ``concat``, ``length``, ``lTrim``, ``rTrim``, ``trim``,
``replace``, ``reverse``, ``split``, ``substring``, ``toLower``, ``toUpper``.

As in TinkerGraph: a null passes through unchanged, anything else that is not a string is an
error, and ``Scope.local`` applies the step to each string of a list (nulls stay). Text is
measured and cut the way Java does it (UTF-16 units, Java's whitespace):

>>> split_whole("vadas", "a"), split_whole("hello  world", None), substring("ripple", 1, -1)
(['v', 'd', 's'], ['hello', 'world'], 'ippl')
>>> trim("\\u3000 abc \\t", left=True, right=False)
'abc \\t'
"""

from __future__ import annotations

import unicodedata
from typing import Any, Callable


from rdg.graph.embedded.errors import TraversalError, unsupported
from rdg.graph.embedded.steps.text import describe, items_of
from rdg.graph.embedded.traversal import Compiler, MapStep, Step, Traversal, step, split_scope
from rdg.graph.embedded.traverser import Context, Traverser
from rdg.graph.embedded.values import NOTHING

__all__ = ["Concat", "Reverse", "StringStep", "java_length", "replace", "split_whole", "substring", "trim"]


# -- Java's string operations --------------------------------------------------------------------
_JAVA_SPACE_CONTROLS = frozenset("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f")
_NO_BREAK_SPACES = frozenset("\u00a0\u2007\u202f")


def _java_space(ch: str) -> bool:
    """``Character.isWhitespace``: Unicode spaces except the no-break ones, and some controls."""
    if ch in _JAVA_SPACE_CONTROLS:
        return True
    return ch not in _NO_BREAK_SPACES and unicodedata.category(ch) in ("Zs", "Zl", "Zp")


def trim(text: str, *, left: bool, right: bool) -> str:
    """Java whitespace off the left and/or right end of ``text``."""
    start, end = 0, len(text)
    while left and start < end and _java_space(text[start]):
        start += 1
    while right and end > start and _java_space(text[end - 1]):
        end -= 1
    return text[start:end]


def _utf16(text: str) -> bytes:
    return text.encode("utf-16-le", "surrogatepass")


def java_length(text: str) -> int:
    """``String.length()``: UTF-16 units (a character beyond U+FFFF counts two)."""
    return len(text) if text.isascii() else len(_utf16(text)) // 2


def _index(length: int, index: int) -> int:
    """A ``substring()`` index: negative counts from the end; both ends are clamped."""
    return max(0, length + index) if index < 0 else min(index, length)


def substring(text: str, start: int, end: int | None = None) -> str:
    """``substring(start, end?)`` in UTF-16 units; an end at or before the start gives ``""``."""
    units = _utf16(text)
    length = len(units) // 2
    first = _index(length, start)
    last = length if end is None else _index(length, end)
    if last <= first:
        return ""
    piece = units[2 * first:2 * last]
    try:
        return piece.decode("utf-16-le")
    except UnicodeDecodeError as err:
        raise unsupported(f"substring({start}, {end}) of {text!r}: it cuts a character beyond U+FFFF in "
                          "half (Java would give a broken string)") from err


def replace(text: str, old: str | None, new: str | None) -> str:
    """Every ``old`` in ``text`` by ``new``; nothing happens when either is null or ``old`` is empty."""
    if not text or not old or new is None:
        return text
    return text.replace(old, new)


def split_whole(text: str, separator: str | None) -> list[str]:
    """Split on the whole ``separator`` (on runs of whitespace when it is null or empty); empty
    pieces between separators are dropped, a separator at the very end leaves a final ``""``."""
    if not text:
        return []
    if not separator:
        pieces, current = [], []
        for ch in text:
            if _java_space(ch):
                if current:
                    pieces.append("".join(current))
                    current = []
            else:
                current.append(ch)
        if current:
            pieces.append("".join(current))
        return pieces
    pieces, begin = [], 0
    while True:
        found = text.find(separator, begin)
        if found < 0:
            pieces.append(text[begin:])
            return pieces
        if found > begin:
            pieces.append(text[begin:found])
        begin = found + len(separator)


# -- the steps -----------------------------------------------------------------------------------
class StringStep(MapStep):
    """``toUpper()``, ``trim()``, ``length()``, ...: ``op`` on each string; a null passes; with
    ``Scope.local``, on each string of a list too."""

    def __init__(self, name: str, op: Callable[[str], Any], local: bool) -> None:
        self.name, self.op, self.local = name, op, local

    def map(self, ctx: Context, t: Traverser) -> Any:
        obj = t.obj
        if obj is None:
            return None
        if isinstance(obj, str):
            return self.op(obj)
        items = items_of(obj) if self.local else None
        if items is None:
            if self.local:
                raise TraversalError(f"The {self.name}(local) step can only take string or list of strings, "
                                     f"encountered {describe(obj)}")
            raise TraversalError(f"The {self.name}() step can only take string as argument, encountered "
                                 f"{describe(obj)} (use {self.name}(Scope.local) for a list of strings)")
        return [self._item(i) for i in items]

    def _item(self, item: Any) -> Any:
        if item is None:
            return None
        if not isinstance(item, str):
            raise TraversalError(f"The {self.name}(local) step can only take string or list of strings, "
                                 f"encountered {describe(item)} in list")
        return self.op(item)


class Reverse(MapStep):
    """``reverse()``: a string backwards, a list (or path) as a reversed list, anything else as it is."""

    name = "reverse"

    def map(self, ctx: Context, t: Traverser) -> Any:
        obj = t.obj
        if isinstance(obj, str):
            return obj[::-1]
        items = items_of(obj)
        return obj if items is None else items[::-1]


class Concat(MapStep):
    """``concat(strings...)`` / ``concat(traversals...)``: the string with the others appended
    (each traversal's first value from this traverser); nulls are skipped, all nulls give null."""

    name = "concat"

    def __init__(self, strings: list[str | None], traversals: list[Traversal]) -> None:
        self.strings, self.traversals = strings, traversals

    def map(self, ctx: Context, t: Traverser) -> Any:
        obj = t.obj
        if obj is not None and not isinstance(obj, str):
            raise TraversalError(f"String concat() can only take string as argument, encountered {describe(obj)} "
                                 "(asString() first turns a value into a string)")
        parts = [] if obj is None else [obj]
        for child in self.traversals:
            value = child.first(ctx, t)
            if value is NOTHING:
                raise TraversalError(f"a traversal given to concat() gave nothing for {describe(obj)}")
            if value is not None and not isinstance(value, str):
                raise TraversalError(f"a traversal given to concat() must give strings, it gave {describe(value)}")
            if value is not None:
                parts.append(value)
        parts.extend(s for s in self.strings if s is not None)
        return "".join(parts) if parts else None

    def children(self) -> list[Traversal]:
        return list(self.traversals)


# -- factories -----------------------------------------------------------------------------------

def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text_or_null(name: str, value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TraversalError(f"{name}() takes strings, not {describe(value)}")
    return value


_SIMPLE: dict[str, Callable[[str], Any]] = {
    "length": java_length,
    "toLower": str.lower,
    "toUpper": str.upper,
    "trim": lambda s: trim(s, left=True, right=True),
    "lTrim": lambda s: trim(s, left=True, right=False),
    "rTrim": lambda s: trim(s, left=False, right=True),
}


@step(*_SIMPLE)
def _simple(c: Compiler, name: str, args: list[Any]) -> Step:
    local, rest = split_scope(args)
    if rest:
        raise TraversalError(f"{name}() takes only a scope")
    return StringStep(name, _SIMPLE[name], local)


@step("replace")
def _replace(c: Compiler, name: str, args: list[Any]) -> Step:
    local, rest = split_scope(args)
    if len(rest) != 2:
        raise TraversalError("replace() takes the text to find and its replacement")
    old, new = _text_or_null(name, rest[0]), _text_or_null(name, rest[1])
    return StringStep(name, lambda s: replace(s, old, new), local)


@step("split")
def _split(c: Compiler, name: str, args: list[Any]) -> Step:
    local, rest = split_scope(args)
    if len(rest) != 1:
        raise TraversalError("split() takes one separator")
    separator = _text_or_null(name, rest[0])
    return StringStep(name, lambda s: split_whole(s, separator), local)


@step("substring")
def _substring(c: Compiler, name: str, args: list[Any]) -> Step:
    local, rest = split_scope(args)
    if len(rest) not in (1, 2) or not all(_is_int(a) for a in rest):
        raise TraversalError("substring() takes a start index and an optional end index (whole numbers)")
    start, end = rest[0], (rest[1] if len(rest) == 2 else None)
    return StringStep(name, lambda s: substring(s, start, end), local)


@step("reverse")
def _reverse(c: Compiler, name: str, args: list[Any]) -> Step:
    if args:
        raise TraversalError("reverse() takes no arguments")
    return Reverse()


@step("concat")
def _concat(c: Compiler, name: str, args: list[Any]) -> Step:
    if args and all(c.is_traversal(a) for a in args):
        return Concat([], [c.child(a) for a in args])
    if any(c.is_traversal(a) for a in args):
        raise TraversalError("concat() takes either strings or traversals, not both")
    return Concat([_text_or_null(name, a) for a in args], [])
