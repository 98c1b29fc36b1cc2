"""One duration grammar for every spec, flag and setting in rdg.

A duration is a number with a unit, or several in a row: ``250ms``, ``30s``, ``5m``, ``1h45m``,
``2d``, ``1.5h``. A bare number (``90``, ``"2.5"``) means seconds. Negative ones are refused.

>>> parse_duration("1h45m"), parse_duration("250ms"), parse_duration(90), parse_duration(" 1.5 ")
(6300.0, 0.25, 90.0, 1.5)
>>> parse_duration("soon")
Traceback (most recent call last):
rdg.errors.DurationError: 'soon' is not a duration (hint: write e.g. 250ms, 30s, 5m or 1h45m; a bare number is seconds)
"""

from __future__ import annotations

import re
from typing import Any

from rdg.errors import DurationError

__all__ = ["UNITS", "milliseconds", "parse_duration"]

UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
"""Seconds in each unit."""

_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")
_PARTS = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$")
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_HINT = "write e.g. 250ms, 30s, 5m or 1h45m; a bare number is seconds"


def parse_duration(value: Any, *, bare_numbers: bool = True) -> float:
    """Seconds in ``value`` (see the module's grammar).

    Args:
        value: Text, an int or a float.
        bare_numbers: ``False`` refuses a number without a unit (where one used to mean another
            unit, so an old value fails loudly instead of changing meaning).

    Raises:
        DurationError: Not a duration, negative, or a bare number where one is refused.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise DurationError(f"{value!r} is not a duration", hint=_HINT)
    text = str(value).strip().replace(" ", "")
    if text.startswith("-"):
        raise DurationError(f"a duration cannot be negative: {value!r}", hint=_HINT)
    if _NUMBER.match(text):
        if not bare_numbers:
            raise DurationError(f"{value!r} has no unit", hint="write e.g. 250ms or 2s")
        return float(text)
    if not _PARTS.match(text):
        raise DurationError(f"{value!r} is not a duration", hint=_HINT)
    return sum(float(n) * UNITS[u] for n, u in _PART.findall(text))


def milliseconds(seconds: float) -> int:
    """Whole milliseconds in ``seconds`` (rounded), for settings kept in milliseconds.

    >>> milliseconds(parse_duration("1.5s")), milliseconds(0.0004)
    (1500, 0)
    """
    return int(round(seconds * 1000))
