"""Pause Python's cyclic garbage collector while a virtual request runs.

A request decodes a blob into tens of thousands of fresh objects and drops them all at the end.
With the collector on, those allocations trigger repeated collections that traverse every
live object — at 2,000 events that was a third of the request. Reference counting frees
almost everything anyway, so the collector is paused while any request is in flight
(reference-counted across engine threads) and resumed when the last one finishes. A safety
valve runs a full collection when the pause has lasted longer than `MAX_PAUSE_S`, so a server
that is never idle still collects cycles.
"""

from __future__ import annotations

import functools
import gc
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar

T = TypeVar("T")
MAX_PAUSE_S = 2.0

_lock = threading.Lock()
_holders = 0
_we_disabled = False
_paused_since = 0.0


@contextmanager
def gc_paused() -> Iterator[None]:
    global _holders, _we_disabled, _paused_since
    with _lock:
        if _holders == 0:
            _paused_since = time.monotonic()
            _we_disabled = gc.isenabled()
            if _we_disabled:
                gc.disable()
        _holders += 1
    try:
        yield
    finally:
        collect = False
        with _lock:
            _holders -= 1
            if _holders == 0:
                if _we_disabled:
                    gc.enable()
                    _we_disabled = False
            elif time.monotonic() - _paused_since > MAX_PAUSE_S:
                _paused_since = time.monotonic()
                collect = True
        if collect:
            gc.collect()


def without_gc(fn: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> T:
        with gc_paused():
            return fn(*args, **kwargs)
    return call
