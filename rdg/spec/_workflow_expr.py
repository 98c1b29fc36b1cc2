"""Safe parameter expressions for workflows: a small language on top of ``simpleeval``.

Expressions read run parameters (``params.x``), earlier steps' outputs (``steps.a.count``), the
current foreach item (``item``, ``index``) and a few pure functions. They can never reach
Python internals: no attribute names with underscores, no imports, no lambdas, bounded length,
bounded string and list sizes. ``eval`` is never used.

What one evaluation may cost is bounded too: integers up to :data:`MAX_INT_BITS` bits, at most
:data:`MAX_STEPS` evaluation steps and :data:`MAX_SIZE` characters or items produced in all, and
:data:`MAX_SECONDS` of time. :func:`evaluate_async` and :func:`render_async` (what the engine
calls) run an expression inline while it stays small and move it to a thread once it grows, so
a heavy expression never stalls the engine's event loop.

Values in a workflow spec use them in two ways: fields that *are* expressions (``if:``,
``over:``) and templates inside parameter values, ``"${{ expr }}"``. A value that is exactly
one template keeps the expression's type; templates inside longer text are formatted as text.

>>> evaluate("params.n * 2 + len(steps.a.items)", {"params": {"n": 4}, "steps": {"a": {"items": [1, 2]}}})
10
>>> render("${{ params.n + 1 }}", {"params": {"n": 1}})
2
>>> render("run-${{ params.day }}.csv", {"params": {"day": "mon"}})
'run-mon.csv'
>>> references("params.a + steps.s1.n > 3")
({'a'}, {'s1'})
>>> evaluate("params.n ** params.n > 0", {"params": {"n": 3000000}})
Traceback (most recent call last):
...
rdg.spec._workflow_expr.ExpressionLimitError: expression 'params.n ** params.n > 0' is over a limit: 3000000 ** 3000000 would have more than 4096 bits (hint: keep expressions small; move heavy work into a python step)
>>> evaluate("().__class__", {})
Traceback (most recent call last):
...
rdg.spec._workflow_expr.ExpressionError: expression '().__class__' is not allowed: names starting with '_' are private (hint: use only params.*, steps.*, item, index and the functions len, str, int, float, bool, min, max, sum, abs, round, sorted, range, list, dict, keys, values)
"""

from __future__ import annotations

import ast
import asyncio
import re
import time
from typing import Any, Mapping

import simpleeval

from rdg.errors import RdgError

__all__ = ["ExpressionError", "ExpressionLimitError", "MAX_EXPRESSION_LENGTH", "MAX_INT_BITS", "MAX_SECONDS",
           "MAX_SIZE", "MAX_STEPS", "evaluate", "evaluate_async", "references", "render", "render_async",
           "templates"]

MAX_EXPRESSION_LENGTH = 500
"""Longest expression accepted, in characters."""
MAX_RANGE = 1_000_000
"""Largest ``range(n)`` an expression may build (a foreach over more needs a list parameter)."""
MAX_INT_BITS = 4096
"""Largest integer an expression may compute, in bits (``2 ** 4096`` is about 1e1233)."""
MAX_STEPS = 200_000
"""Most evaluation steps (nodes visited, comprehension items included) in one evaluation."""
MAX_SIZE = 2_000_000
"""Most characters and items all the values one evaluation produces may hold, summed."""
MAX_SECONDS = 1.0
"""Longest one evaluation may take."""
_INLINE = (2_000, 100_000)  # steps and size an evaluation may use on the event loop before moving to a thread
_MAX_STRING = 100_000
_NAMES = ("params", "steps", "item", "index", "run")
_FUNCS = ("len", "str", "int", "float", "bool", "min", "max", "sum", "abs", "round", "sorted",
          "range", "list", "dict", "keys", "values")
_HINT = ("use only params.*, steps.*, item, index and the functions " + ", ".join(_FUNCS))
_TEMPLATE = re.compile(r"\$\{\{(.*?)\}\}", re.S)
_ALLOWED_NODES = (
    ast.Expression, ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.Compare, ast.IfExp, ast.Call,
    ast.Constant, ast.Name, ast.Load, ast.Attribute, ast.Subscript, ast.Slice, ast.List, ast.Tuple,
    ast.Dict, ast.Set, ast.And, ast.Or, ast.Not, ast.USub, ast.UAdd, ast.Add, ast.Sub, ast.Mult,
    ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE,
    ast.In, ast.NotIn, ast.Is, ast.IsNot, ast.keyword, ast.JoinedStr, ast.FormattedValue,
    ast.ListComp, ast.comprehension, ast.Store,
)


class ExpressionError(RdgError):
    """An expression is malformed, not allowed, or failed while evaluating."""


class ExpressionLimitError(ExpressionError):
    """An expression needed more time, memory or integer size than one evaluation may use."""


class _TooBigToRunInline(Exception):
    """The inline budget ran out: evaluate again in a thread with the full one."""


