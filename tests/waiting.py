"""Wait on a condition, never on a length of time: the one helper tests use to wait.

A test that sleeps a fixed time and then asserts passes on a quiet machine and fails on a busy
one. These poll a condition until it holds or a generous deadline passes, and then fail with
what was being waited for (and the last value seen).

>>> wait_until(lambda: 1 + 1, what="arithmetic")
2
>>> wait_until(lambda: False, timeout=0.05, what="never")
Traceback (most recent call last):
...
AssertionError: timed out after 0.05s waiting for never (last: False)
"""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import Any, Awaitable, Callable, TypeVar

T = TypeVar("T")


def wait_until(condition: Callable[[], T], *, timeout: float = 30.0, every: float = 0.05, what: str = "a condition") -> T:
    """Call ``condition`` until it returns something truthy; return that.

    Raises:
        AssertionError: It never did within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        last = condition()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
        time.sleep(every)


async def async_wait_until(condition: Callable[[], Any | Awaitable[Any]], *, timeout: float = 30.0,
                           every: float = 0.05, what: str = "a condition") -> Any:
    """Like :func:`wait_until` for asyncio tests; ``condition`` may be a coroutine function."""
    deadline = time.monotonic() + timeout
    while True:
        last = condition()
        if inspect.isawaitable(last):
            last = await last
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
        await asyncio.sleep(every)
