"""The one sandboxed Jinja2 environment every template evaluator uses (workflow-format.md §13).

Workflow JSON is user-authored, so templates are hostile input: the environment derives from
`ImmutableSandboxedEnvironment` (SEC-1), exposes only `range` and `dict` (SEC-2), refuses
size-exploding operators, method calls, filters and text conversions before the result is built
(SEC-2, SEC-7; see sandbox_ops, sandbox_filters, sandbox_sizes), charges loop iterations and
checks the wall-clock deadline (SEC-6), and caches compiled code by the SHA-256 of the source
under the fixed name `<input>` (SEC-3). Limits come from the current `Budget`.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any, Callable

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.defaults import DEFAULT_TESTS
from jinja2.environment import Template, TemplateExpression
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from jinja2.parser import Parser
from jinja2.runtime import ChainableUndefined, Context, Undefined, markup_join
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engine.sandbox_budget import budget_or_default, current_budget, text_size
from engine.sandbox_filters import sandbox_filters
from engine.sandbox_ops import check_binop, check_method_call
from engine.sandbox_proxies import budgeted_range, counted_iter, wrap
from engine.sandbox_sizes import text_of

TEMPLATE_NAME = "<input>"
CACHE_SIZE = 512


class SilentUndefined(ChainableUndefined):
    """TPL-5: chainable, falsy, empty, renders ''; calling it or arithmetic still raises."""

    __slots__ = ()


def _finalize(value: Any) -> Any:
    """Every `{{ value }}` printed as text: refuse before `str()` builds more than one value may
    hold (a shared list repeated ten thousand times is small in memory but huge as text)."""
    if not isinstance(value, str):
        text_of(value, budget_or_default())
    return value


def _concat(parts: Any) -> str:
    """Captured output (`{% set %}…{% endset %}`, macros, filter blocks): sized before joining."""
    pieces = list(parts)
    budget_or_default().size(sum(text_size(piece) for piece in pieces))
    return "".join(pieces)


# ---------------------------------------------------------------- parsing and code generation

class _Parser(Parser):
    """`**` is right-associative as in Python, so `9 ** 9 ** 9` is `9 ** (9 ** 9)` and the SEC-7
    exponent rule sees the real exponent (stock Jinja2 would compute `(9 ** 9) ** 9`)."""

    def parse_pow(self) -> nodes.Expr:
        lineno = self.stream.current.lineno
        left = self.parse_unary()
        if self.stream.current.type != "pow":
            return left
        next(self.stream)
        return nodes.Pow(left, self.parse_pow(), lineno=lineno)


class _BudgetCodeGenerator(CodeGenerator):
    """Routes `{% for %}` iterables and `~` through the environment's budgeted helpers."""

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        if not getattr(node, "_wfe_counted", False):
            node.iter = nodes.Call(nodes.EnvironmentAttribute("wfe_iter"), [node.iter], [],
                                   None, None, lineno=node.iter.lineno)
            node._wfe_counted = True  # type: ignore[attr-defined]
        super().visit_For(node, frame)

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.wfe_concat(context, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class WfeSandbox(ImmutableSandboxedEnvironment):
    """SEC-1 environment: exact settings, silent undefined, immediate SecurityError."""

    intercepted_binops = frozenset({"*", "**", "%", "+", "//", "/"})
    code_generator_class = _BudgetCodeGenerator
    concat = staticmethod(_concat)

    def __init__(self) -> None:
        super().__init__(autoescape=False, trim_blocks=False, lstrip_blocks=False,
                         newline_sequence="\n", keep_trailing_newline=False, loader=None,
                         undefined=SilentUndefined, cache_size=0)
        self.globals.clear()
        self.globals.update({"range": budgeted_range, "dict": dict})
        self.filters = sandbox_filters()
        self.tests = dict(DEFAULT_TESTS)
        self.finalize = _finalize

    # -- attribute and item access
    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        raise SecurityError("access to attribute " + repr(attribute) + " of "
                            + repr(type(obj).__name__) + " object is unsafe")

    def wrap_str_format(self, value: Any) -> None:
        return None  # str.format/format_map are refused outright by is_safe_attribute

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, (str, bytes)) and attr in ("format", "format_map"):
            return False
        return super().is_safe_attribute(obj, attr, value)

    def _undefined_attr(self, obj: Undefined, attribute: str) -> Any:
        if attribute.startswith("__"):
            return self.unsafe_undefined(obj, attribute)
        if attribute.startswith("_"):
            try:
                object.__getattribute__(obj, attribute)
            except AttributeError:
                return obj
            return self.unsafe_undefined(obj, attribute)
        return obj

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Undefined):
            return self._undefined_attr(obj, attribute)
        return self._wrap(super().getattr(obj, attribute))

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, Undefined):
            return self._undefined_attr(obj, argument) if isinstance(argument, str) else obj
        return self._wrap(super().getitem(obj, argument))

    @staticmethod
    def _wrap(value: Any) -> Any:
        budget = current_budget()
        return value if budget is None else wrap(value, budget)

    # -- calls, operators, loops, concatenation
    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        budget = current_budget()
        if budget is not None:
            budget.tick()
        if not __self.is_safe_callable(__obj):
            raise SecurityError(repr(__obj) + " is not safely callable")
        args = check_method_call(__obj, args, kwargs)
        return __context.call(__obj, *args, **kwargs)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        check_binop(operator, left, right)
        return self.binop_table[operator](left, right)

    def wfe_iter(self, iterable: Any) -> Any:
        return counted_iter(iterable)

    def wfe_concat(self, context: Context, parts: tuple[Any, ...]) -> str:
        if context.eval_ctx.autoescape:
            return markup_join(parts)
        budget = budget_or_default()
        budget.size(sum(text_of(part, budget) for part in parts))
        return "".join([str(part) for part in parts])

    # -- compilation under the fixed name (SEC-3)
    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        return _Parser(self, source, name, filename).parse()

    def compile_source(self, source: str) -> Template:
        code = self.compile(source, TEMPLATE_NAME, TEMPLATE_NAME)
        return self.template_class.from_code(self, code, self.make_globals(None), None)

    def compile_pure(self, source: str) -> TemplateExpression:
        parser = _Parser(self, source, name=TEMPLATE_NAME, filename=TEMPLATE_NAME, state="variable")
        expr = parser.parse_expression()
        if not parser.stream.eos:
            raise TemplateSyntaxError("chunk after expression", parser.stream.current.lineno,
                                      TEMPLATE_NAME, TEMPLATE_NAME)
        expr.set_environment(self)
        body = [nodes.Assign(nodes.Name("result", "store"), expr, lineno=1)]
        code = self.compile(nodes.Template(body, lineno=1), TEMPLATE_NAME, TEMPLATE_NAME)
        template = self.template_class.from_code(self, code, self.make_globals(None), None)
        return TemplateExpression(template, True)


class _LRU:
    """Thread-safe bounded cache of compiled code keyed by SHA-256 of the source."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[bytes, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_build(self, source: str, build: Callable[[str], Any]) -> Any:
        key = hashlib.sha256(source.encode("utf-8", "surrogatepass")).digest()
        with self._lock:
            hit = self._data.get(key)
            if hit is not None:
                self._data.move_to_end(key)
                return hit
        value = build(source)
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._size:
                self._data.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._data)


ENVIRONMENT = WfeSandbox()
TEMPLATE_CACHE = _LRU(CACHE_SIZE)
EXPRESSION_CACHE = _LRU(CACHE_SIZE)


def compiled_template(source: str) -> Template:
    template: Template = TEMPLATE_CACHE.get_or_build(source, ENVIRONMENT.compile_source)
    return template


def compiled_expression(source: str) -> TemplateExpression:
    expression: TemplateExpression = EXPRESSION_CACHE.get_or_build(source, ENVIRONMENT.compile_pure)
    return expression
