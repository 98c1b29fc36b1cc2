"""Where TinkerPop's traverser bulking would change an answer, refused instead.

TinkerPop merges equal traversers into one with a count (``LazyBarrierStrategy`` puts a
barrier after steps like ``out()`` when no path is kept). Almost every step gives the same
answer either way, but a ``local()`` child sees the merged traverser once: ``g.V().both().
local(count())`` gives ``3`` for a vertex reached three times on TinkerGraph and JanusGraph,
where walking each traverser alone gives ``1`` three times. The embedded graph does not merge
traversers, so it refuses a ``local()`` whose child counts, folds, dedups or limits when the
traversers reaching it may repeat (a step before it can give the same element twice), unless
the traversal keeps paths (``path()``, ``simplePath()``...), where TinkerPop does not merge
either. ``dedup()`` before ``local()`` makes the query safe and clear.

>>> from gremlin_python.process.graph_traversal import __
>>> from gremlin_python.process.anonymous_traversal import traversal
>>> from rdg.graph.embedded.engine import compile_bytecode
>>> g = traversal().with_remote(None)
>>> refuse_bulk_dependent(compile_bytecode(g.V().local(__.out_e().limit(1)).bytecode))
>>> refuse_bulk_dependent(compile_bytecode(g.V().both().local(__.count()).bytecode))
Traceback (most recent call last):
...
rdg.graph.embedded.errors.EmbeddedUnsupportedError: the embedded graph cannot run local() with count() after both(): TinkerPop merges the equal traversers both() may give before local() sees them, and the answer depends on it (hint: use JanusGraph (--set gremlin_url=ws://127.0.0.1:8182/gremlin), or rewrite the query)
"""

from __future__ import annotations

from typing import Iterator

from rdg.graph.embedded.errors import unsupported
from rdg.graph.embedded.traversal import Step, Traversal

__all__ = ["refuse_bulk_dependent"]

REPEATING = frozenset({"out", "in", "both", "outE", "inE", "bothE", "outV", "inV", "bothV", "otherV", "values",
                       "properties", "unfold", "flatMap", "union", "repeat", "V", "E", "coalesce", "choose",
                       "optional", "branch", "match", "local", "inject", "select", "constant", "id", "label",
                       "key", "value", "map", "project", "valueMap", "elementMap", "propertyMap", "math"})
"""Steps that can hand on the same object for different traversers."""

COUNTING = frozenset({"count", "sum", "min", "max", "mean", "fold", "dedup", "range", "limit", "skip", "tail",
                      "sample", "coin", "group", "groupCount", "aggregate", "store", "cap", "tree"})
"""Steps whose answer depends on how many equal traversers arrive."""

KEEPS_PATHS = frozenset({"path", "simplePath", "cyclicPath", "tree", "match"})
"""Steps that make TinkerPop keep paths, and so not merge traversers."""


def _walk(traversal: Traversal) -> Iterator[Step]:
    for s in traversal.steps:
        yield s
        for child in s.children():
            yield from _walk(child)


def refuse_bulk_dependent(root: Traversal) -> None:
    """Raise :class:`EmbeddedUnsupportedError` for a ``local()`` whose answer TinkerPop's
    bulking would change (see the module docstring)."""
    if any(s.name in KEEPS_PATHS for s in _walk(root)):
        return
    _check(root, is_root=True)


def _check(traversal: Traversal, *, is_root: bool) -> None:
    for i, s in enumerate(traversal.steps):
        if s.name == "local":
            before = [p.name for p in traversal.steps[:i] if p.name != "as"]
            last_dedup = max((k for k, n in enumerate(before) if n == "dedup"), default=None)
            if last_dedup is not None:  # dedup() hands on each object once
                repeating = [n for n in before[last_dedup + 1:] if n in REPEATING]
            elif is_root:
                repeating = [n for n in before[1:] if n in REPEATING]
            else:
                repeating = [n for n in before if n in REPEATING] or ["its parent"]
            counting = sorted({c.name for child in s.children() for c in _walk(child) if c.name in COUNTING})
            if repeating and counting:
                after = repeating[-1]
                where = after if after == "its parent" else f"{after}()"
                raise unsupported(f"local() with {', '.join(n + '()' for n in counting)} after {where}: TinkerPop "
                                  f"merges the equal traversers {where} may give before local() sees them, and the "
                                  "answer depends on it")
        for child in s.children():
            _check(child, is_root=False)
