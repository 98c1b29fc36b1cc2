"""Safe parameter expressions for workflows: a small language on top of ``simpleeval``.

Expressions read run parameters (``params.x``), earlier steps' outputs (``steps.a.count``), the
current foreach item (``item``, ``index``) and a few pure functions. They can never reach
Python internals: no attribute names with underscores, no imports, no lambdas, bounded length,
bounded string and list sizes. ``eval`` is never used.

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
>>> evaluate("().__class__", {})
Traceback (most recent call last):
...
rdg.spec._workflow_expr.ExpressionError: expression '().__class__' is not allowed: names starting with '_' are private (hint: use only params.*, steps.*, item, index and the functions len, str, int, float, bool, min, max, sum, abs, round, sorted, range, list, dict, keys, values)
"""

from __future__ import annotations

import ast
import re
from typing import Any, Mapping

import simpleeval

from rdg.errors import RdgError

__all__ = ["ExpressionError", "MAX_EXPRESSION_LENGTH", "evaluate", "references", "render", "templates"]

MAX_EXPRESSION_LENGTH = 500
"""Longest expression accepted, in characters."""
MAX_RANGE = 1_000_000
"""Largest ``range(n)`` an expression may build (a foreach over more needs a list parameter)."""
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


class _Evaluator(simpleeval.EvalWithCompoundTypes):
    """``a.b`` means the key ``b`` of the mapping ``a``; no attribute of any object is reachable."""

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


def evaluate(expr: str, names: Mapping[str, Any]) -> Any:
    """Evaluate one expression against ``names`` (``params``, ``steps``, ``item``, ``index``).

    Raises:
        ExpressionError: The expression is not allowed or fails (unknown key, bad types, limits).
    """
    _parse(expr)
    evaluator = _Evaluator(names=dict(names), functions=_FUNCTIONS)
    old = simpleeval.MAX_STRING_LENGTH
    simpleeval.MAX_STRING_LENGTH = _MAX_STRING
    try:
        return evaluator.eval(expr.strip())
    except ExpressionError:
        raise
    except simpleeval.InvalidExpression as err:
        raise ExpressionError(f"expression {expr!r} failed: {err}", hint=_HINT) from err
    except (KeyError, IndexError) as err:
        raise ExpressionError(f"expression {expr!r} failed: no value for {err}",
                              hint="check the parameter or step output name") from err
    except (TypeError, ValueError, ZeroDivisionError, OverflowError, AttributeError) as err:
        raise ExpressionError(f"expression {expr!r} failed: {err}") from err
    finally:
        simpleeval.MAX_STRING_LENGTH = old


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
    if isinstance(value, str):
        whole = _TEMPLATE.fullmatch(value.strip())
        if whole:
            return evaluate(whole.group(1), names)
        if "${{" not in value:
            return value
        return _TEMPLATE.sub(lambda m: _text(evaluate(m.group(1), names)), value)
    if isinstance(value, Mapping):
        return {k: render(v, names) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [render(v, names) for v in value]
    return value


def _text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(value, separators=(",", ":"))
    return str(value)
