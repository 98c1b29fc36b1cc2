"""Output helpers shared by the command modules: readable tables for people.

>>> print(table([["games", 3, None]], ["pipeline", "events", "error"]))
pipeline  events  error
--------  ------  -----
games     3
"""

from __future__ import annotations

from typing import Any, Sequence


def table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    """Left-aligned columns with a dashed rule under the header; ``None`` prints as empty."""
    cells = [[str(c) for c in header]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
