"""The date steps of TinkerPop 3.7: ``asDate``, ``dateAdd(DT unit, n)`` and ``dateDiff``.

Dates are Python datetimes in UTC (a datetime without a time zone is read as UTC, as
gremlinpython sends it). Like a Java ``Date`` they count whole milliseconds where it matters:
numbers given to ``asDate`` are milliseconds since 1970, ``dateDiff`` gives whole seconds.

>>> parse_date("2023-08-02T00:00:00Z"), parse_date("2023-08")
(datetime.datetime(2023, 8, 2, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2023, 8, 1, 0, 0, tzinfo=datetime.timezone.utc))
>>> epoch_ms(parse_date("2023-09-06T16:28:27+02:00"))
1694010507000
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from gremlin_python.process.traversal import DT

from rdg.graph.embedded.errors import TraversalError, unsupported
from rdg.graph.embedded.steps.text import describe
from rdg.graph.embedded.traversal import Compiler, MapStep, Step, Traversal, step
from rdg.graph.embedded.traverser import Context, Traverser
from rdg.graph.embedded.values import NOTHING

__all__ = ["AsDate", "DateAdd", "DateDiff", "epoch_ms", "parse_date"]

UTC = dt.timezone.utc
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
_MS = dt.timedelta(milliseconds=1)
_LONG = 2 ** 63

_DATETIME = re.compile(
    r"(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})"
    r"(?:T(?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d{1,9}))?)?"
    r"(?P<off>Z|[+-]\d{4}(?:\d{2})?|[+-]\d{2}:\d{2}(?::\d{2})?)?)?",
    re.IGNORECASE)
_YEAR_MONTH = re.compile(r"(?P<y>\d{1,9})-(?P<mo>\d{1,2})")


def utc(value: dt.datetime) -> dt.datetime:
    """``value`` in UTC (a naive datetime is taken to be UTC already)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def epoch_ms(value: dt.datetime) -> int:
    """Whole milliseconds since 1970 (``Date.getTime()``)."""
    return (utc(value) - EPOCH) // _MS


def from_ms(ms: int) -> dt.datetime:
    """The date ``ms`` milliseconds after 1970."""
    try:
        return EPOCH + dt.timedelta(milliseconds=ms)
    except OverflowError as err:
        raise unsupported(f"the date {ms} ms after 1970 (beyond the years 1-9999 Python can hold)") from err


def _offset(text: str | None) -> dt.timezone:
    if not text or text.upper() == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes, seconds = int(digits[0:2]), int(digits[2:4]), int(digits[4:6] or 0)
    return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes, seconds=seconds))


def parse_date(text: str) -> dt.datetime:
    """An ISO 8601 date as TinkerPop reads it: ``2018-03-22``, ``2018-03-22T00:35:44``,
    ``2018-03-22T00:35:44.741Z``, ``...+16:00``, ``...+1600`` or a year and month ``2018-03``
    (UTC unless an offset is given; fractions cut to milliseconds).

    Raises:
        TraversalError: The text is not such a date.
        EmbeddedUnsupportedError: It has the form but not a date Python accepts (``2023-02-30``,
            which Java's lenient rules would move to another day).
    """
    found = _DATETIME.fullmatch(text)
    month_only = found is None
    if month_only:
        found = _YEAR_MONTH.fullmatch(text)
    if found is None:
        raise TraversalError(f"Can't parse {text} as Date. (write ISO 8601, e.g. '2023-08-02T00:00:00Z')")
    parts = found.groupdict()
    try:
        if month_only:
            return dt.datetime(int(parts["y"]), int(parts["mo"]), 1, tzinfo=UTC)
        fraction = (parts.get("f") or "").ljust(3, "0")[:3]
        local = dt.datetime(int(parts["y"]), int(parts["mo"]), int(parts["d"]), int(parts["h"] or 0),
                            int(parts["mi"] or 0), int(parts["s"] or 0), int(fraction) * 1000,
                            tzinfo=_offset(parts["off"]))
        return local.astimezone(UTC)
    except (ValueError, OverflowError) as err:
        raise unsupported(f"the date {text!r} ({err}; TinkerGraph's lenient reading may differ)") from err


