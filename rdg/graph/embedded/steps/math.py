"""The ``math()`` step and its expression parser: exp4j's grammar (``+ - * / % ^``, unary minus,
juxtaposition as product, the functions of :data:`FUNCTIONS`), every number a double. ``_`` is
the current object, any other variable a label (:func:`~rdg.graph.embedded.steps.maps.select_one`),
``by()`` modulators apply to the variables in turn; an unproductive ``by()`` drops the traverser.

>>> evaluate(parse_math("2 * (a + 1) ^ 2 % 5"), {"a": 1.0})
3.0
>>> sorted(math_variables("_ + sin(x) - 2e3 * pi"))
['_', 'pi', 'x']
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable

from gremlin_python.process.traversal import Pop

from rdg.graph.embedded.errors import TraversalError
from rdg.graph.embedded.steps.maps import Ring, select_one
from rdg.graph.embedded.traversal import Compiler, MapStep, Step, Traversal, step
from rdg.graph.embedded.traverser import Context, Traverser
from rdg.graph.embedded.values import NOTHING, is_number, type_name

__all__ = ["FUNCTIONS", "MAX_DEPTH", "MAX_EXPRESSION", "Math", "evaluate", "math_variables", "parse_math"]


MAX_EXPRESSION = 2000
"""The longest math() expression accepted (characters)."""
MAX_DEPTH = 64
"""How deeply a math() expression may nest."""


def _sqrt(x: float) -> float:
    return math.sqrt(x) if x >= 0 else math.nan


def _log(f: Callable[[float], float]) -> Callable[[float], float]:
    def run(x: float) -> float:
        if math.isnan(x) or x < 0:
            return math.nan
        return -math.inf if x == 0 else f(x)
    return run


def _domain(f: Callable[[float], float]) -> Callable[[float], float]:
    def run(x: float) -> float:
        try:
            return f(x)
        except ValueError:
            return math.nan
        except OverflowError:
            return math.inf
    return run


def _cbrt(x: float) -> float:
    return math.copysign(abs(x) ** (1.0 / 3.0), x) if math.isfinite(x) else x


FUNCTIONS: dict[str, Callable[[float], float]] = {
    "abs": abs, "acos": _domain(math.acos), "asin": _domain(math.asin), "atan": math.atan, "cbrt": _cbrt,
    "ceil": _domain(math.ceil), "cos": _domain(math.cos), "cosh": _domain(math.cosh), "exp": _domain(math.exp),
    "floor": _domain(math.floor), "log": _log(math.log), "log10": _log(math.log10), "log2": _log(math.log2),
    "signum": lambda x: x if x == 0 or math.isnan(x) else math.copysign(1.0, x), "sin": _domain(math.sin),
    "sinh": _domain(math.sinh), "sqrt": _sqrt, "tan": _domain(math.tan), "tanh": math.tanh,
}
"""The functions math() knows (those of TinkerPop's exp4j)."""

_TOKEN = re.compile(r"\s*(?:(\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(.))")
_VARIABLE = re.compile(r"\b(?![0-9]+|\b(?:" + "|".join(FUNCTIONS) + r")\b)([a-zA-Z_][a-zA-Z0-9_]*)\b")

Node = tuple  # ("n", value) | ("v", name) | ("neg", node) | ("f", name, node) | (op, left, right)


def math_variables(expression: str) -> list[str]:
    """The variables of an expression, in the order they first appear (as TinkerPop finds them)."""
    out: list[str] = []
    for m in _VARIABLE.finditer(expression):
        if m.group(1) not in out:
            out.append(m.group(1))
    return out


def _tokens(expression: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(expression):
        m = _TOKEN.match(expression, pos)
        if m is None or m.end() == pos:
            break
        pos = m.end()
        number, name, other = m.groups()
        if number is not None:
            out.append(("num", number))
        elif name is not None:
            out.append(("name", name))
        elif other is not None and other.strip():
            if other not in "+-*/%^()":
                raise TraversalError(f"math(): unexpected {other!r} in {expression!r}")
            out.append(("op", other))
    return out


class _Parser:
    """Recursive descent over exp4j's grammar: ``+ -`` < ``* / %`` (and juxtaposition) < unary
    ``- +`` < ``^`` (right-associative); a function without parentheses takes the rest."""

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.tokens = _tokens(expression)
        self.pos = 0
        self.depth = 0

    def fail(self, what: str) -> TraversalError:
        return TraversalError(f"math(): {what} in {self.expression!r}")

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise self.fail("the expression ends too soon")
        self.pos += 1
        return token

    def parse(self) -> Node:
        node = self.sum()
        if self.peek() is not None:
            raise self.fail(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return node

    def sum(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail("the expression nests too deeply")
        node = self.product()
        while (token := self.peek()) is not None and token in (("op", "+"), ("op", "-")):
            self.pos += 1
            node = (token[1], node, self.product())
        self.depth -= 1
        return node

    def product(self) -> Node:
        node = self.unary()
        while (token := self.peek()) is not None:
            if token[0] == "op" and token[1] in "*/%":
                self.pos += 1
                node = (token[1], node, self.unary())
            elif token[0] in ("num", "name") or token == ("op", "("):
                node = ("*", node, self.unary())
            else:
                break
        return node

    def unary(self) -> Node:
        token = self.peek()
        if token in (("op", "-"), ("op", "+")):
            self.pos += 1
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.fail("the expression nests too deeply")
            inner = self.unary()
            self.depth -= 1
            return ("neg", inner) if token == ("op", "-") else inner
        return self.power()

    def power(self) -> Node:
        base = self.atom()
        if self.peek() == ("op", "^"):
            self.pos += 1
            return ("^", base, self.unary())
        return base

    def atom(self) -> Node:
        kind, text = self.take()
        if kind == "num":
            return ("n", float(text))
        if kind == "name":
            if text in FUNCTIONS:
                if self.peek() == ("op", "("):
                    self.pos += 1
                    inner = self.sum()
                    if self.take() != ("op", ")"):
                        raise self.fail(f"{text}( is not closed")
                    return ("f", text, inner)
                return ("f", text, self.sum())
            return ("v", text)
        if text == "(":
            inner = self.sum()
            if self.take() != ("op", ")"):
                raise self.fail("a parenthesis is not closed")
            return inner
        raise self.fail(f"unexpected {text!r}")


def parse_math(expression: str) -> Node:
    """The syntax tree of a math() expression (raises TraversalError when it is not one)."""
    if len(expression) > MAX_EXPRESSION:
        raise TraversalError(f"math(): the expression is longer than {MAX_EXPRESSION} characters")
    return _Parser(expression).parse()


def _binary(op: str, a: float, b: float) -> float:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op in "/%":
        if b == 0.0:
            raise TraversalError("math(): division by zero")
        return a / b if op == "/" else math.fmod(a, b)
    try:
        return math.pow(a, b)
    except OverflowError:
        return math.inf if a > 0 or float(b).is_integer() and b % 2 == 0 else -math.inf
    except ValueError:
        return math.nan


def evaluate(node: Node, variables: dict[str, float]) -> float:
    """The value of a parsed expression (every number a double)."""
    kind = node[0]
    if kind == "n":
        return node[1]
    if kind == "v":
        return variables[node[1]]
    if kind == "neg":
        return -evaluate(node[1], variables)
    if kind == "f":
        return float(FUNCTIONS[node[1]](evaluate(node[2], variables)))
    return _binary(kind, evaluate(node[1], variables), evaluate(node[2], variables))


class Math(MapStep):
    """``math(expression)``: evaluates the expression as a double; ``_`` is the current object,
    any other variable a label (map key, side effect or path label); ``by()`` modulators apply to
    the variables in the order they first appear."""

    name = "math"

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.tree = parse_math(expression)
        self.variables = math_variables(expression)
        self.ring = Ring()

    def modulate(self, name: str, args: list[Any], c: Compiler) -> None:
        if name != "by":
            super().modulate(name, args, c)
        self.ring.add(args, c)

    def map(self, ctx: Context, t: Traverser) -> Any:
        values: dict[str, float] = {}
        for i, var in enumerate(self.variables):
            if var == "_":
                value = self.ring.value(ctx, i, t)
            else:
                found = select_one(ctx, t, var, Pop.last)
                value = self.ring.value_of(ctx, i, None if found is NOTHING else found)
            if value is NOTHING:
                return NOTHING
            if not is_number(value):
                raise TraversalError(f"math(): the variable {var} must be a number, not {type_name(value)} "
                                     f"{value!r}")
            values[var] = float(value)
        return evaluate(self.tree, values)

    def children(self) -> list[Traversal]:
        return self.ring.children()


@step("math")
def _math(c: Compiler, name: str, args: list[Any]) -> Step:
    if len(args) != 1 or not isinstance(args[0], str):
        raise TraversalError("math() takes one expression")
    return Math(args[0])

