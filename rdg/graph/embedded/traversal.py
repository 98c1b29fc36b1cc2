"""Steps, traversals and the compiler from gremlinpython bytecode to a traversal.

A :class:`Step` turns a stream of traversers into another (Python generators, so ``limit()``
stops the work upstream). Step families live in :mod:`rdg.graph.embedded.steps`, one module
each; a family registers the Gremlin names it implements with :func:`step`::

    @step("out", "in", "both")
    def _adjacent(c: Compiler, name: str, args: list[Any]) -> Step:
        return Adjacent(name, args)

Modulators (``by``, ``from``, ``to``, ``times``, ``until``, ``emit``, ``option``, ``with``) are
handed to the step before them (:meth:`Step.modulate`); ``until``/``emit``/``times`` written
before ``repeat()`` wait for it (:meth:`Compiler.take_loop_modulators`).

Longer than most modules: the step protocol, ``by()``, the argument helpers and the compiler
are the one contract every step family codes against, and read best together.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Callable, Iterable, Iterator

from gremlin_python.process.traversal import Binding, Bytecode, Column, Direction, T
from gremlin_python.structure.graph import Edge, Element, Property, Vertex, VertexProperty

from rdg.graph.embedded.errors import TraversalError, unsupported, unsupported_step
from rdg.graph.embedded.traverser import Context, Traverser
from rdg.graph.embedded.values import NOTHING

__all__ = ["MODULATORS", "STEPS", "By", "Compiler", "FilterStep", "FlatMapStep", "KeySet", "MapEntry", "MapStep",
           "SideEffectStep", "Step", "Traversal", "step"]

MODULATORS = frozenset({"by", "from", "to", "times", "until", "emit", "option", "with", "read", "write"})
LOOP_MODULATORS = frozenset({"times", "until", "emit"})

StepFactory = Callable[["Compiler", str, list[Any]], "Step"]
STEPS: dict[str, StepFactory] = {}
"""Gremlin step name -> factory, filled by the modules in :mod:`rdg.graph.embedded.steps`."""
REWRITES: list[Callable[[list["Step"]], list["Step"]]] = []
"""Functions a step family adds to reshape each compiled step list (infix ``and()``/``or()``)."""


def step(*names: str) -> Callable[[StepFactory], StepFactory]:
    """Register a factory for the Gremlin steps ``names``."""
    def register(factory: StepFactory) -> StepFactory:
        for name in names:
            STEPS[name] = factory
        return factory
    return register


class MapEntry(dict):
    """One key/value pair of a map, as ``unfold()`` of a map gives it (a one-entry dict)."""

    @property
    def key(self) -> Any:
        return next(iter(self))

    @property
    def value(self) -> Any:
        return next(iter(self.values()))


class KeySet(set):
    """The keys of a map, as Java's ``LinkedHashMap.keySet()`` gives them: a set that iterates
    in the map's order (``select(keys).unfold()`` after ``order(local)`` keeps that order).

    >>> list(KeySet(["b", "a", "c"]))
    ['b', 'a', 'c']
    """

    def __init__(self, items: Iterable[Any] = ()) -> None:
        self._order = list(dict.fromkeys(items))
        super().__init__(self._order)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._order)


# -- steps ---------------------------------------------------------------------------------------
class Step:
    """One Gremlin step. Subclasses implement :meth:`apply` (or one of the simpler hooks of
    :class:`MapStep`, :class:`FlatMapStep`, :class:`FilterStep`, :class:`SideEffectStep`)."""

    name = "step"
    writes = False
    """The step changes the graph (read-only queries refuse it)."""
    takes_loop_modulators = False
    """``times``/``until``/``emit`` after this step modulate it (``repeat``)."""

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        raise NotImplementedError

    def modulate(self, name: str, args: list[Any], c: "Compiler") -> None:
        """A modulator written after this step (``by``, ``from``, ...)."""
        raise unsupported(f"{name}() after {self.name}()")

    def children(self) -> list["Traversal"]:
        """The traversals inside this step (to find writes at any depth)."""
        return []

    def close(self) -> None:
        """Called when the compiler has seen every modulator (check they are complete)."""


class MapStep(Step):
    """One object per traverser (:data:`NOTHING` drops the traverser); the path grows."""

    def map(self, ctx: Context, t: Traverser) -> Any:
        raise NotImplementedError

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        for t in traversers:
            ctx.tick()
            value = self.map(ctx, t)
            if value is not NOTHING:
                yield t.extend(value)


class FlatMapStep(Step):
    """Any number of objects per traverser; the path grows for each."""

    def flat_map(self, ctx: Context, t: Traverser) -> Iterable[Any]:
        raise NotImplementedError

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        for t in traversers:
            ctx.tick()
            for value in self.flat_map(ctx, t):
                yield t.extend(value)


class FilterStep(Step):
    """Keeps the traversers :meth:`keep` says yes to."""

    def keep(self, ctx: Context, t: Traverser) -> bool:
        raise NotImplementedError

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        for t in traversers:
            ctx.tick()
            if self.keep(ctx, t):
                yield t


class SideEffectStep(Step):
    """Does something per traverser and passes it on unchanged."""

    def effect(self, ctx: Context, t: Traverser) -> None:
        raise NotImplementedError

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        for t in traversers:
            ctx.tick()
            self.effect(ctx, t)
            yield t


class Traversal:
    """A list of steps; a child traversal (``__.out()``) starts from its parent's traverser."""

    def __init__(self, steps: list[Step]) -> None:
        self.steps = steps

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        stream = traversers
        for s in self.steps:
            stream = s.apply(ctx, stream)
        return stream

    def run_from(self, ctx: Context, t: Traverser) -> Iterator[Traverser]:
        """The child traversal's traversers, starting from ``t``."""
        return self.apply(ctx, iter((t,)))

    def first(self, ctx: Context, t: Traverser) -> Any:
        """The first object the child gives from ``t``, or :data:`NOTHING`."""
        for r in self.run_from(ctx, t):
            return r.obj
        return NOTHING

    def produces(self, ctx: Context, t: Traverser) -> bool:
        """Whether the child gives anything from ``t``."""
        for _ in self.run_from(ctx, t):
            return True
        return False

    @property
    def writes(self) -> bool:
        return any(s.writes or any(c.writes for c in s.children()) for s in self.steps)

    @property
    def is_identity(self) -> bool:
        return not self.steps