class AsDate(MapStep):
    """``asDate()``: a date as it is, a whole number as milliseconds since 1970, a string as an
    ISO 8601 date; anything else (null included) is an error."""

    name = "asDate"

    def map(self, ctx: Context, t: Traverser) -> Any:
        obj = t.obj
        if isinstance(obj, dt.datetime):
            return utc(obj)
        if isinstance(obj, int) and not isinstance(obj, bool):
            if not -_LONG <= obj < _LONG:
                raise TraversalError(f"Can't parse {obj} as Date. (milliseconds must fit in 64 bits)")
            return from_ms(obj)
        if isinstance(obj, str):
            return parse_date(obj)
        raise TraversalError(f"Can't parse {describe(obj)} as Date. (give a date, milliseconds since 1970 "
                             "or an ISO 8601 string)")


@step("asDate")
def _as_date(c: Compiler, name: str, args: list[Any]) -> Step:
    if args:
        raise TraversalError("asDate() takes no arguments")
    return AsDate()


_UNITS = {"second": "seconds", "minute": "minutes", "hour": "hours", "day": "days"}


class DateAdd(MapStep):
    """``dateAdd(DT.hour, 2)``: the date moved by a number of seconds, minutes, hours or days."""

    name = "dateAdd"

    def __init__(self, delta: dt.timedelta) -> None:
        self.delta = delta

    def map(self, ctx: Context, t: Traverser) -> Any:
        obj = t.obj
        if not isinstance(obj, dt.datetime):
            raise TraversalError(f"dateAdd accept only Date, encountered {describe(obj)} (asDate() makes one)")
        try:
            return utc(obj) + self.delta
        except OverflowError as err:
            raise unsupported(f"dateAdd() beyond the years 1-9999 Python can hold (from {obj})") from err


@step("dateAdd")
def _date_add(c: Compiler, name: str, args: list[Any]) -> Step:
    if len(args) != 2 or not isinstance(args[0], DT) or isinstance(args[1], bool) or not isinstance(args[1], int):
        raise TraversalError("dateAdd() takes a unit (DT.second, DT.minute, DT.hour, DT.day) and a whole number")
    unit = _UNITS[args[0].name]
    try:
        delta = dt.timedelta(**{unit: args[1]})
    except OverflowError as err:
        raise unsupported(f"dateAdd() of {args[1]} {unit}") from err
    return DateAdd(delta)


class DateDiff(MapStep):
    """``dateDiff(date)`` / ``dateDiff(traversal)``: whole seconds from the other date to this
    one (a null other date counts as 1970)."""

    name = "dateDiff"

    def __init__(self, value: dt.datetime | None, traversal: Traversal | None) -> None:
        self.value, self.traversal = value, traversal

    def map(self, ctx: Context, t: Traverser) -> Any:
        obj = t.obj
        if not isinstance(obj, dt.datetime):
            raise TraversalError(f"DateDiff can only take Date as argument, encountered {describe(obj)}")
        other = self.value
        if self.traversal is not None:
            other = self.traversal.first(ctx, t)
            if other is NOTHING:
                raise TraversalError(f"the traversal given to dateDiff() gave no date for {describe(obj)}")
            if other is not None and not isinstance(other, dt.datetime):
                raise TraversalError(f"the traversal given to dateDiff() must give a date, it gave {describe(other)}")
        diff = epoch_ms(obj) - (0 if other is None else epoch_ms(other))
        seconds = abs(diff) // 1000
        return seconds if diff >= 0 else -seconds

    def children(self) -> list[Traversal]:
        return [self.traversal] if self.traversal is not None else []


@step("dateDiff")
def _date_diff(c: Compiler, name: str, args: list[Any]) -> Step:
    if len(args) != 1:
        raise TraversalError("dateDiff() takes one date or a traversal that gives one")
    if c.is_traversal(args[0]):
        return DateDiff(None, c.child(args[0]))
    if args[0] is not None and not isinstance(args[0], dt.datetime):
        raise TraversalError(f"dateDiff() takes a date, not {describe(args[0])}")
    return DateDiff(args[0], None)
