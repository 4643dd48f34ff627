"""Counting proxies that charge the render budget per item iterated (workflow-format.md SEC-6).

Containers reached through the context are replaced by proxies (subclasses of the builtin types,
so filters, `tojson`, comparisons and `isinstance` keep working) that charge one unit per item
iterated and wrap nested containers in turn. `counted_iter` charges any other iterable a loop or
a filter consumes; `CountedIterator` marks the lazy output of a filter whose input was charged.
"""

from __future__ import annotations

from typing import Any, Iterator

from engine.sandbox_budget import Budget, budget_or_default

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
        # `list()`, `str.join` and friends preallocate `len()` slots before iterating, so a
        # range longer than any render may iterate is refused here, not after an 8 GB malloc.
        size = len(self._r)
        budget = budget_or_default()
        if size > budget.max_iterations:
            budget.require_iterations(size, "range")
        return size

    def __bool__(self) -> bool:
        return bool(self._r)

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

class CountedIterator:
    """The lazy output of a filter whose input items were charged as they were consumed
    (`map`, `select`, `unique`, …): consumers downstream do not charge them a second time."""

    __slots__ = ("_it",)

    def __init__(self, iterator: Iterator[Any]) -> None:
        self._it = iterator

    def __iter__(self) -> "CountedIterator":
        return self

    def __next__(self) -> Any:
        return next(self._it)

    def __repr__(self) -> str:
        return repr(self._it)


COUNTED_TYPES = (CountingList, CountingTuple, CountingDict, CountingView, BudgetedRange,
                 CountedIterator)


class ChargedIterable:
    """A filter's input, charged per item when (and only when) the filter iterates it; truthiness
    is the input's, so `map`/`select` skip a falsy non-iterable input exactly as they always did."""

    __slots__ = ("_value",)

    def __init__(self, value: Any) -> None:
        self._value = value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __iter__(self) -> Iterator[Any]:
        return _counted(iter(self._value), budget_or_default())


def charged_input(value: Any) -> Any:
    """`value` itself when a proxy already charges it, else a `ChargedIterable`."""
    return value if isinstance(value, COUNTED_TYPES) else ChargedIterable(value)


def counted_iter(iterable: Any) -> Any:
    """Loop and filter inputs: charge items of anything not already counted by a proxy."""
    if isinstance(iterable, COUNTED_TYPES):
        return iterable
    return _counted(iter(iterable), budget_or_default())
