"""Looping: ``repeat`` (with ``times``/``until``/``emit`` before or after it, and named loops)
and ``loops()``. A ``dedup``/``limit``/``range``/``tail``/``sample`` inside a loop body is refused
(:func:`refuse_state_in_repeat`, a compile rewrite), as TinkerPop keeps its state across passes.

>>> from gremlin_python.process.graph_traversal import __
>>> from rdg.graph.embedded.traverser import Context
>>> from gremlin_python.process.traversal import P
>>> def run(t): return [x.obj for x in Compiler().compile(t.bytecode).apply(Context(None), iter(()))]
>>> run(__.inject(1).repeat(__.math("_ * 2")).emit().times(3))
[2.0, 4.0, 8.0]
>>> run(__.inject(1).repeat(__.math("_ * 2")).until(__.is_(P.gt(5)))), run(__.inject(1).repeat(__.loops()).times(2))
([8.0], [1])
"""

from __future__ import annotations

from collections import deque
from typing import Any, Iterator

from gremlin_python.process.traversal import Bytecode, Pop

from rdg.graph.embedded.errors import TraversalError, unsupported
from rdg.graph.embedded.steps.branch import child_traversal, streams
from rdg.graph.embedded.traversal import LOOP_MODULATORS, REWRITES, Compiler, MapStep, Step, Traversal, step
from rdg.graph.embedded.traverser import Context, Traverser

__all__ = ["Loops", "Repeat", "refuse_state_in_repeat"]


class Repeat(Step):
    """``repeat(traversal)``: loop the body; ``times(n)``/``until(t)`` stop a traverser,
    ``emit()``/``emit(t)`` also let it out; written before ``repeat()`` they are checked before
    each pass, after it at the end of each pass. Each incoming traverser is looped to the end
    before the next one starts; its traversers move breadth first."""

    name = "repeat"
    takes_loop_modulators = True

    def __init__(self, body: Traversal, loop_name: str | None) -> None:
        self.body = body
        self.loop_name = loop_name
        self.times: int | None = None
        self.until: Traversal | None = None
        self.emit: Traversal | None = None
        self.emit_always = False
        self.until_first = False
        self.emit_first = False
        self._has_until = False
        self._has_emit = False

    @property
    def streaming(self) -> bool:
        return streams(self.body)

    def modulate(self, name: str, args: list[Any], c: Compiler) -> None:
        if name not in LOOP_MODULATORS:
            super().modulate(name, args, c)
        self.set_modulator(name, args, c, first=False)

    def set_modulator(self, name: str, args: list[Any], c: Compiler, *, first: bool) -> None:
        """``times``/``until``/``emit``, written before (``first``) or after ``repeat()``."""
        if name == "emit":
            if self._has_emit:
                raise TraversalError("repeat() already has its emit()")
            self._has_emit, self.emit_first = True, first
            if not args:
                self.emit_always = True
            elif len(args) == 1:
                self.emit = child_traversal(c, args[0], "emit")
            else:
                raise TraversalError("emit() takes at most one traversal")
            return
        if self._has_until:
            raise TraversalError("repeat() already has its until() or times()")
        self._has_until, self.until_first = True, first
        if name == "times":
            if len(args) != 1 or isinstance(args[0], bool) or not isinstance(args[0], int):
                raise TraversalError("times() takes a number")
            self.times = args[0]
        elif len(args) == 1:
            self.until = child_traversal(c, args[0], "until")
        else:
            raise TraversalError("until() takes one traversal")

    def children(self) -> list[Traversal]:
        return [x for x in (self.body, self.until, self.emit) if x is not None]

    def _done(self, ctx: Context, t: Traverser) -> bool:
        if self.times is not None:
            return t.loop_count() >= self.times
        return self.until is not None and self.until.produces(ctx, t)

    def _emits(self, ctx: Context, t: Traverser) -> bool:
        return self.emit_always or (self.emit is not None and self.emit.produces(ctx, t))

    def _enter(self, t: Traverser) -> Traverser:
        return t.with_loops(t.loops + ((self.loop_name, 0),))

    def _next_pass(self, t: Traverser) -> Traverser:
        if not t.loops:
            return t.with_loops(((self.loop_name, 1),))
        name, count = t.loops[-1]
        return t.with_loops(t.loops[:-1] + ((name, count + 1),))

    @staticmethod
    def _leave(t: Traverser) -> Traverser:
        return t.with_loops(t.loops[:-1])

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        for t in traversers:
            ctx.tick()
            yield from self._loop(ctx, self._enter(t))

    def _loop(self, ctx: Context, start: Traverser) -> Iterator[Traverser]:
        if self.until_first or self.emit_first:
            return self._one_by_one(ctx, start)
        return self._in_waves(ctx, start)

    def _in_waves(self, ctx: Context, start: Traverser) -> Iterator[Traverser]:
        """Checks after each pass: the traversers of one pass go through the body together (a
        barrier in the body holds one pass, as in TinkerPop)."""
        wave = [start]
        while wave:
            following = []
            for r in self.body.apply(ctx, iter(wave)):
                ctx.tick()
                r = self._next_pass(r)
                if self._done(ctx, r):
                    yield self._leave(r)
                    continue
                following.append(r)
                if self._emits(ctx, r):
                    yield self._leave(r)
            wave = following

    def _one_by_one(self, ctx: Context, start: Traverser) -> Iterator[Traverser]:
        """Checks before each pass: every traverser goes through the body on its own."""
        waiting = deque((start,))
        while waiting:
            t = waiting.popleft()
            ctx.tick()
            if self.until_first and self._done(ctx, t):
                yield self._leave(t)
                continue
            if self.emit_first and self._emits(ctx, t):
                yield self._leave(t)
            for r in self.body.run_from(ctx, t):
                ctx.tick()
                r = self._next_pass(r)
                if not self.until_first and self._done(ctx, r):
                    yield self._leave(r)
                    continue
                waiting.append(r)
                if not self.emit_first and self._emits(ctx, r):
                    yield self._leave(r)


