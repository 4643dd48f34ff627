"""Operators and method calls a template may use, sized before they run (SEC-7).

`check_binop` is called for every intercepted operator and refuses a result that would be too
big: sequence repetition and concatenation by the bytes they would allocate, integer `**` and
`*` by the bit length of their result (computed from the operands' `bit_length`, never by
computing it), and division and modulo refuse operands longer than the `**` limit (long
division is quadratic). `check_method_call` does the same for the builtin methods of `str`, `bytes` and
`int` that build new values (`ljust`, `replace`, `join`, `split`, `to_bytes`, …).
"""

from __future__ import annotations

import datetime as dt
import types
from typing import Any

from jinja2.exceptions import SecurityError

from engine.sandbox_budget import BudgetExceeded, budget_or_default, text_size
from engine.sandbox_proxies import counted_iter
from engine.sandbox_sizes import texts_of

MAX_EXPONENT = 256
MAX_POWER_BITS = 65_536
SLOT_BYTES = 8  # one list/tuple slot
STRFTIME_GROWTH = 12  # `%c` (2 characters) becomes 24
PIECE_BYTES = 80  # one new small str object plus its list slot (measured: ~75 bytes)
_SEQUENCES = (str, bytes, list, tuple)
_PADDING_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})
_CASE_METHODS = frozenset({"upper", "lower", "casefold", "swapcase", "title", "capitalize"})
_LINE_BREAKS = ("\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")
_ASCII_SPACE = (" ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f")


def shallow_size(value: Any) -> int:
    """Bytes a copy of `value` allocates itself: text bytes, or one slot per item."""
    if isinstance(value, (str, bytes)):
        return text_size(value)
    return len(value) * SLOT_BYTES


def _refuse(message: str) -> BudgetExceeded:
    return BudgetExceeded(message)


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse an operator whose result would exceed the limits, before it is computed."""
    if operator == "**":
        if isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
            raise _refuse("exponent larger than " + str(MAX_EXPONENT) + " refused")
        if isinstance(left, int) and isinstance(right, int) \
                and left.bit_length() * abs(right) > MAX_POWER_BITS:
            raise _refuse("power result larger than " + str(MAX_POWER_BITS) + " bits refused")
    elif operator in ("%", "//", "/"):
        if operator == "%" and isinstance(left, (str, bytes)):
            raise SecurityError("printf-style string formatting is not allowed")
        # long division is quadratic: a 4-million-bit `int('f' * 10**6, 16)` takes seconds
        if (isinstance(left, int) and left.bit_length() > MAX_POWER_BITS) \
                or (isinstance(right, int) and right.bit_length() > MAX_POWER_BITS):
            raise _refuse("division of an integer larger than " + str(MAX_POWER_BITS)
                          + " bits refused")
    elif operator == "*":
        if isinstance(left, _SEQUENCES) and isinstance(right, int):
            budget_or_default().size(shallow_size(left) * max(right, 0))
        elif isinstance(right, _SEQUENCES) and isinstance(left, int):
            budget_or_default().size(shallow_size(right) * max(left, 0))
        elif isinstance(left, int) and isinstance(right, int) \
                and left.bit_length() + right.bit_length() > MAX_POWER_BITS:
            raise _refuse("product larger than " + str(MAX_POWER_BITS) + " bits refused")
    elif operator == "+" and isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
        budget_or_default().size(shallow_size(left) + shallow_size(right))


# ---------------------------------------------------------------- builtin method calls

def check_method_call(method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Refuse a method whose result would exceed the budget; returns the args to use.

    Bound methods of `str` subclasses count too: `Markup` (from `|e`, `|safe`, `|tojson`)
    re-implements `join`, `ljust`, `split`, … in Python on top of the `str` ones."""
    if not isinstance(method, (types.BuiltinMethodType, types.MethodType)):
        return args
    owner = getattr(method, "__self__", None)
    name = getattr(method, "__name__", "")
    if isinstance(owner, (str, bytes)):
        return _text_method(owner, name, args, kwargs)
    if isinstance(owner, int) and name == "to_bytes":
        length = args[0] if args else kwargs.get("length", 1)
        if isinstance(length, int):
            budget_or_default().size(length)
    elif isinstance(owner, (dt.date, dt.time)) and name == "strftime" and args:
        budget_or_default().size(STRFTIME_GROWTH * shallow_size(str(args[0])))
    return args


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str, default: Any) -> Any:
    return args[index] if len(args) > index else kwargs.get(name, default)