class _Budget:
    """What one evaluation may still spend."""

    def __init__(self, steps: int = MAX_STEPS, size: int = MAX_SIZE, seconds: float = MAX_SECONDS,
                 inline: bool = False) -> None:
        self.steps, self.size, self.inline = steps, size, inline
        self.deadline = time.monotonic() + seconds

    def over(self, what: str) -> Exception:
        return _TooBigToRunInline() if self.inline else ExpressionLimitError(what)

    def spend(self, result: Any) -> None:
        self.steps -= 1
        if isinstance(result, (str, bytes, list, tuple, dict, set)):
            self.size -= len(result)
        if self.steps < 0:
            raise self.over(f"it takes more than {MAX_STEPS:,} evaluation steps")
        if self.size < 0:
            raise self.over(f"its values hold more than {MAX_SIZE:,} characters or items")
        if self.steps % 256 == 0 and time.monotonic() > self.deadline:
            raise self.over(f"it takes longer than {MAX_SECONDS:g} s")


def _int_bits(value: Any) -> int:
    return value.bit_length() if isinstance(value, int) and not isinstance(value, bool) else 0


def _check_int(result_bits: int, what: str) -> None:
    if result_bits > MAX_INT_BITS:
        raise ExpressionLimitError(f"{what} would have more than {MAX_INT_BITS} bits")


def _pow(a: Any, b: Any) -> Any:
    if _int_bits(a) and isinstance(b, int) and b > 0:
        _check_int((_int_bits(a) - 1) * b + 1, f"{a} ** {b}")
    if isinstance(b, (int, float)) and abs(b) > 1_000_000:
        raise ExpressionLimitError(f"the exponent {b} is larger than 1,000,000")
    return a ** b


def _mult(a: Any, b: Any) -> Any:
    if _int_bits(a) and _int_bits(b):
        _check_int(_int_bits(a) + _int_bits(b), "a product")
    for seq, n in ((a, b), (b, a)):
        if hasattr(seq, "__len__") and isinstance(n, int) and len(seq) * n > _MAX_STRING:
            raise ExpressionLimitError(f"repeating {len(seq):,} items {n:,} times is over {_MAX_STRING:,}")
    return a * b


def _add(a: Any, b: Any) -> Any:
    if hasattr(a, "__len__") and hasattr(b, "__len__") and len(a) + len(b) > _MAX_STRING:
        raise ExpressionLimitError(f"joining them would hold more than {_MAX_STRING:,} characters or items")
    return a + b


def _mod(a: Any, b: Any) -> Any:
    if isinstance(a, (str, bytes)):
        raise ExpressionError("'%' formatting of text is not supported", hint="use an f-string or str()")
    return a % b


def _range(*args: int) -> range:
    r = range(*args)
    if len(r) > MAX_RANGE:
        msg = f"range of {len(r)} items is larger than the limit of {MAX_RANGE}"
        raise ExpressionError(msg, hint="pass a list parameter instead")
    return r


_FUNCTIONS: dict[str, Any] = {
    "len": len, "str": str, "int": int, "float": float, "bool": bool, "min": min, "max": max,
    "sum": sum, "abs": abs, "round": round, "sorted": sorted, "range": _range, "list": list,
    "dict": dict, "keys": lambda d: list(d.keys()), "values": lambda d: list(d.values()),
}


_OPERATORS = {**simpleeval.DEFAULT_OPERATORS, ast.Pow: _pow, ast.Mult: _mult, ast.Add: _add, ast.Mod: _mod}


class _Evaluator(simpleeval.EvalWithCompoundTypes):
    """``a.b`` means the key ``b`` of the mapping ``a``; no attribute of any object is reachable.
    Every node evaluated spends from a :class:`_Budget`."""

    def __init__(self, names: dict[str, Any], budget: _Budget) -> None:
        super().__init__(operators=_OPERATORS, names=names, functions=_FUNCTIONS)
        self.budget = budget

    def _eval(self, node: ast.AST) -> Any:
        result = super()._eval(node)
        self.budget.spend(result)
        return result

    def _eval_attribute(self, node: ast.Attribute) -> Any:
        base = self._eval(node.value)
        if isinstance(base, Mapping):
            if node.attr in base:
                return base[node.attr]
            raise KeyError(node.attr)
        msg = f"'.{node.attr}' works only on mappings (params, steps, outputs), not on {type(base).__name__}"
        raise ExpressionError(msg, hint=_HINT)


def _parse(expr: str) -> ast.Expression:
    if not isinstance(expr, str) or not expr.strip():
        raise ExpressionError("an expression must be non-empty text", hint=_HINT)
    if len(expr) > MAX_EXPRESSION_LENGTH:
        msg = f"expression is {len(expr)} characters long; the limit is {MAX_EXPRESSION_LENGTH}"
        raise ExpressionError(msg, hint="move the logic into a python step")
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError as err:
        raise ExpressionError(f"expression {expr!r} is not valid: {err.msg}", hint=_HINT) from err
    local_names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.comprehension) and isinstance(node.target, ast.Name):
            local_names.add(node.target.id)
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            msg = f"expression {expr!r} is not allowed: {type(node).__name__} is not supported"
            raise ExpressionError(msg, hint=_HINT)
        name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else None
        if name is not None and name.startswith("_"):
            msg = f"expression {expr!r} is not allowed: names starting with '_' are private"
            raise ExpressionError(msg, hint=_HINT)
        if isinstance(node, ast.Name) and node.id not in _NAMES and node.id not in _FUNCS \
                and node.id not in local_names and node.id not in ("True", "False", "None"):
            raise ExpressionError(f"expression {expr!r} uses unknown name '{node.id}'", hint=_HINT)
        if isinstance(node, ast.FormattedValue) and node.format_spec is not None:
            raise ExpressionError(f"expression {expr!r} is not allowed: format specs in f-strings are not supported",
                                  hint="use str(), round() or int()")
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in _FUNCS):
            raise ExpressionError(f"expression {expr!r} calls something that is not an allowed function",
                                  hint=_HINT)
    return tree


