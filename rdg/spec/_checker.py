"""The base every spec checker builds on: one wording for each kind of problem.

A checker walks YAML data (a :class:`YamlDoc` knows where each value came from) and collects
every problem as a :class:`Lint` instead of stopping at the first. Pipeline and workflow specs
subclass :class:`SpecChecker` and add what is theirs; shared checks live here, so the same
mistake reads the same in both.

>>> from rdg.spec._yaml import load_yaml_text
>>> ck = SpecChecker(load_yaml_text("retyr: 3\\nwindow: soon\\n", "w.yaml"))
>>> ck.unknown_keys(ck.doc.data, (), ("retry", "window"), "the workflow")
>>> ck.duration(ck.doc.data["window"], ("window",), "window") is None
True
>>> for lint in ck.lints: print(lint)
w.yaml:1:1: unknown key 'retyr' in the workflow (did you mean 'retry'?)
w.yaml:2:9: window: 'soon' is not a duration (write e.g. 250ms, 30s, 5m or 1h45m; a bare number is seconds)
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from rdg.duration import parse_duration
from rdg.errors import DurationError
from rdg.spec._lint import Lint, LintKind, LintLevel, did_you_mean
from rdg.spec._yaml import YamlDoc

__all__ = ["SpecChecker", "kind_of"]

Path_ = tuple[Any, ...]


def kind_of(value: Any) -> str:
    """How a YAML value reads to a user.

    >>> kind_of([1]), kind_of({}), kind_of("x"), kind_of(True), kind_of(2.5), kind_of(None)
    ('a list', 'a mapping', 'a string', 'a boolean', 'a number', 'empty')
    """
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "empty"}.get(type(value), type(value).__name__)


class SpecChecker:
    """Collects lints for one YAML document; subclasses add the checks of their format."""

    def __init__(self, doc: YamlDoc) -> None:
        self.doc = doc
        self.lints: list[Lint] = []

    def at(self, path: Path_) -> tuple[str, int, int]:
        """``(file, line, column)`` of the value at ``path``."""
        line, col = self.doc.where(*path)
        return (self.doc.file, line, col)

    def add(self, path: Path_, kind: LintKind, message: str, hint: str | None = None, *,
            at_key: bool = False, warning: bool = False) -> None:
        """Record a problem at ``path`` (at its key, with ``at_key``); a warning does not fail."""
        lint = self.doc.lint(path, kind, message, hint, at_key=at_key)
        if warning:
            lint = Lint(lint.file, lint.line, lint.column, lint.kind, lint.message, lint.hint, LintLevel.WARNING)
        self.lints.append(lint)

    def unknown_keys(self, data: Mapping[str, Any], path: Path_, allowed: Sequence[str], what: str) -> None:
        """``unknown key 'x' in WHAT``, with the closest allowed key or the list of them."""
        for key in data:
            if key not in allowed:
                hint = did_you_mean(str(key), allowed) or f"{what} takes: {', '.join(allowed)}"
                self.add(path + (key,), LintKind.UNKNOWN, f"unknown key '{key}' in {what}", hint, at_key=True)

    def mapping(self, value: Any, path: Path_, what: str) -> dict[str, Any]:
        """``value`` if it is a mapping (``{}`` for nothing); else a lint and ``{}``."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.add(path, LintKind.WRONG_TYPE, f"{what} must be a mapping, not {kind_of(value)}",
                     "write it as 'key: value' lines indented under it")
            return {}
        return value

    def need(self, data: Mapping[str, Any], key: str, path: Path_, what: str, hint: str | None = None) -> bool:
        """``WHAT needs 'key'`` when it is missing."""
        if data.get(key) is None:
            self.add(path, LintKind.MISSING, f"{what} needs '{key}'", hint, at_key=True)
            return False
        return True

    def duration(self, value: Any, path: Path_, what: str, *, bare_numbers: bool = True) -> float | None:
        """Seconds in ``value`` (:mod:`rdg.duration`), or ``None`` (nothing given, or a lint)."""
        if value is None:
            return None
        try:
            return parse_duration(value, bare_numbers=bare_numbers)
        except DurationError as err:
            self.add(path, LintKind.BAD_VALUE, f"{what}: {err.message}", err.hint)
            return None
