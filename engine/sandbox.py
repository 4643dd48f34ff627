"""The one sandboxed Jinja2 environment every template evaluator uses (workflow-format.md §13).

Workflow JSON is user-authored, so templates are hostile input: the environment derives from
`ImmutableSandboxedEnvironment` (SEC-1), exposes only `range` and `dict` (SEC-2), refuses
size-exploding operators and filters before the result is built (SEC-2, SEC-7), charges loop
iterations and checks the wall-clock deadline (SEC-6), and caches compiled code by the SHA-256 of
the source under the fixed name `<input>` (SEC-3). Limits come from the current `Budget`.
"""

from __future__ import annotations

import hashlib
import threading
import types
from collections import OrderedDict
from typing import Any, Callable

from jinja2 import nodes, pass_environment, pass_eval_context
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.defaults import DEFAULT_FILTERS, DEFAULT_TESTS
from jinja2.environment import Template, TemplateExpression
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from jinja2.parser import Parser
from jinja2.runtime import ChainableUndefined, Context, Undefined, markup_join
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engine.sandbox_budget import (
    BudgetExceeded,
    budget_or_default,
    budgeted_range,
    counted_iter,
    current_budget,
    text_size,
    wrap,
)

TEMPLATE_NAME = "<input>"
CACHE_SIZE = 512
MAX_EXPONENT = 256
MAX_POWER_BITS = 65_536
_SEQUENCES = (str, bytes, list, tuple)
_PADDING_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})


class SilentUndefined(ChainableUndefined):
    """TPL-5: chainable, falsy, empty, renders ''; calling it or arithmetic still raises."""

    __slots__ = ()


def _size_of(value: Any) -> int:
    return text_size(value) if isinstance(value, (str, bytes)) else len(value)


def _refuse(message: str) -> BudgetExceeded:
    return BudgetExceeded(message)


# ---------------------------------------------------------------- operators (SEC-7)

def check_binop(operator: str, left: Any, right: Any) -> None:
    if operator == "**":
        if isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
            raise _refuse("exponent larger than " + str(MAX_EXPONENT) + " refused")
        if isinstance(left, int) and isinstance(right, int) \
                and left.bit_length() * abs(right) > MAX_POWER_BITS:
            raise _refuse("power result larger than " + str(MAX_POWER_BITS) + " bits refused")
    elif operator == "%":
        if isinstance(left, (str, bytes)):
            raise SecurityError("printf-style string formatting is not allowed")
    elif operator == "*":
        if isinstance(left, _SEQUENCES) and isinstance(right, int):
            budget_or_default().size(_size_of(left) * max(right, 0))
        elif isinstance(right, _SEQUENCES) and isinstance(left, int):
            budget_or_default().size(_size_of(right) * max(left, 0))
        elif isinstance(left, int) and isinstance(right, int) \
                and left.bit_length() + right.bit_length() > MAX_POWER_BITS:
            raise _refuse("product larger than " + str(MAX_POWER_BITS) + " bits refused")
    elif operator == "+":
        if isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
            budget_or_default().size(_size_of(left) + _size_of(right))


