"""``order()``: sorts every traverser (global, a barrier) or the items of each traverser's
collection (``order(Scope.local)``; a map is sorted by its entries), by any number of
``by()`` modulators, each with ``Order.asc``/``desc``/``shuffle``. Values of different types
sort by Gremlin's orderability (null < boolean < number < date < string < ... < map); an
item whose ``by()`` gives nothing is dropped.

>>> keyed = [(["b"], "b"), ([None], None), ([2], 2)]
>>> [item for _, item in sort_keyed(keyed, [Order.asc])]
[None, 2, 'b']
>>> [item for _, item in sort_keyed(keyed, [Order.desc])]
['b', 2, None]
"""

from __future__ import annotations

import random
from enum import Enum
from functools import cmp_to_key
from typing import Any, Iterator

from gremlin_python.process.traversal import Order, Scope

from rdg.graph.embedded.errors import TraversalError, unsupported
from rdg.graph.embedded.traversal import By, Compiler, MapEntry, Step, Traversal, step
from rdg.graph.embedded.traverser import Context, Traverser
from rdg.graph.embedded.values import NOTHING, order_cmp

__all__ = ["OrderStep", "sort_keyed"]


def _plain(value: Any) -> Any:
    """Enums sort by their names (``T.id`` as ``'id'``), as TinkerPop's ``Order`` does."""
    return value.name.rstrip("_") if isinstance(value, Enum) else value


def _direction(order: Any) -> Order:
    if order is None:
        return Order.asc
    if isinstance(order, Order):
        return order
    name = getattr(order, "name", None)
    if name in ("incr", "decr"):
        return Order.asc if name == "incr" else Order.desc
    raise unsupported(f"{order!r} as a comparator in order().by() (use Order.asc, desc or shuffle)")


def sort_keyed(keyed: list[tuple[list[Any], Any]], orders: list[Order]) -> list[tuple[list[Any], Any]]:
    """``(sort keys, item)`` pairs sorted key by key, each ascending or descending."""
    def cmp(a: tuple[list[Any], Any], b: tuple[list[Any], Any]) -> int:
        for x, y, order in zip(a[0], b[0], orders):
            c = order_cmp(_plain(x), _plain(y))
            if c:
                return -c if order == Order.desc else c
        return 0
    return sorted(keyed, key=cmp_to_key(cmp))


class OrderStep(Step):
    """``order()`` / ``order(Scope.local)`` with its ``by()`` modulators."""

    name = "order"

    def __init__(self, local: bool) -> None:
        self.local = local
        self.bys: list[By] = []

    @property
    def barrier(self) -> bool:
        return not self.local

    def modulate(self, name: str, args: list[Any], c: Compiler) -> None:
        if name != "by":
            super().modulate(name, args, c)
        self.bys.append(By(args, c))

    def _plan(self) -> tuple[list[By | None], list[Order], bool]:
        """The modulators that matter, their directions, and whether the result is a shuffle
        (a shuffle last shuffles everything; one before other modulators is ignored)."""
        if not self.bys:
            return [None], [Order.asc], False
        pairs = [(b, _direction(b.order)) for b in self.bys]
        if pairs[-1][1] == Order.shuffle:
            return [b for b, _ in pairs], [o for _, o in pairs], True
        kept = [(b, o) for b, o in pairs if o != Order.shuffle]
        return [b for b, _ in kept], [o for _, o in kept], False

    def _sort(self, ctx: Context, items: list[Any], keys_of: Any) -> list[Any]:
        bys, orders, shuffle = self._plan()
        keyed = []
        for item in items:
            ctx.tick()
            keys = keys_of(item, bys)
            if keys is not None:
                keyed.append((keys, item))
        if shuffle:
            random.shuffle(keyed)
            return [item for _, item in keyed]
        return [item for _, item in sort_keyed(keyed, orders)]

    @staticmethod
    def _keys(ctx: Context, bys: list[By | None], value_of: Any) -> list[Any] | None:
        keys = []
        for by in bys:
            key = value_of(by)
            if key is NOTHING:
                return None
            keys.append(key)
        return keys

    def apply(self, ctx: Context, traversers: Iterator[Traverser]) -> Iterator[Traverser]:
        if self.local:
            for t in traversers:
                ctx.tick()
                yield t.extend(self._local(ctx, t.obj))
            return

        def keys_of(t: Traverser, bys: list[By | None]) -> list[Any] | None:
            return self._keys(ctx, bys, lambda by: t.obj if by is None else by.value(ctx, t))

        yield from self._sort(ctx, list(traversers), keys_of)

    def _local(self, ctx: Context, obj: Any) -> Any:
        def keys_of(item: Any, bys: list[By | None]) -> list[Any] | None:
            return self._keys(ctx, bys, lambda by: item if by is None else by.value_of(ctx, item))

        if isinstance(obj, dict) and not isinstance(obj, MapEntry):
            entries = [MapEntry({k: v}) for k, v in obj.items()]
            return {e.key: e.value for e in self._sort(ctx, entries, keys_of)}
        if isinstance(obj, (list, tuple, set, frozenset)):
            return self._sort(ctx, list(obj), keys_of)
        return obj

    def children(self) -> list[Traversal]:
        return [x for b in self.bys for x in b.children()]


@step("order")
def _order(c: Compiler, name: str, args: list[Any]) -> Step:
    local = False
    if args and isinstance(args[0], Scope):
        local, args = args[0] == Scope.local, args[1:]
    if args:
        raise TraversalError("order() takes only a scope")
    return OrderStep(local)
