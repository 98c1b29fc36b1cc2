"""Templates over an event: ``"{profile_id}"`` or ``"ev-{event_id}"``, field references only.

A template is NOT Python: the only thing it can do is read a field of the canonical event.
A template that is exactly one reference keeps the field's type; mixed text gives a string.
``{{`` and ``}}`` stand for literal braces.

>>> t = Template.parse("{profile_id}")
>>> t.fields
('profile_id',)
>>> t.render({"profile_id": 42})
42
>>> Template.parse("ev-{kind}:{n}").render({"kind": "play", "n": 3})
'ev-play:3'
>>> Template.parse("{missing}").render({})
Traceback (most recent call last):
...
KeyError: 'missing'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

__all__ = ["Template", "TemplateSyntaxError"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class TemplateSyntaxError(ValueError):
    """The template text is malformed (unbalanced braces, a reference that is not a field name)."""


@dataclass(frozen=True)
class Template:
    """A parsed template: literal text and field references, in order."""

    text: str
    parts: tuple[tuple[bool, str], ...]
    """``(is_field, text)`` pairs."""

    @property
    def fields(self) -> tuple[str, ...]:
        """Field names the template reads, in order of appearance."""
        return tuple(text for is_field, text in self.parts if is_field)

    @property
    def is_single(self) -> bool:
        """True when the template is exactly one field reference (the value keeps its type)."""
        return len(self.parts) == 1 and self.parts[0][0]

    @classmethod
    def parse(cls, text: str) -> "Template":
        """Parse template text.

        Raises:
            TemplateSyntaxError: Unbalanced braces or a reference that is not a plain field name.

        >>> Template.parse("{a b}")
        Traceback (most recent call last):
        ...
        rdg.spec._pipeline_template.TemplateSyntaxError: '{a b}' is not a field name: use letters, digits and _ only
        """
        parts: list[tuple[bool, str]] = []
        buf: list[str] = []
        i = 0
        while i < len(text):
            ch = text[i]
            if ch == "{" and text.startswith("{{", i):
                buf.append("{")
                i += 2
            elif ch == "}" and text.startswith("}}", i):
                buf.append("}")
                i += 2
            elif ch == "{":
                end = text.find("}", i)
                if end < 0:
                    msg = f"unclosed '{{' at character {i + 1}: close it with '}}' or write '{{{{' for a literal brace"
                    raise TemplateSyntaxError(msg)
                name = text[i + 1:end].strip()
                if not _NAME.match(name):
                    msg = f"'{{{name}}}' is not a field name: use letters, digits and _ only"
                    raise TemplateSyntaxError(msg)
                if buf:
                    parts.append((False, "".join(buf)))
                    buf = []
                parts.append((True, name))
                i = end + 1
            elif ch == "}":
                msg = f"unmatched '}}' at character {i + 1}: write '}}}}' for a literal brace"
                raise TemplateSyntaxError(msg)
            else:
                buf.append(ch)
                i += 1
        if buf:
            parts.append((False, "".join(buf)))
        return cls(text, tuple(parts))

    def render(self, event: Mapping[str, Any]) -> Any:
        """The value for ``event``.

        Raises:
            KeyError: A referenced field is missing or ``None`` (the caller decides what that means).
        """
        if self.is_single:
            value = event.get(self.parts[0][1])
            if value is None:
                raise KeyError(self.parts[0][1])
            return value
        out: list[str] = []
        for is_field, text in self.parts:
            if is_field:
                value = event.get(text)
                if value is None:
                    raise KeyError(text)
                out.append(str(value))
            else:
                out.append(text)
        return "".join(out)