def _ref(node: ast.AST, root: str) -> str | None:
    """The first key after ``root`` in ``root.key`` or ``root['key']``."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == root:
        return node.attr
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == root \
            and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
        return node.slice.value
    return None


def references(expr: str) -> tuple[set[str], set[str]]:
    """The parameter names and step ids an expression reads (checks it is allowed first).

    Raises:
        ExpressionError: The expression is malformed or not allowed.
    """
    tree = _parse(expr)
    params: set[str] = set()
    steps: set[str] = set()
    for node in ast.walk(tree):
        if (p := _ref(node, "params")) is not None:
            params.add(p)
        if (s := _ref(node, "steps")) is not None:
            steps.add(s)
    return params, steps


def evaluate(expr: str, names: Mapping[str, Any], *, _budget: _Budget | None = None) -> Any:
    """Evaluate one expression against ``names`` (``params``, ``steps``, ``item``, ``index``).

    Raises:
        ExpressionLimitError: It needed more than one evaluation may use (see the module's limits).
        ExpressionError: The expression is not allowed or fails (unknown key, bad types, limits).
    """
    _parse(expr)
    evaluator = _Evaluator(dict(names), _budget or _Budget())
    try:
        return evaluator.eval(expr.strip())
    except ExpressionLimitError as err:
        raise ExpressionLimitError(f"expression {expr!r} is over a limit: {err.message}",
                                   hint="keep expressions small; move heavy work into a python step") from None
    except (ExpressionError, _TooBigToRunInline):
        raise
    except simpleeval.InvalidExpression as err:
        raise ExpressionError(f"expression {expr!r} failed: {err}", hint=_HINT) from err
    except (KeyError, IndexError) as err:
        raise ExpressionError(f"expression {expr!r} failed: no value for {err}",
                              hint="check the parameter or step output name") from err
    except (TypeError, ValueError, ZeroDivisionError, OverflowError, AttributeError) as err:
        raise ExpressionError(f"expression {expr!r} failed: {err}") from err
    except (MemoryError, RecursionError) as err:
        raise ExpressionLimitError(f"expression {expr!r} is over a limit: {type(err).__name__}") from None


async def evaluate_async(expr: str, names: Mapping[str, Any]) -> Any:
    """:func:`evaluate`, inline while it stays small, else in a thread (the event loop keeps running).

    >>> import asyncio
    >>> asyncio.run(evaluate_async("sum([x * 2 for x in range(5000)])", {}))  # in a thread: 25,000 steps
    24995000
    """
    try:
        return evaluate(expr, names, _budget=_Budget(*_INLINE, inline=True))
    except _TooBigToRunInline:
        return await asyncio.to_thread(evaluate, expr, names)


async def render_async(value: Any, names: Mapping[str, Any]) -> Any:
    """:func:`render`, inline while its templates stay small, else in a thread."""
    try:
        return _render(value, names, lambda: _Budget(*_INLINE, inline=True))
    except _TooBigToRunInline:
        return await asyncio.to_thread(render, value, names)


def templates(value: Any) -> list[str]:
    """Every ``${{ expr }}`` expression inside a (possibly nested) value.

    >>> templates({"a": "x-${{ params.a }}", "b": ["${{ item }}", 3]})
    [' params.a ', ' item ']
    """
    if isinstance(value, str):
        return _TEMPLATE.findall(value)
    if isinstance(value, Mapping):
        return [t for v in value.values() for t in templates(v)]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in templates(v)]
    return []


def render(value: Any, names: Mapping[str, Any]) -> Any:
    """Replace ``${{ expr }}`` templates in a (possibly nested) value.

    Raises:
        ExpressionError: A template fails to evaluate.
    """
    return _render(value, names, _Budget)


def _render(value: Any, names: Mapping[str, Any], budget: Any) -> Any:
    if isinstance(value, str):
        whole = _TEMPLATE.fullmatch(value.strip())
        if whole:
            return evaluate(whole.group(1), names, _budget=budget())
        if "${{" not in value:
            return value
        return _TEMPLATE.sub(lambda m: _text(evaluate(m.group(1), names, _budget=budget())), value)
    if isinstance(value, Mapping):
        return {k: _render(v, names, budget) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_render(v, names, budget) for v in value]
    return value


def _text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(value, separators=(",", ":"))
    return str(value)
