"""Run gremlinpython bytecode on a :class:`~rdg.graph.embedded.store.Store`: the source's
options (``withSideEffect``, ``withSack``, ``withStrategies``), the compiled steps, a deadline,
and a gremlinpython ``RemoteConnection`` so ``traversal().with_remote(...)`` works unchanged.

>>> from gremlin_python.process.anonymous_traversal import traversal
>>> store = Store.open(":memory:")
>>> g = traversal().with_remote(EmbeddedConnection(store))
>>> _ = g.add_v("person").property("name", "marko").iterate()
>>> g.V().has("person", "name", "marko").values("name").to_list()
['marko']
"""

from __future__ import annotations

from typing import Any

from gremlin_python.driver.remote_connection import RemoteConnection, RemoteTraversal
from gremlin_python.process.traversal import Bytecode, Traverser as GTraverser

import rdg.graph.embedded.steps  # noqa: F401 - registers every step
from rdg.graph.embedded.bulking import refuse_bulk_dependent
from rdg.graph.embedded.errors import TraversalError, unsupported
from rdg.graph.embedded.steps.aggregate import operator_function
from rdg.graph.embedded.store import Store
from rdg.graph.embedded.strategies import apply_strategies
from rdg.graph.embedded.traversal import Compiler, Traversal, resolve
from rdg.graph.embedded.traverser import Context

__all__ = ["EmbeddedConnection", "compile_bytecode", "execute"]


def compile_bytecode(code: Bytecode) -> Traversal:
    """The traversal ``code`` describes (source options are :func:`execute`'s)."""
    return Compiler().compile(code)


def _source(ctx: Context, code: Bytecode) -> None:
    for instruction in code.source_instructions:
        name, args = instruction[0], [resolve(a) for a in instruction[1:]]
        if name == "withSideEffect" and len(args) >= 2:
            ctx.side_effects[args[0]] = _copy(args[1])
            if len(args) > 2:
                ctx.side_effect_reducers[args[0]] = operator_function(args[2])
        elif name == "withSack" and args:
            _with_sack(ctx, args)
        elif name == "withStrategies":
            apply_strategies(ctx, args)
        elif name in ("withBulk", "withPath", "with"):
            ctx.options[name] = args
        elif name == "withoutStrategies":
            continue
        else:
            raise unsupported(f"the traversal source option {name}()")


def _with_sack(ctx: Context, args: list[Any]) -> None:
    """``withSack(initial)`` / ``withSack(initial, Operator.sum)`` (the merge of equal traversers)."""
    initial = args[0]
    if Compiler.is_traversal(initial) or callable(initial):
        raise unsupported("withSack() with a supplier (only a value)")
    if len(args) > 2:
        raise unsupported("withSack() with a split operator (only withSack(value, merge_operator))")
    ctx.sack_initial = (lambda v=initial: _copy(v))
    if len(args) == 2:
        ctx.sack_merge = operator_function(args[1])


def _copy(value: Any) -> Any:
    import copy

    return copy.deepcopy(value) if isinstance(value, (list, dict, set)) else value


def execute(store: Store, code: Bytecode, *, timeout_s: float | None = None, read_only: bool = False,
            compiled: Traversal | None = None) -> list[Any]:
    """Every result of ``code`` on ``store`` (the caller owns the transaction); ``compiled`` is
    ``code`` already compiled (:func:`compile_bytecode`), if the caller has it.

    Raises:
        EmbeddedUnsupportedError: A step or form the embedded graph does not run.
        TraversalError: The traversal is wrong for the data (as TinkerGraph would say).
        RdgTimeoutError: It ran past ``timeout_s``.
    """
    ctx = Context(store, timeout_s=timeout_s, read_only=read_only)
    _source(ctx, code)
    traversal = compiled if compiled is not None else compile_bytecode(code)
    refuse_bulk_dependent(traversal)
    if ctx.read_only and traversal.writes:
        raise TraversalError("this traversal writes, and the ReadOnlyStrategy forbids it")
    try:
        return [t.obj for t in traversal.apply(ctx, iter(()))]
    except RecursionError as err:
        raise TraversalError("the traversal nests too deeply") from err


class EmbeddedConnection(RemoteConnection):
    """A gremlinpython remote connection that runs bytecode in this process, each traversal in
    its own transaction (committed when it wrote, rolled back when it failed)."""

    def __init__(self, store: Store, *, timeout_s: float | None = None) -> None:
        super().__init__("embedded", "g")
        self.store = store
        self.timeout_s = timeout_s
        """Each traversal's time limit (None: none), as a server's ``evaluationTimeout``."""

    def submit(self, bytecode: Bytecode) -> RemoteTraversal:
        store = self.store
        outer = store.con.in_transaction
        compiled = compile_bytecode(bytecode)
        if not outer:
            store.begin(write=compiled.writes)
        try:
            results = execute(store, bytecode, compiled=compiled, timeout_s=self.timeout_s)
        except BaseException:
            if not outer:
                store.rollback()
            raise
        if not outer:
            store.commit()
        return RemoteTraversal(iter([GTraverser(r, 1) for r in results]))

    def close(self) -> None:
        pass