def _check_str_method(method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Refuse str/bytes methods whose result would exceed the output budget; returns args."""
    owner = getattr(method, "__self__", None)
    if not isinstance(owner, (str, bytes)) or not isinstance(method, types.BuiltinMethodType):
        return args
    name = method.__name__
    budget = budget_or_default()
    if name in ("format", "format_map"):
        raise SecurityError("str." + name + " is not allowed in templates")
    if name in _PADDING_METHODS:
        width = args[0] if args else kwargs.get("width", 0)
        if isinstance(width, int):
            budget.size(max(width, len(owner)))
    elif name == "expandtabs":
        tab = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(tab, int):
            budget.size(len(owner) + owner.count(b"\t" if isinstance(owner, bytes) else "\t") * max(tab, 0))
    elif name == "replace" and len(args) >= 2:
        budget.size(_replace_size(owner, args[0], args[1], args[2] if len(args) > 2 else kwargs.get("count", -1)))
    elif name == "translate" and args and isinstance(args[0], dict):
        longest = max([len(v) for v in args[0].values() if isinstance(v, (str, bytes))] or [1])
        budget.size(len(owner) * max(longest, 1))
    elif name == "join" and args:
        items = list(args[0])
        budget.size(sum(_size_of(item) if isinstance(item, (str, bytes)) else 0 for item in items)
                    + _size_of(owner) * max(len(items) - 1, 0))
        return (items, *args[1:])
    return args


def _replace_size(text: Any, old: Any, new: Any, count: Any) -> int:
    if not isinstance(old, (str, bytes)) or not isinstance(new, (str, bytes)) or type(old) is not type(text):
        return _size_of(text)
    hits = len(text) + 1 if len(old) == 0 else text.count(old)
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return _size_of(text) + hits * max(_size_of(new) - _size_of(old), 0)


# ---------------------------------------------------------------- size-checked filters (SEC-2)

_ORIGINAL = DEFAULT_FILTERS


def _center(value: Any, width: int = 80) -> str:
    if isinstance(width, int):
        budget_or_default().size(max(width, len(str(value))))
    return _ORIGINAL["center"](value, width)


def _indent(s: Any, width: Any = 4, first: bool = False, blank: bool = False) -> str:
    text = str(s)
    if isinstance(width, int):
        pad = max(width, 0)
    else:
        pad = len(str(width))
    budget_or_default().size(pad)
    budget_or_default().size(len(text) + (text.count("\n") + 1) * pad)
    return _ORIGINAL["indent"](s, width, first, blank)


@pass_environment
def _wordwrap(environment: Any, s: Any, width: int = 79, break_long_words: bool = True,
              wrapstring: str | None = None, break_on_hyphens: bool = True) -> str:
    text = str(s)
    joiner = environment.newline_sequence if wrapstring is None else str(wrapstring)
    lines = len(text) // max(width if isinstance(width, int) else 1, 1) + text.count("\n") + 1
    budget_or_default().size(len(text) + lines * len(joiner))
    return _ORIGINAL["wordwrap"](environment, s, width, break_long_words, wrapstring, break_on_hyphens)


@pass_eval_context
def _join(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> str:
    items = list(value) if not isinstance(value, Undefined) else []
    if attribute is not None:
        getter = _attr_getter(eval_ctx.environment, attribute)
        items = [getter(item) for item in items]
    budget_or_default().size(sum(text_size(str(item)) for item in items)
                             + text_size(str(d)) * max(len(items) - 1, 0))
    return _ORIGINAL["join"](eval_ctx, items, d)


def _attr_getter(environment: Any, attribute: Any) -> Callable[[Any], Any]:
    from jinja2.filters import make_attrgetter

    return make_attrgetter(environment, attribute)


@pass_eval_context
def _replace(eval_ctx: Any, s: Any, old: Any, new: Any, count: Any = None) -> str:
    budget_or_default().size(_replace_size(str(s), str(old), str(new), -1 if count is None else count))
    return _ORIGINAL["replace"](eval_ctx, s, old, new, count)


@pass_eval_context
def _tojson(eval_ctx: Any, value: Any, indent: Any = None) -> Any:
    if (isinstance(indent, int) and indent > 256) or (isinstance(indent, str) and len(indent) > 256):
        raise _refuse("tojson indent larger than 256 refused")
    return _ORIGINAL["tojson"](eval_ctx, value, indent)


def _check_count(name: str, count: Any) -> None:
    budget = budget_or_default()
    if isinstance(count, int) and count > budget.max_iterations:
        raise _refuse(name + " count larger than the iteration limit refused")


def _batch(value: Any, linecount: int, fill_with: Any = None) -> Any:
    _check_count("batch", linecount)
    return _ORIGINAL["batch"](value, linecount, fill_with)


def _slice(value: Any, slices: int, fill_with: Any = None) -> Any:
    _check_count("slice", slices)
    return _ORIGINAL["slice"](value, slices, fill_with)


def _round(value: float, precision: int = 0, method: str = "common") -> float:
    if isinstance(precision, int) and abs(precision) > 400:
        raise _refuse("round precision larger than 400 refused")
    return _ORIGINAL["round"](value, precision, method)


_WRAPPED: dict[str, Callable[..., Any]] = {
    "center": _center, "indent": _indent, "wordwrap": _wordwrap, "join": _join,
    "replace": _replace, "tojson": _tojson, "batch": _batch, "slice": _slice, "round": _round,
}
_REMOVED_FILTERS = frozenset({"format", "xmlattr"})


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

    intercepted_binops = frozenset({"*", "**", "%", "+"})
    code_generator_class = _BudgetCodeGenerator

    def __init__(self) -> None:
        super().__init__(autoescape=False, trim_blocks=False, lstrip_blocks=False,
                         newline_sequence="\n", keep_trailing_newline=False, loader=None,
                         undefined=SilentUndefined, cache_size=0)
        self.globals.clear()
        self.globals.update({"range": budgeted_range, "dict": dict})
        self.filters = {name: _WRAPPED.get(name, func) for name, func in DEFAULT_FILTERS.items()
                        if name not in _REMOVED_FILTERS}
        self.tests = dict(DEFAULT_TESTS)

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
    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        budget = current_budget()
        if budget is not None:
            budget.tick()
        if not __self.is_safe_callable(__obj):
            raise SecurityError(repr(__obj) + " is not safely callable")
        args = _check_str_method(__obj, args, kwargs)
        return __context.call(__obj, *args, **kwargs)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        check_binop(operator, left, right)
        return self.binop_table[operator](left, right)

    def wfe_iter(self, iterable: Any) -> Any:
        return counted_iter(iterable)

    def wfe_concat(self, context: Context, parts: tuple[Any, ...]) -> str:
        if context.eval_ctx.autoescape:
            return markup_join(parts)
        texts = [str(part) for part in parts]
        budget_or_default().size(sum(text_size(text) for text in texts))
        return "".join(texts)

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
    return TEMPLATE_CACHE.get_or_build(source, ENVIRONMENT.compile_source)


def compiled_expression(source: str) -> TemplateExpression:
    return EXPRESSION_CACHE.get_or_build(source, ENVIRONMENT.compile_pure)