# -- by() ----------------------------------------------------------------------------------------
_TOKENS = {"id": "id", "id_": "id", "label": "label", "key": "key", "value": "value"}


def element_token(obj: Any, token: T) -> Any:
    """``T.id``/``T.label``/``T.key``/``T.value`` of ``obj``."""
    name = _TOKENS.get(token.name)
    if name == "id" and isinstance(obj, Element):
        return obj.id
    if name == "label" and isinstance(obj, Element):
        return obj.label
    if name == "key" and isinstance(obj, (VertexProperty, Property)):
        return obj.label if isinstance(obj, VertexProperty) else obj.key
    if name == "value" and isinstance(obj, (VertexProperty, Property)):
        return obj.value
    raise TraversalError(f"T.{token.name.rstrip('_')} cannot be taken from {type(obj).__name__} {obj!r}")


_COLLECTING_BARRIERS = frozenset({"order", "barrier", "dedup", "sample"})
"""Barriers that only hold traversers back (not reducing ones such as ``count``/``fold``):
``ProductiveByStrategy`` still turns a ``by()`` ending in one that gives nothing into null."""


class By:
    """One ``by()`` modulation: identity, a property key, a token (``T.id``), a column
    (``keys``/``values``) or a child traversal; ``order`` holds a comparator for ``order()``."""

    def __init__(self, args: list[Any], c: "Compiler") -> None:
        self.order: Any = None
        self.key: str | None = None
        self.token: T | None = None
        self.column: Column | None = None
        self.traversal: Traversal | None = None
        if len(args) > 2:
            raise unsupported("by() with more than two arguments")
        if len(args) == 2:
            self.order = args[1]
        if args:
            first = args[0]
            if c.is_traversal(first):
                self.traversal = c.child(first)
            elif isinstance(first, str):
                self.key = first
            elif isinstance(first, T):
                self.token = first
            elif isinstance(first, Column):
                self.column = first
            elif isinstance(first, Enum) and type(first).__name__ == "Order" and len(args) == 1:
                self.order = first
            else:
                raise unsupported(f"by({first!r})")

    @property
    def is_identity(self) -> bool:
        return self.key is None and self.token is None and self.column is None and (
            self.traversal is None or self.traversal.is_identity)

    def value(self, ctx: Context, t: Traverser) -> Any:
        """The modulated value of ``t``'s object, or :data:`NOTHING` when it has none (null
        instead under ``ProductiveByStrategy``: ``ctx.options['productive_by']``)."""
        return self.productive(ctx, self.raw_value(ctx, t))

    def value_of(self, ctx: Context, obj: Any) -> Any:
        """As :meth:`value`, for an object without its traverser (a child traversal starts afresh)."""
        return self.productive(ctx, self.raw_value_of(ctx, obj))

    def productive(self, ctx: Context, found: Any) -> Any:
        """``found``, or null for :data:`NOTHING` under ``ProductiveByStrategy`` (which leaves a
        traversal ending in a reducing barrier as it is)."""
        if found is not NOTHING or not ctx.options.get("productive_by"):
            return found
        if self.traversal is not None and self.traversal.steps and getattr(self.traversal.steps[-1], "barrier", False) \
                and self.traversal.steps[-1].name not in _COLLECTING_BARRIERS:
            return found
        return None

    def raw_value(self, ctx: Context, t: Traverser) -> Any:
        """As :meth:`value`, ignoring ``ProductiveByStrategy``."""
        if self.traversal is not None:
            return self.traversal.first(ctx, t)
        return self.raw_value_of(ctx, t.obj)

    def raw_value_of(self, ctx: Context, obj: Any) -> Any:
        """As :meth:`value_of`, ignoring ``ProductiveByStrategy``."""
        if self.traversal is not None:
            return self.traversal.first(ctx, Traverser.start(obj))
        if self.key is not None:
            if isinstance(obj, (Vertex, Edge, VertexProperty)):
                found = ctx.store.values(obj, (self.key,))
                return found[0] if found else NOTHING
            if isinstance(obj, dict):
                return obj.get(self.key, NOTHING)
            raise TraversalError(f"by('{self.key}') needs a vertex, an edge or a map, not "
                                 f"{type(obj).__name__} {obj!r}")
        if self.token is not None:
            if isinstance(obj, dict) and not isinstance(obj, MapEntry):
                return obj.get(self.token, NOTHING)
            return element_token(obj, self.token)
        if self.column is not None:
            return column_of(obj, self.column)
        return obj

    def children(self) -> list[Traversal]:
        return [self.traversal] if self.traversal is not None else []


