"""A tiny allow-listed expression evaluator for `transform.parse_pattern` (MOD-pp-2).

Expressions are parsed with `ast` and walked node by node; only literals, item field names,
arithmetic (with the SEC-7 limits), comparisons, boolean logic, conditional expressions and a
handful of math functions are accepted. Nothing is ever passed to `eval`.
"""

from __future__ import annotations

import ast
import math
import operator
from typing import Any, Callable, Mapping

MAX_EXPRESSION_CHARS = 1000
MAX_POW_EXPONENT = 256
MAX_POW_BITS = 65_536
MAX_SEQUENCE_RESULT = 1_048_576


class SafeEvalError(ValueError):
    """The expression is not allowed or could not be evaluated."""


def _pow(base: Any, exponent: Any) -> Any:
    if isinstance(exponent, (int, float)) and abs(exponent) > MAX_POW_EXPONENT:
        raise SafeEvalError("exponent too large")
    if isinstance(base, (int, float)) and isinstance(exponent, (int, float)):
        bits = int(abs(base)).bit_length() if abs(base) < float("inf") else MAX_POW_BITS + 1
        if bits * abs(exponent) > MAX_POW_BITS:
            raise SafeEvalError("power result too large")
    return operator.pow(base, exponent)


def _mul(left: Any, right: Any) -> Any:
    for seq, count in ((left, right), (right, left)):
        if isinstance(seq, (str, list, tuple)) and isinstance(count, int) \
                and len(seq) * max(count, 0) > MAX_SEQUENCE_RESULT:
            raise SafeEvalError("repeated sequence too large")
    return operator.mul(left, right)


def _mod(left: Any, right: Any) -> Any:
    if isinstance(left, str):
        raise SafeEvalError("string formatting is not allowed")
    return operator.mod(left, right)


_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: _mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: _mod, ast.Pow: _pow,
}
_CMPOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs, "min": min, "max": max, "round": round,
    "floor": math.floor, "ceil": math.ceil, "sqrt": math.sqrt,
}


def safe_eval(expression: str, names: Mapping[str, Any]) -> Any:
    """Evaluate `expression` with `names` (the item's fields) or raise `SafeEvalError`."""
    if not isinstance(expression, str):
        raise SafeEvalError("expression must be a string")
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise SafeEvalError("expression too long")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise SafeEvalError("syntax error: " + str(exc.msg)) from None
    _check_tree(tree)
    try:
        return _Evaluator(names).visit(tree.body)
    except SafeEvalError:
        raise
    except RecursionError:
        raise SafeEvalError("expression too deeply nested") from None
    except (ArithmeticError, TypeError, ValueError) as exc:
        raise SafeEvalError(type(exc).__name__ + ": " + str(exc)) from None


_ALLOWED_NODES: tuple[type, ...] = (
    ast.Expression, ast.Constant, ast.Name, ast.Load, ast.BinOp, ast.UnaryOp, ast.BoolOp,
    ast.Compare, ast.IfExp, ast.Call, ast.And, ast.Or, ast.Not, ast.USub, ast.UAdd,
    *_BINOPS, *_CMPOPS,
)


def _check_tree(tree: ast.AST) -> None:
    """Refuse any disallowed node anywhere, even in a branch that would not be evaluated."""
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise SafeEvalError(type(node).__name__ + " is not allowed")
        if isinstance(node, ast.Call) and (not isinstance(node.func, ast.Name)
                                           or node.func.id not in FUNCTIONS
                                           or node.keywords):
            raise SafeEvalError("call not allowed")


class _Evaluator:
    def __init__(self, names: Mapping[str, Any]) -> None:
        self.names = names

    def visit(self, node: ast.AST) -> Any:
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is None:
            raise SafeEvalError(type(node).__name__ + " is not allowed")
        return method(node)

    def visit_Constant(self, node: ast.Constant) -> Any:
        if isinstance(node.value, (int, float, str)) or node.value is None:
            return node.value
        raise SafeEvalError("literal type not allowed")

    def visit_Name(self, node: ast.Name) -> Any:
        if node.id in self.names:
            return self.names[node.id]
        if node.id in ("True", "False", "None"):
            return {"True": True, "False": False, "None": None}[node.id]
        raise SafeEvalError("unknown name '" + node.id + "'")

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        op = _BINOPS.get(type(node.op))
        if op is None:
            raise SafeEvalError(type(node.op).__name__ + " is not allowed")
        return op(self.visit(node.left), self.visit(node.right))

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Any:
        operand = self.visit(node.operand)
        if isinstance(node.op, ast.Not):
            return not operand
        if isinstance(node.op, ast.USub):
            return -operand
        if isinstance(node.op, ast.UAdd):
            return +operand
        raise SafeEvalError(type(node.op).__name__ + " is not allowed")

    def visit_BoolOp(self, node: ast.BoolOp) -> Any:
        if isinstance(node.op, ast.And):
            result: Any = True
            for value in node.values:
                result = self.visit(value)
                if not result:
                    return result
            return result
        result = False
        for value in node.values:
            result = self.visit(value)
            if result:
                return result
        return result

    def visit_Compare(self, node: ast.Compare) -> Any:
        left = self.visit(node.left)
        for op_node, comparator in zip(node.ops, node.comparators):
            op = _CMPOPS.get(type(op_node))
            if op is None:
                raise SafeEvalError(type(op_node).__name__ + " is not allowed")
            right = self.visit(comparator)
            if not op(left, right):
                return False
            left = right
        return True

    def visit_IfExp(self, node: ast.IfExp) -> Any:
        return self.visit(node.body) if self.visit(node.test) else self.visit(node.orelse)

    def visit_Call(self, node: ast.Call) -> Any:
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            raise SafeEvalError("call not allowed")
        if node.keywords or any(isinstance(arg, ast.Starred) for arg in node.args):
            raise SafeEvalError("call arguments not allowed")
        return FUNCTIONS[node.func.id](*[self.visit(arg) for arg in node.args])
