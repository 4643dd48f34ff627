"""Size estimates of what a template value would become, computed before it is built (SEC-2).

A template can build a small value that is enormous once materialised: `[range(1000)|list] *
10000` is ten thousand references to one list, cheap to hold but 50 MB as text and 80 MB as a
deep copy. `measure` walks a value once, memoising shared sub-values by identity and stopping as
soon as a limit is passed, so the estimate itself is cheap even for such values. It reports
the text `str()`/JSON would produce, the bytes a deep copy would allocate and the number of items
it would visit. `unwrap_to_data` turns a native result into plain JSON data after measuring it,
refusing what storage cannot carry: non-finite floats and integers outside 64 bits.
"""

from __future__ import annotations

import math
import sys
from datetime import datetime
from typing import Any, NamedTuple

from jinja2.runtime import Undefined

from engine.clock import iso_z
from engine.sandbox_budget import Budget, BudgetExceeded, NonDataValue, text_size
from engine.sandbox_proxies import BudgetedRange, CountingView

MAX_DEPTH = 200
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_OTHER_TEXT = 96  # repr of a generator, macro or other opaque object
_TICK_EVERY = 4096


class Size(NamedTuple):
    text: int  # bytes of str()/JSON text
    memory: int  # bytes a deep copy allocates (scalars are shared, containers are not)
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


class _Sizer:
    def __init__(self, budget: Budget | None, text_limit: int, memory_limit: int,
                 indent: int) -> None:
        self.budget = budget
        self.text_limit = text_limit
        self.memory_limit = memory_limit
        self.indent = indent
        self.memo: dict[Any, tuple[int, int, int]] = {}
        self.visited = 0

    def scalar_text(self, value: Any) -> int:
        if isinstance(value, str):
            return text_size(value) + 2
        if value is None or value is True or value is False:
            return 5
        if isinstance(value, int):
            return check_int_text(value)
        if isinstance(value, float):
            return len(repr(value))
        if isinstance(value, bytes):
            return len(value) * 4 + 3
        if isinstance(value, Undefined):
            return 0
        if isinstance(value, datetime):
            return 40
        return _OTHER_TEXT

    def walk(self, value: Any, depth: int) -> tuple[int, int, int]:
        self.visited += 1
        if self.budget is not None and self.visited % _TICK_EVERY == 0:
            self.budget.tick()
        if isinstance(value, CountingView):
            value = value._d  # the whole mapping: never a transient view whose id may be reused
        if isinstance(value, (list, tuple, dict, type({}.values()), type({}.keys()), type({}.items()))):
            return self.container(value, depth)
        if isinstance(value, BudgetedRange):
            return len(repr(value)), 0, 1
        return self.scalar_text(value), 0, 1

    def container(self, value: Any, depth: int) -> tuple[int, int, int]:
        if depth > MAX_DEPTH:
            raise BudgetExceeded("value nested deeper than " + str(MAX_DEPTH) + " levels")
        key: Any = id(value) if self.indent == 0 else (id(value), depth)
        hit = self.memo.get(key)
        if hit is not None:
            return hit
        is_dict = isinstance(value, dict) or type(value) is type({}.items())
        pad = 2 + self.indent * (depth + 1) if self.indent else 2
        text, memory, nodes = 2, (184 if is_dict else 56), 1
        children = dict.items(value) if isinstance(value, dict) else (
            list.__iter__(value) if isinstance(value, list) else
            tuple.__iter__(value) if isinstance(value, tuple) else iter(value))
        for child in children:
            if is_dict:
                k_text, _, _ = self.walk(child[0], depth + 1)
                v_text, v_memory, v_nodes = self.walk(child[1], depth + 1)
                text += k_text + v_text + pad + 2
                memory += 48 + v_memory
                nodes += v_nodes + 1
            else:
                c_text, c_memory, c_nodes = self.walk(child, depth + 1)
                text += c_text + pad
                memory += 8 + c_memory
                nodes += c_nodes
            if text > self.text_limit or memory > self.memory_limit:
                raise _Over()
        result = (text, memory, nodes)
        if len(value) >= 2:
            self.memo[key] = result
        return result


def measure(value: Any, budget: Budget | None, *, text_limit: int, memory_limit: int = 1 << 62,
            indent: int = 0) -> Size | None:
    """Estimate what `value` becomes; None once the text or memory estimate passes its limit.

    `indent` adds what `tojson(indent=…)`/`pprint` put before each item.
    """
    sizer = _Sizer(budget, text_limit, memory_limit, max(indent, 0))
    try:
        text, memory, nodes = sizer.walk(value, 0)
    except _Over:
        return None
    if text > text_limit or memory > memory_limit:
        return None
    return Size(text, memory, nodes)


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
    sizer = _Sizer(budget, budget.max_output, 1 << 62, 0)
    total = 0
    try:
        for item in items:
            if isinstance(item, str):
                total += text_size(item)
            elif isinstance(item, int) and not isinstance(item, bool):
                total += check_int_text(item)
            else:
                total += sizer.walk(item, 0)[0]
            if total > budget.max_output:
                raise _Over()
    except _Over:
        raise BudgetExceeded("joining these items would exceed the output limit of "
                             + str(budget.max_output) + " bytes") from None
    return total


# ---------------------------------------------------------------- native results (TPL-6)

def unwrap_to_data(value: Any, budget: Budget | None = None) -> Any:
    """Deep-copy a native result as JSON data (TPL-6) without charging iterations.

    With a budget the copy is measured first: a result whose JSON or copy would exceed the memory
    limit is refused before anything is copied.
    """
    if budget is not None and isinstance(value, (list, tuple, dict)):
        size = measure(value, budget, text_limit=budget.max_memory, memory_limit=budget.memory_left)
        if size is None:
            raise BudgetExceeded("expression result would exceed the memory limit of "
                                 + str(budget.max_memory) + " bytes once stored")
        budget.alloc(size.memory)
    return _copy(value)


def _copy(value: Any) -> Any:
    if value is None or value is True or value is False:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise NonDataValue("expression produced an integer outside the 64-bit range "
                               "storage can hold (about " + str(int_digits(value)) + " digits)")
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NonDataValue("expression produced a non-finite number (" + repr(value)
                               + "); JSON cannot carry it")
        return float(value)
    if isinstance(value, Undefined):
        return None
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in dict.items(value):
            if not isinstance(key, str):
                raise NonDataValue("expression produced a non-data value (non-string object key)")
            out[str(key)] = _copy(item)
        return out
    if isinstance(value, list):
        return [_copy(item) for item in list.__iter__(value)]
    if isinstance(value, tuple):
        return [_copy(item) for item in tuple.__iter__(value)]
    if isinstance(value, datetime):
        return iso_z(value)
    raise NonDataValue("expression produced a non-data value (" + type(value).__name__ + ")")
