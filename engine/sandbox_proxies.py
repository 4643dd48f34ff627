"""Per-render resource budget and the counting proxies that charge it (workflow-format.md SEC-6).

Every render gets its own `Budget`, made current for the rendering thread via `activate()`; the
engine runs renders in several worker threads, so nothing here is global mutable state.
Containers reached through the context are replaced by counting proxies (subclasses of the
builtin types, so filters, `tojson`, comparisons and `isinstance` keep working) that charge one
unit per item iterated and wrap nested containers in turn. `unwrap_to_data` turns a result back
into plain JSON data without charging anything.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Iterator

from jinja2.exceptions import SecurityError
from jinja2.runtime import Undefined

from engine.clock import iso_z
from engine.settings import EngineSettings

# Strings built by operators and size-checked filters may total this many output budgets per
# render; stops templates from exhausting memory through values they never print.
ALLOC_FACTOR = 16


class BudgetExceeded(SecurityError):
    """A render ran out of iterations, time or size; never caught by the pure-expression fallback."""


class NonDataValue(ValueError):
    """A pure expression produced something that is not JSON data (TPL-6)."""


class Budget:
    """Iteration, wall-clock and size limits of one render."""

    __slots__ = ("iterations_left", "deadline", "max_output", "alloc_left", "proxies",
                 "max_iterations", "max_ms")

    def __init__(self, settings: EngineSettings) -> None:
        self.max_iterations = settings.template_max_iterations
        self.max_ms = settings.template_max_ms
        self.max_output = settings.template_max_output_bytes
        self.iterations_left = settings.template_max_iterations
        self.alloc_left = settings.template_max_output_bytes * ALLOC_FACTOR
        self.deadline = time.monotonic() + settings.template_max_ms / 1000.0
        # id(original) -> (original, proxy): one proxy per container per render, and the
        # original is kept alive so its id cannot be reused while the render runs.
        self.proxies: dict[int, tuple[Any, Any]] = {}

    def charge(self, units: int = 1) -> None:
        self.iterations_left -= units
        if self.iterations_left < 0:
            raise BudgetExceeded("iteration limit of " + str(self.max_iterations) + " exceeded")
        self.tick()

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise BudgetExceeded("time limit of " + str(self.max_ms) + " ms exceeded")

    def size(self, length: int) -> None:
        """Refuse a value of `length` bytes before it is built (SEC-2, SEC-7)."""
        if length > self.max_output:
            raise BudgetExceeded("result of " + str(length) + " bytes exceeds the output limit of "
                                 + str(self.max_output) + " bytes")
        self.alloc_left -= length
        if self.alloc_left < 0:
            raise BudgetExceeded("template built more than "
                                 + str(self.max_output * ALLOC_FACTOR) + " bytes")


_local = threading.local()
_FALLBACK_SETTINGS = EngineSettings()


def current_budget() -> Budget | None:
    return getattr(_local, "budget", None)


def budget_or_default() -> Budget:
    """The current budget, or a fresh default one for evaluation outside `activate()`."""
    budget = getattr(_local, "budget", None)
    return budget if budget is not None else Budget(_FALLBACK_SETTINGS)


@contextmanager
def activate(budget: Budget) -> Iterator[Budget]:
    previous = getattr(_local, "budget", None)
    _local.budget = budget
    try:
        yield budget
    finally:
        _local.budget = previous


def text_size(value: str | bytes) -> int:
    """UTF-8 size without encoding ASCII text."""
    if isinstance(value, bytes):
        return len(value)
    return len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))


# ---------------------------------------------------------------- counting proxies

def wrap(value: Any, budget: Budget) -> Any:
    """Return the counting proxy for a plain list/tuple/dict, else `value` itself."""
    kind = type(value)
    if kind is not dict and kind is not list and kind is not tuple:
        return value
    hit = budget.proxies.get(id(value))
    if hit is not None:
        return hit[1]
    proxy: Any
    if kind is dict:
        proxy = CountingDict(value)
    elif kind is list:
        proxy = CountingList(value)
    else:
        proxy = CountingTuple(value)
    proxy._b = budget
    budget.proxies[id(value)] = (value, proxy)
    return proxy


def _counted(items: Iterator[Any], budget: Budget) -> Iterator[Any]:
    for item in items:
        budget.charge()
        yield wrap(item, budget)


class CountingList(list):  # type: ignore[type-arg]
    __slots__ = ("_b",)
    _b: Budget

    def __iter__(self) -> Iterator[Any]:
        return _counted(list.__iter__(self), self._b)

    def __reversed__(self) -> Iterator[Any]:
        return _counted(list.__reversed__(self), self._b)


class CountingTuple(tuple):  # type: ignore[type-arg]
    _b: Budget

    def __iter__(self) -> Iterator[Any]:
        return _counted(tuple.__iter__(self), self._b)

    def __reversed__(self) -> Iterator[Any]:
        return _counted(reversed(tuple(tuple.__iter__(self))), self._b)


class CountingDict(dict):  # type: ignore[type-arg]
    __slots__ = ("_b",)
    _b: Budget

    def __iter__(self) -> Iterator[Any]:
        budget = self._b
        for key in dict.__iter__(self):
            budget.charge()
            yield key

    def __reversed__(self) -> Iterator[Any]:
        budget = self._b
        for key in dict.__reversed__(self):
            budget.charge()
            yield key

    def keys(self) -> "CountingView":  # type: ignore[override]
        return CountingView(self, 0)

    def values(self) -> "CountingView":  # type: ignore[override]
        return CountingView(self, 1)

    def items(self) -> "CountingView":  # type: ignore[override]
        return CountingView(self, 2)

    def get(self, key: Any, default: Any = None) -> Any:
        try:
            return wrap(dict.__getitem__(self, key), self._b)
        except (KeyError, TypeError):
            return default


class CountingView:
    """keys()/values()/items() of a CountingDict: sized, charged on iteration."""

    __slots__ = ("_d", "_kind")

    def __init__(self, mapping: CountingDict, kind: int) -> None:
        self._d = mapping
        self._kind = kind

    def _raw(self) -> Any:
        if self._kind == 0:
            return dict.keys(self._d)
        return dict.values(self._d) if self._kind == 1 else dict.items(self._d)

    def __len__(self) -> int:
        return len(self._d)

    def __contains__(self, item: Any) -> bool:
        return item in self._raw()

    def __iter__(self) -> Iterator[Any]:
        budget = self._d._b
        if self._kind == 2:
            for key, item in dict.items(self._d):
                budget.charge()
                yield key, wrap(item, budget)
        else:
            yield from _counted(iter(self._raw()), budget)

    def __repr__(self) -> str:
        return repr(self._raw())


class BudgetedRange:
    """The `range` global (SEC-6): sized like a range, charges one unit per item produced."""

    __slots__ = ("_r",)

    def __init__(self, rng: range) -> None:
        self._r = rng

    def __iter__(self) -> Iterator[int]:
        budget = budget_or_default()
        for number in self._r:
            budget.charge()
            yield number

    def __reversed__(self) -> Iterator[int]:
        return iter(BudgetedRange(self._r[::-1]))

    def __len__(self) -> int:
        return len(self._r)

    def __contains__(self, item: Any) -> bool:
        return item in self._r

    def __getitem__(self, index: Any) -> Any:
        value = self._r[index]
        return BudgetedRange(value) if isinstance(value, range) else value

    def __repr__(self) -> str:
        return repr(self._r)


def budgeted_range(*args: int) -> BudgetedRange:
    return BudgetedRange(range(*args))


# Error messages and undefined hints name the builtin type, not the proxy class.
for _proxy, _name in ((CountingList, "list"), (CountingTuple, "tuple"), (CountingDict, "dict")):
    _proxy.__module__ = "builtins"
    _proxy.__name__ = _proxy.__qualname__ = _name

COUNTED_TYPES = (CountingList, CountingTuple, CountingDict, CountingView, BudgetedRange)


def counted_iter(iterable: Any) -> Any:
    """`{% for %}` iterables: charge items of anything not already counted by a proxy."""
    if isinstance(iterable, COUNTED_TYPES):
        return iterable
    return _counted(iter(iterable), budget_or_default())


# ---------------------------------------------------------------- result normalisation

def unwrap_to_data(value: Any) -> Any:
    """Deep-copy a native result as JSON data (TPL-6) without charging the budget."""
    if value is None or value is True or value is False:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, Undefined):
        return None
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in dict.items(value):
            if not isinstance(key, str):
                raise NonDataValue("expression produced a non-data value (non-string object key)")
            out[str(key)] = unwrap_to_data(item)
        return out
    if isinstance(value, list):
        return [unwrap_to_data(item) for item in list.__iter__(value)]
    if isinstance(value, tuple):
        return [unwrap_to_data(item) for item in tuple.__iter__(value)]
    if isinstance(value, datetime):
        return iso_z(value)
    raise NonDataValue("expression produced a non-data value (" + type(value).__name__ + ")")
