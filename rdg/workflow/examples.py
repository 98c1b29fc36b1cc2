"""Small step functions used by the example workflows in ``docs/examples/workflows``.

>>> from rdg.workflow import StepContext
>>> count_letters(StepContext("r", "count", "python", 1, 1, params={"text": "hi you"}))
{'n': 5, 'letters': ['h', 'i', 'o', 'u', 'y']}
"""

from __future__ import annotations

from typing import Any

from rdg.workflow._task import StepContext

__all__ = ["count_letters"]


def count_letters(ctx: StepContext) -> dict[str, Any]:
    """Count the letters of ``params.text``; return the count and the distinct letters, sorted."""
    letters = [c for c in str(ctx.params["text"]) if c.isalpha()]
    return {"n": len(letters), "letters": sorted(set(letters))}
