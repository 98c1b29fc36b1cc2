"""TinkerPop's ``CountStrategy``, the one default optimization whose effect a user can see:
``count().is(P)`` counts only as far as ``P`` needs, so ``outE().count().is(gt(0))`` gives
``1`` (not the number of edges) on TinkerGraph and JanusGraph alike, and here too.

The rewrite puts ``range(0, n)`` before such a ``count()`` (``n`` as TinkerPop computes it:
the predicate's number rounded up, plus one for ``eq``, ``neq``, ``lte`` and ``gt``; for
``within``/``without`` the largest number plus one or zero). A ``count()`` right after a
``range()``/``limit()`` is left alone, as TinkerPop leaves it.

>>> from gremlin_python.process.anonymous_traversal import traversal
>>> from rdg.graph.embedded import EmbeddedConnection, Store
>>> g = traversal().with_remote(EmbeddedConnection(Store.open(":memory:")))
>>> _ = g.add_v("a").add_v("b").add_v("c").iterate()
>>> g.V().count().is_(P.gt(0)).to_list(), g.V().count().is_(P.lt(10)).to_list()
([1], [3])
"""

from __future__ import annotations

import math
from typing import Any

from gremlin_python.process.traversal import P

from rdg.graph.embedded.steps.aggregate import Count
from rdg.graph.embedded.steps.logic import Is
from rdg.graph.embedded.steps.range import RangeGlobal
from rdg.graph.embedded.traversal import REWRITES, Step
from rdg.graph.embedded.values import is_number

__all__ = ["count_range"]

_PLUS_ONE = {"eq", "neq", "lte", "gt"}
_COMPARE = {"eq", "neq", "lt", "lte", "gt", "gte"}
_RANGES = {"within": 1, "without": 0}


def _parts(p: P) -> list[P]:
    if p.operator in ("and", "or"):
        return _parts(p.value) + _parts(p.other)
    return [p]


def count_range(p: P) -> int | None:
    """How far ``count().is(p)`` needs to count (None: all the way).

    >>> count_range(P.gt(3)), count_range(P.lt(3)), count_range(P.within(1, 5)), count_range(P.eq("x"))
    (4, 3, 6, None)
    """
    high: int | None = None
    for part in _parts(p):
        value: Any = part.value
        candidate: int | None = None
        if part.operator in _COMPARE and is_number(value):
            candidate = math.ceil(value) + (1 if part.operator in _PLUS_ONE else 0)
        elif part.operator in _RANGES and isinstance(value, (list, tuple, set)) and value:
            try:
                top = max(value)
            except TypeError:
                top = None
            if is_number(top):
                candidate = int(top) + _RANGES[part.operator]
        if candidate is not None and (high is None or candidate > high):
            high = candidate
    return high


def _count_strategy(steps: list[Step]) -> list[Step]:
    out: list[Step] = []
    for i, s in enumerate(steps):
        nxt = steps[i + 1] if i + 1 < len(steps) else None
        before = steps[i - 1] if i else None
        if (isinstance(s, Count) and not s.local and isinstance(nxt, Is) and not isinstance(before, RangeGlobal)):
            high = count_range(nxt.predicate)
            if high is not None:
                out.append(RangeGlobal("range", 0, max(high, 0)))
        out.append(s)
    return out


REWRITES.append(_count_strategy)
