"""Per-render resource budget of the template sandbox (workflow-format.md SEC-5 … SEC-7).

Every render gets its own `Budget`, made current for the rendering thread via `activate()`; the
engine runs renders in several worker threads, so nothing here is global mutable state. A budget
holds four limits: iterations (charged per item a loop or filter consumes), wall-clock time,
the size of any one value a template builds (the output limit) and the estimated bytes the whole
render may build (the memory limit). Sizes are charged *before* a value is built, so a refused
template never allocates what it asked for.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator

from jinja2.exceptions import SecurityError

from engine.settings import EngineSettings


class BudgetExceeded(SecurityError):
    """A render ran out of iterations, time or size; never caught by the pure-expression fallback."""


class NonDataValue(ValueError):
    """A pure expression produced something that is not storable JSON data (TPL-6)."""


class Budget:
    """Iteration, wall-clock, per-value size and total-size limits of one render."""

    __slots__ = (
        "deadline",
        "iterations_left",
        "max_iterations",
        "max_memory",
        "max_ms",
        "max_output",
        "memory_left",
        "proxies",
    )

    def __init__(self, settings: EngineSettings) -> None:
        self.max_iterations = settings.template_max_iterations
        self.max_ms = settings.template_max_ms
        self.max_output = settings.template_max_output_bytes
        self.max_memory = settings.template_max_memory_bytes
        self.iterations_left = settings.template_max_iterations
        self.memory_left = settings.template_max_memory_bytes
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

    def require_iterations(self, count: int, what: str) -> None:
        """Refuse up front an operation that would consume `count` items (e.g. `range(10**9)|list`)."""
        if count > self.iterations_left:
            raise BudgetExceeded(what + " of " + str(count) + " items exceeds the iteration limit of "
                                 + str(self.max_iterations))

    def size(self, length: int) -> None:
        """Refuse one value of `length` bytes before it is built (SEC-2, SEC-7), then charge it."""
        if length > self.max_output:
            raise BudgetExceeded("result of " + str(length) + " bytes exceeds the output limit of "
                                 + str(self.max_output) + " bytes")
        self.alloc(length)

    def alloc(self, nbytes: int) -> None:
        """Charge `nbytes` the render is about to build against its memory limit."""
        self.memory_left -= nbytes
        if self.memory_left < 0:
            raise BudgetExceeded("template would build more than " + str(self.max_memory)
                                 + " bytes (memory limit)")
        self.tick()


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
