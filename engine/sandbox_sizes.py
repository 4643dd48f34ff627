"""Size estimates of what a template value would become, computed before it is built (SEC-2).

A template can build a small value that is enormous once materialised: `[range(1000)|list] *
10000` is ten thousand references to one list, cheap to hold but 50 MB as text and 80 MB as a
deep copy. `measure` walks a value once, memoising shared sub-values by identity and stopping as
soon as the text passes its limit, so the estimate stays cheap even for such values; it reports
the text `str()`/JSON would produce and the items a walk over the expanded value visits.
`unwrap_to_data` turns a native result into plain JSON data in one pass that counts what the copy
and its JSON would take and stops at the memory limit, and refuses what storage cannot carry:
non-finite floats and integers outside 64 bits.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, NamedTuple

from jinja2.runtime import Undefined

from engine.clock import iso_z
from engine.sandbox_budget import Budget, BudgetExceeded, NonDataValue, text_size
from engine.sandbox_proxies import BudgetedRange, CountingList, CountingTuple, CountingView

MAX_DEPTH = 200
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_OTHER_TEXT = 96  # repr of a generator, macro or other opaque object
_TICK_EVERY = 4096
_BIG_INT_BITS = 4096  # above this, the int-to-text limit is checked exactly
_LISTS = (list, CountingList)
_TUPLES = (tuple, CountingTuple)
_VIEWS: tuple[type, ...] = (type({}.keys()), type({}.values()), type({}.items()))


class Size(NamedTuple):
    text: int  # bytes of str()/JSON text
    nodes: int  # items a walk over the expanded value visits


class _Over(Exception):
    pass


def int_digits(value: int) -> int:
    """Upper bound of len(str(value)) without converting (log10(2) < 1233 / 4096)."""
    return ((abs(value).bit_length() * 1233) >> 12) + 2


def check_int_text(value: int) -> int:
    """Refuse an integer too long for Python's int-to-text conversion limit, with a clear reason."""
    limit = sys.get_int_max_str_digits()
    if limit and abs(value).bit_length() > limit * 3.33:  # certainly more than `limit` digits
        raise BudgetExceeded("integer of about " + str(int_digits(value)) + " digits is too large "
                             "to convert to text (limit " + str(limit) + " digits)")
    return int_digits(value)


def _str_text(value: str) -> int:
    return len(value) + 2 if value.isascii() else text_size(value) + 2