def _text_method(owner: str | bytes, name: str, args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> tuple[Any, ...]:
    budget = budget_or_default()
    if name in ("format", "format_map"):
        raise SecurityError("str." + name + " is not allowed in templates")
    if name in _PADDING_METHODS:
        width = _arg(args, kwargs, 0, "width", 0)
        fill = _arg(args, kwargs, 1, "fillchar", " ")
        if isinstance(width, int):
            fill_bytes = text_size(fill) if isinstance(fill, (str, bytes)) else 1
            budget.size(text_size(owner) + max(width - len(owner), 0) * max(fill_bytes, 1))
    elif name == "expandtabs":
        tab = _arg(args, kwargs, 0, "tabsize", 8)
        if isinstance(tab, int):
            tabs = owner.count(b"\t") if isinstance(owner, bytes) else owner.count("\t")
            budget.size(text_size(owner) + tabs * max(tab, 0))
    elif name == "replace" and len(args) >= 2:
        budget.size(replace_size(owner, args[0], args[1], _arg(args, kwargs, 2, "count", -1)))
    elif name == "translate" and args and isinstance(args[0], dict):
        longest = max([len(v) for v in args[0].values() if isinstance(v, (str, bytes))] or [1])
        budget.size(text_size(owner) * max(longest, 1))
    elif name == "join" and args:
        items = list(counted_iter(args[0]))
        texts = texts_of(items, budget) if isinstance(owner, str) else \
            sum(len(item) for item in items if isinstance(item, bytes))
        budget.size(texts + shallow_size(owner) * max(len(items) - 1, 0))
        return (items, *args[1:])
    elif name in ("split", "rsplit", "splitlines", "striptags"):
        pieces = split_pieces(owner, name, args, kwargs)
        copies = 1 if type(owner) in (str, bytes) else 2  # Markup re-wraps every piece
        budget.alloc(text_size(owner) + pieces * PIECE_BYTES * copies)
    elif name in _CASE_METHODS or name in ("decode", "partition", "rpartition"):
        budget.size(text_size(owner))
    elif name == "encode":
        encoding = str(_arg(args, kwargs, 0, "encoding", "utf-8")).lower().replace("-", "")
        budget.size(text_size(owner) if encoding in ("utf8", "ascii") else 4 * len(owner) + 4)
    elif name == "hex":
        budget.size(3 * len(owner))
    return args


def replace_size(text: Any, old: Any, new: Any, count: Any) -> int:
    """Bytes of `text.replace(old, new, count)`, from the number of matches."""
    if not isinstance(old, (str, bytes)) or not isinstance(new, (str, bytes)) \
            or type(old) is not type(text):
        return shallow_size(text)
    counted: Any = text
    hits = len(text) + 1 if len(old) == 0 else counted.count(old)
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return shallow_size(text) + hits * max(shallow_size(new) - shallow_size(old), 0)


def split_pieces(owner: str | bytes, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """Upper bound of the number of pieces `split`/`rsplit`/`splitlines` produce."""
    if isinstance(owner, bytes):
        owner = owner.decode("latin-1")
    if name == "splitlines":
        return sum(owner.count(mark) for mark in _LINE_BREAKS) + 1
    sep = _arg(args, kwargs, 0, "sep", None)
    limit = _arg(args, kwargs, 1, "maxsplit", -1)
    if isinstance(sep, bytes):
        sep = sep.decode("latin-1")
    if isinstance(sep, str) and sep:
        pieces = owner.count(sep) + 1
    elif owner.isascii():
        pieces = sum(owner.count(space) for space in _ASCII_SPACE) + 1
    else:
        pieces = len(owner) // 2 + 1
    if isinstance(limit, int) and limit >= 0:
        pieces = min(pieces, limit + 1)
    return pieces
