"""Lints: problems found in a spec, each with file, line, column, kind and a fix.

>>> lint = Lint("pipelines.yaml", 12, 5, LintKind.UNKNOWN, "unknown field 'sourc'", hint="did you mean 'source'?")
>>> str(lint)
"pipelines.yaml:12:5: unknown field 'sourc' (did you mean 'source'?)"
"""

from __future__ import annotations

import difflib
import enum
from dataclasses import dataclass
from typing import Iterable


class LintKind(str, enum.Enum):
    """What sort of problem a lint is."""

    SYNTAX = "syntax"
    UNKNOWN = "unknown"
    MISSING = "missing"
    WRONG_TYPE = "wrong_type"
    BAD_VALUE = "bad_value"
    BAD_REFERENCE = "bad_reference"
    DEPRECATED = "deprecated"


class LintLevel(str, enum.Enum):
    """Errors fail validation; warnings are printed but do not."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Lint:
    """One problem in a spec file. Lines and columns count from 1."""

    file: str
    line: int
    column: int
    kind: LintKind
    message: str
    hint: str | None = None
    level: LintLevel = LintLevel.ERROR

    def __str__(self) -> str:
        text = f"{self.file}:{self.line}:{self.column}: {self.message}"
        if self.level is LintLevel.WARNING:
            text = f"{self.file}:{self.line}:{self.column}: warning: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dict (for ``--json`` output)."""
        return {
            "file": self.file, "line": self.line, "column": self.column, "kind": self.kind.value,
            "level": self.level.value, "message": self.message, "hint": self.hint,
        }


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A hint naming the closest choice, or ``None``.

    >>> did_you_mean("sourc", ["source", "sink"])
    "did you mean 'source'?"
    """
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None
