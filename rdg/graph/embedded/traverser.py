"""Traversers (an object, the path that led to it, loop counters, a sack) and the context one
traversal runs in (the store, side effects, the deadline).

A path is a chain of nodes that share their prefix, so extending it costs one small object:

>>> t = Traverser.start("a").extend("b").labelled(("x",))
>>> t.path_objects(), t.path_labels()
(['a', 'b'], [set(), {'x'}])
>>> t.select("x")
['b']
"""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING, Any, Callable

from gremlin_python.structure.graph import Path

from rdg.errors import RdgTimeoutError

if TYPE_CHECKING:  # pragma: no cover
    from rdg.graph.embedded.store import Store

__all__ = ["Context", "PathNode", "Traverser"]

_NO_LABELS: frozenset[str] = frozenset()


class PathNode:
    """One step of a path: the object, the labels ``as()`` gave it, and the step before."""

    __slots__ = ("obj", "labels", "parent")

    def __init__(self, obj: Any, labels: frozenset[str], parent: "PathNode | None") -> None:
        self.obj, self.labels, self.parent = obj, labels, parent


class Traverser:
    """Where one walker is: ``obj``, how it got there (``path``), its ``loops`` counters (one
    per enclosing ``repeat()``, innermost last, as ``(name, count)``) and its ``sack``."""

    __slots__ = ("obj", "path", "loops", "sack")

    def __init__(self, obj: Any, path: PathNode | None, loops: tuple[tuple[str | None, int], ...] = (),
                 sack: Any = None) -> None:
        self.obj, self.path, self.loops, self.sack = obj, path, loops, sack

    @classmethod
    def start(cls, obj: Any, sack: Any = None) -> "Traverser":
        """A new traverser whose path holds only ``obj``."""
        return cls(obj, PathNode(obj, _NO_LABELS, None), (), sack)

    def extend(self, obj: Any) -> "Traverser":
        """The traverser moved on to ``obj`` (a map or flat-map step): the path grows."""
        return Traverser(obj, PathNode(obj, _NO_LABELS, self.path), self.loops, self.sack)

    def replace(self, obj: Any) -> "Traverser":
        """The same place with another object (the path is left as it is)."""
        return Traverser(obj, self.path, self.loops, self.sack)

    def labelled(self, labels: tuple[str, ...]) -> "Traverser":
        """``as(labels)``: the newest path entry carries these labels too."""
        node = self.path
        if node is None:
            return Traverser(self.obj, PathNode(self.obj, frozenset(labels), None), self.loops, self.sack)
        return Traverser(self.obj, PathNode(node.obj, node.labels | frozenset(labels), node.parent),
                         self.loops, self.sack)

    def with_sack(self, sack: Any) -> "Traverser":
        return Traverser(self.obj, self.path, self.loops, sack)

    def with_loops(self, loops: tuple[tuple[str | None, int], ...]) -> "Traverser":
        return Traverser(self.obj, self.path, loops, self.sack)

    def nodes(self) -> list[PathNode]:
        """The path's nodes, oldest first."""
        out = []
        node = self.path
        while node is not None:
            out.append(node)
            node = node.parent
        out.reverse()
        return out

    def path_objects(self) -> list[Any]:
        return [n.obj for n in self.nodes()]

    def path_labels(self) -> list[set[str]]:
        return [set(n.labels) for n in self.nodes()]

    def as_path(self) -> Path:
        """The gremlinpython ``Path`` of this traverser."""
        nodes = self.nodes()
        return Path([set(n.labels) for n in nodes], [n.obj for n in nodes])

    def select(self, label: str) -> list[Any]:
        """Every object labelled ``label`` on the path, oldest first (empty: none)."""
        out = []
        node = self.path
        while node is not None:
            if label in node.labels:
                out.append(node.obj)
            node = node.parent
        out.reverse()
        return out

    def loop_count(self, name: str | None = None) -> int:
        """Iterations of the innermost ``repeat()`` (or the one named ``name``) so far."""
        for loop_name, count in reversed(self.loops):
            if name is None or loop_name == name:
                return count
        return 0

    def __repr__(self) -> str:
        return f"Traverser({self.obj!r})"


class Context:
    """What one traversal runs with: the store, side effects (``aggregate``, ``withSideEffect``),
    the sack's initial value and merge, whether writes are allowed, and the deadline."""

    def __init__(self, store: "Store", *, timeout_s: float | None = None, read_only: bool = False) -> None:
        self.store = store
        self.timeout_s = timeout_s
        self.deadline = time.monotonic() + timeout_s if timeout_s else None
        self.side_effects: dict[str, Any] = {}
        self.side_effect_reducers: dict[str, Callable[[Any, Any], Any]] = {}
        self.sack_initial: Callable[[], Any] | None = None
        self.sack_split: Callable[[Any], Any] | None = None
        self.sack_merge: Callable[[Any, Any], Any] | None = None
        self.read_only = read_only
        self.options: dict[str, Any] = {}
        self._ticks = 0

    def new_sack(self) -> Any:
        return self.sack_initial() if self.sack_initial is not None else None

    def split_sack(self, sack: Any) -> Any:
        if self.sack_split is not None:
            return self.sack_split(sack)
        return copy.copy(sack) if isinstance(sack, (list, dict, set)) else sack

    def tick(self) -> None:
        """Called per traverser in the hot loops: raise when past the deadline."""
        self._ticks += 1
        if self._ticks & 255 == 0 and self.deadline is not None and time.monotonic() > self.deadline:
            raise RdgTimeoutError(f"the query took longer than {self.timeout_s:g} s and was stopped",
                                  hint="narrow it (has(), limit()), or raise --timeout / query_timeout")