def column_of(obj: Any, column: Column) -> Any:
    """``Column.keys``/``Column.values`` of a map, a map entry or a path."""
    keys = column.name.startswith("keys")
    if isinstance(obj, MapEntry):
        return obj.key if keys else obj.value
    if isinstance(obj, dict):
        return KeySet(obj.keys()) if keys else list(obj.values())
    from gremlin_python.structure.graph import Path

    if isinstance(obj, Path):
        return [set(ls) for ls in obj.labels] if keys else list(obj.objects)
    raise TraversalError(f"{column.name} cannot be taken from {type(obj).__name__} {obj!r}")


# -- the compiler --------------------------------------------------------------------------------
class Compiler:
    """Bytecode -> :class:`Traversal`, one instruction at a time."""

    def __init__(self) -> None:
        self.depth = 0
        self._pending: list[list[tuple[str, list[Any]]]] = [[]]
        self.steps_so_far: list[Step] = []

    @staticmethod
    def is_traversal(arg: Any) -> bool:
        return isinstance(arg, Bytecode) or isinstance(getattr(arg, "bytecode", None), Bytecode)

    def child(self, arg: Any) -> Traversal:
        """Compile an anonymous traversal given as a step's argument."""
        code = arg if isinstance(arg, Bytecode) else getattr(arg, "bytecode", None)
        if not isinstance(code, Bytecode):
            raise unsupported(f"{arg!r} where a traversal was expected")
        if code.source_instructions:
            raise unsupported("traversal source options inside a step")
        return self.compile(code)

    def compile(self, code: Bytecode) -> Traversal:
        self.depth += 1
        self._pending.append([])
        outer = self.steps_so_far
        steps: list[Step] = []
        self.steps_so_far = steps
        try:
            for instruction in code.step_instructions:
                name, args = instruction[0], [resolve(a) for a in instruction[1:]]
                prev = steps[-1] if steps else None
                if name in LOOP_MODULATORS and not (prev is not None and prev.takes_loop_modulators):
                    self._pending[-1].append((name, args))
                    continue
                if name in MODULATORS and not (name == "to" and args and isinstance(args[0], Direction)):
                    if prev is None:
                        raise unsupported(f"{name}() with no step before it")
                    prev.modulate(name, args, self)
                    continue
                factory = STEPS.get(name)
                if factory is None:
                    raise unsupported_step(name)
                if prev is not None:
                    prev.close()
                steps.append(factory(self, name, args))
            if steps:
                steps[-1].close()
            if self._pending[-1]:
                raise unsupported(f"{self._pending[-1][0][0]}() without a repeat() after it")
        finally:
            self._pending.pop()
            self.depth -= 1
            self.steps_so_far = outer
        for rewrite in REWRITES:
            steps = rewrite(steps)
        return Traversal(steps)

    @property
    def at_start(self) -> bool:
        """The step being compiled is the first of the outermost traversal (``g.V()``, not ``out().V()``)."""
        return self.depth == 1 and not self.steps_so_far

    def take_loop_modulators(self) -> list[tuple[str, list[Any]]]:
        """``times``/``until``/``emit`` written before the ``repeat()`` being compiled."""
        found, self._pending[-1] = self._pending[-1], []
        return found


def split_scope(args: list[Any]) -> tuple[bool, list[Any]]:
    """``(local?, the other arguments)`` of a step that may start with ``Scope.local``/``global``.

    >>> from gremlin_python.process.traversal import Scope
    >>> split_scope([Scope.local, 3]), split_scope([3])
    ((True, [3]), (False, [3]))
    """
    from gremlin_python.process.traversal import Scope

    if args and isinstance(args[0], Scope):
        return args[0] == Scope.local, args[1:]
    return False, args


def resolve(arg: Any) -> Any:
    """A bytecode argument's value (bindings give their value)."""
    if isinstance(arg, Binding):
        return arg.value
    return arg