class _Sizer:
    """One estimate: a memo of shared containers, the running item count and the text limit."""

    __slots__ = ("budget", "indent", "limit", "memo", "next_tick", "nodes")

    def __init__(self, budget: Budget | None, limit: int, indent: int) -> None:
        self.budget = budget
        self.limit = limit
        self.indent = indent
        self.memo: dict[Any, tuple[int, int]] = {}
        self.nodes = 0
        self.next_tick = _TICK_EVERY

    def text(self, value: Any, depth: int) -> int:
        kind = type(value)
        if kind is str:
            return _str_text(value)
        if kind is int:
            return check_int_text(value)
        if kind is float:
            return len(repr(value))
        if value is None or kind is bool:
            return 5
        if isinstance(value, (list, tuple, dict)) or kind in _VIEWS:
            return self.container(value, depth)
        if kind is CountingView:
            return self.container(value._d, depth)  # never a transient view whose id is reused
        if isinstance(value, str):
            return _str_text(value)
        if isinstance(value, int):
            return check_int_text(value)
        if isinstance(value, bytes):
            return len(value) * 4 + 3
        if isinstance(value, Undefined):
            return 0
        if isinstance(value, BudgetedRange):
            return len(repr(value))
        if isinstance(value, datetime):
            return 40
        return _OTHER_TEXT

    def container(self, value: Any, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise BudgetExceeded("value nested deeper than " + str(MAX_DEPTH) + " levels")
        key: Any = id(value) if self.indent == 0 else (id(value), depth)
        hit = self.memo.get(key)
        if hit is not None:
            self.nodes += hit[1]
            return hit[0]
        nodes_before = self.nodes
        self.nodes += len(value) + 1
        if self.nodes >= self.next_tick and self.budget is not None:
            self.next_tick = self.nodes + _TICK_EVERY
            self.budget.tick()
        pad = 2 + self.indent * (depth + 1) if self.indent else 2
        limit = self.limit
        total = 2
        if isinstance(value, dict) or type(value) is _VIEWS[2]:
            pairs: Any = dict.items(value) if isinstance(value, dict) else value
            for name, item in pairs:
                total += (_str_text(name) if type(name) is str else self.text(name, depth + 1)) + pad
                kind = type(item)
                if kind is str:
                    total += _str_text(item)
                elif kind is int and item.bit_length() < _BIG_INT_BITS:
                    total += ((item.bit_length() * 1233) >> 12) + 2
                else:
                    total += self.text(item, depth + 1)
                if total > limit:
                    raise _Over()
        else:
            items = list.__iter__(value) if isinstance(value, list) else (
                tuple.__iter__(value) if isinstance(value, tuple) else iter(value))
            for item in items:
                kind = type(item)
                if kind is str:
                    total += _str_text(item) + pad
                elif kind is int and item.bit_length() < _BIG_INT_BITS:
                    total += ((item.bit_length() * 1233) >> 12) + 2 + pad
                else:
                    total += self.text(item, depth + 1) + pad
                if total > limit:
                    raise _Over()
        if len(value) >= 2:
            self.memo[key] = (total, self.nodes - nodes_before)
        return total


def measure(value: Any, budget: Budget | None, *, text_limit: int, indent: int = 0) -> Size | None:
    """Estimate what `value` becomes as text; None once the estimate passes `text_limit`.

    `indent` adds what `tojson(indent=…)`/`pprint` put before each item.
    """
    sizer = _Sizer(budget, text_limit, max(indent, 0))
    try:
        text = sizer.text(value, 0)
    except _Over:
        return None
    return Size(text, sizer.nodes) if text <= text_limit else None


def text_of(value: Any, budget: Budget, indent: int = 0) -> int:
    """Estimated bytes of `str(value)` (or its JSON); refuses more than the output limit."""
    if isinstance(value, str):
        return text_size(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return check_int_text(value)
    size = measure(value, budget, text_limit=budget.max_output, indent=indent)
    if size is None:
        raise BudgetExceeded("converting this value to text would exceed the output limit of "
                             + str(budget.max_output) + " bytes")
    return size.text


def texts_of(items: list[Any], budget: Budget) -> int:
    """Estimated total bytes of `str(item)` for every item (what `join` concatenates), measured
    with one memo so ten thousand references to one list cost one walk; refuses past the
    output limit."""
    sizer: _Sizer | None = None
    limit = budget.max_output
    total = 0
    try:
        for item in items:
            if type(item) is str:
                total += len(item) if item.isascii() else text_size(item)
            elif isinstance(item, int) and not isinstance(item, bool):
                total += check_int_text(item)
            else:
                sizer = sizer or _Sizer(budget, limit, 0)
                total += sizer.text(item, 0) - (2 if isinstance(item, str) else 0)
            if total > limit:
                raise _Over()
    except _Over:
        raise BudgetExceeded("joining these items would exceed the output limit of "
                             + str(limit) + " bytes") from None
    return total


# ---------------------------------------------------------------- native results (TPL-6)

class _Copier:
    """A deep copy as JSON data that counts its JSON text and the bytes it allocates, and stops
    as soon as either passes its limit: shared references are copied (and counted) each time."""

    __slots__ = ("limit", "memory_left", "text_left")

    def __init__(self, budget: Budget) -> None:
        self.limit = budget.max_memory
        self.text_left = budget.max_memory
        self.memory_left = budget.memory_left

    def spend(self, text: int, memory: int) -> None:
        self.text_left -= text
        self.memory_left -= memory
        if self.text_left < 0 or self.memory_left < 0:
            raise BudgetExceeded("expression result would exceed the memory limit of "
                                 + str(self.limit) + " bytes once stored")

    def copy(self, value: Any, depth: int) -> Any:
        kind = type(value)
        if kind is str:
            self.spend(len(value) + 2 if value.isascii() else 4 * len(value) + 2, 0)
            return value
        if value is None or kind is bool:
            self.spend(5, 0)
            return value
        if kind is int or kind is float:
            self.spend(24, 0)
            return _number(value)
        if depth > MAX_DEPTH:
            raise BudgetExceeded("value nested deeper than " + str(MAX_DEPTH) + " levels")
        if isinstance(value, dict):
            self.spend(2 + 4 * len(value), 184 + 48 * len(value))
            out: dict[str, Any] = {}
            text = 0
            for key, item in dict.items(value):
                if type(key) is not str:
                    if not isinstance(key, str):
                        raise NonDataValue("expression produced a non-data value "
                                           "(non-string object key)")
                    key = str(key)
                text += len(key)
                out[key] = self._child(item, depth)
            self.spend(text, 0)
            return out
        if isinstance(value, (list, tuple)):
            self.spend(2 + 2 * len(value), 56 + 8 * len(value))
            iterate: Callable[[Any], Iterator[Any]] = \
                list.__iter__ if isinstance(value, list) else tuple.__iter__
            return [self._child(item, depth) for item in iterate(value)]
        if isinstance(value, str):  # Markup and other str subclasses become plain text
            self.spend(2 + len(value), 49 + len(value))
            return str(value)
        if isinstance(value, (int, float)):
            self.spend(24, 32)
            return _number(value)
        if isinstance(value, Undefined):
            return None
        if isinstance(value, datetime):
            return iso_z(value)
        raise NonDataValue("expression produced a non-data value (" + type(value).__name__ + ")")


    def _child(self, item: Any, depth: int) -> Any:
        """Plain strings, small ints and None are the common items: no call to `copy`."""
        kind = type(item)
        if kind is str and len(item) < 64:
            self.text_left -= len(item) + 2
            if self.text_left < 0:
                self.spend(0, 0)
            return item
        if (kind is int and INT64_MIN <= item <= INT64_MAX) or item is None:
            self.text_left -= 21
            if self.text_left < 0:
                self.spend(0, 0)
            return item
        return self.copy(item, depth + 1)


def _number(value: int | float) -> int | float:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NonDataValue("expression produced a non-finite number (" + repr(float(value))
                               + "); JSON cannot carry it")
        return float(value)
    if not INT64_MIN <= value <= INT64_MAX:
        raise NonDataValue("expression produced an integer outside the 64-bit range "
                           "storage can hold (about " + str(int_digits(value)) + " digits)")
    return int(value)


def unwrap_to_data(value: Any, budget: Budget) -> Any:
    """Deep-copy a native result as JSON data (TPL-6) without charging iterations; the copy is
    charged to the memory limit as it is built and refused once it would pass it."""
    copier = _Copier(budget)
    data = copier.copy(value, 0)
    budget.alloc(budget.memory_left - copier.memory_left)
    return data