def _instructions(arg: Any) -> list[list[Any]]:
    code = arg if isinstance(arg, Bytecode) else getattr(arg, "bytecode", None)
    if not isinstance(code, Bytecode):
        return []
    out = []
    for i in code.step_instructions:
        out.append(list(i))
        for a in i[1:]:
            out.extend(_instructions(a))
    return out


def _refuse_labels_across_passes(body: Any) -> None:
    """A loop body that reads every (or the first) object under a label it sets itself sees the
    labels of earlier passes here; TinkerPop's path retraction drops those between passes, so its
    answer differs: refuse rather than answer differently."""
    ins = _instructions(body)
    labelled = {a for i in ins if i[0] == "as" for a in i[1:] if isinstance(a, str)}
    for i in ins:
        if i[0] == "select" and len(i) > 2 and i[1] in (Pop.all_, Pop.first):
            for label in i[2:]:
                if label in labelled:
                    raise unsupported(f"select(Pop.{i[1].name.rstrip('_')}, '{label}') inside repeat() of a label the "
                                      "loop sets itself (TinkerPop drops such labels between passes, so its answer "
                                      "differs)")


@step("repeat")
def _repeat(c: Compiler, name: str, args: list[Any]) -> Step:
    loop_name = None
    if len(args) == 2 and isinstance(args[0], str):
        loop_name, args = args[0], args[1:]
    if len(args) != 1:
        raise TraversalError("repeat() takes a traversal (and an optional loop name before it)")
    _refuse_labels_across_passes(args[0])
    r = Repeat(child_traversal(c, args[0], "repeat"), loop_name)
    for mod_name, mod_args in c.take_loop_modulators():
        r.set_modulator(mod_name, mod_args, c, first=True)
    return r


class Loops(MapStep):
    """``loops()``/``loops(name)``: how many passes the innermost (or the named) ``repeat()``
    has made with this traverser."""

    name = "loops"

    def __init__(self, loop_name: str | None) -> None:
        self.loop_name = loop_name

    def map(self, ctx: Context, t: Traverser) -> Any:
        return t.loop_count(self.loop_name)


@step("loops")
def _loops(c: Compiler, name: str, args: list[Any]) -> Step:
    if len(args) > 1 or (args and not isinstance(args[0], str)):
        raise TraversalError("loops() takes at most a loop name")
    return Loops(args[0] if args else None)


_STATEFUL = ("dedup", "limit", "range", "skip", "tail", "sample")
_GLOBAL_BRANCHES = ("union", "choose", "branch", "optional")


def _stateful_steps(traversal: Traversal) -> Iterator[Step]:
    """The steps of ``traversal`` (and of its global branches) that keep state across traversers."""
    for s in traversal.steps:
        if s.name in _STATEFUL and getattr(s, "streaming", True) is False:
            yield s
        elif s.name in _GLOBAL_BRANCHES:
            for child in s.children():
                yield from _stateful_steps(child)


def refuse_state_in_repeat(steps: list[Step]) -> list[Step]:
    """Inside ``repeat()``, TinkerPop's ``dedup``/``limit``/``range``/``tail``/``sample`` keep their
    state across all passes (``repeat(dedup()).times(2)`` gives nothing); the embedded graph's
    loop runs its body traverser by traverser and cannot: refuse cleanly."""
    for s in steps:
        body = getattr(s, "body", None)
        if s.name == "repeat" and isinstance(body, Traversal):
            for found in _stateful_steps(body):
                raise unsupported(f"{found.name}() inside repeat() (TinkerPop keeps its state across the passes)")
    return steps


# Runs after logic.py's infix rewrite: steps/__init__.py imports logic before this module.
REWRITES.append(refuse_state_in_repeat)
