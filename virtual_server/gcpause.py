"""Pause Python's cyclic garbage collector while a virtual request runs, and keep what requests
leave in the caches out of its walks.

A request decodes a blob into tens of thousands of fresh objects and drops them all at the end.
With the collector on, those allocations trigger repeated collections that traverse every
live object — at 2,000 events that was a third of the request. Reference counting frees
almost everything anyway, so the collector is paused while any request is in flight
(reference-counted across engine threads) and resumed when the last one finishes.

What a cold request leaves alive (the decoded store and the folded lineage the caches keep,
about 51,000 containers at 2,000 events) would then be walked by the first young collection
after the pause (13–21 ms), again by the middle generation's, and by every full collection
after that. So when the last request finishes, everything alive is *frozen* (`gc.freeze()`,
constant time: the generations are spliced onto the permanent one) before the collector is
resumed. A request leaves a hundred or so objects in garbage cycles (closures, tracebacks);
frozen, those wait for the next *full collection*: the frozen objects are thawed, collected in
full and the survivors frozen again. It walks the whole heap (hundreds of milliseconds with full
caches), so it runs on the rule CPython uses for its oldest generation, growth by a quarter:
once Python's allocated blocks (`sys.getallocatedblocks()`, well under a millisecond) have
grown by a quarter since the last one, and by at least `MIN_GROWTH_BLOCKS`. Caches replacing
what they hold do not grow the heap; garbage does, whatever made it (a freeze also takes what
other code left uncollected at that moment), so frozen garbage never passes about a quarter of
the live heap. A safety valve does the same when the pause has lasted longer than
`MAX_PAUSE_S`, so a server that is never idle still collects cycles. `stats` counts the full
collections and their time (the bench prints them).
"""

from __future__ import annotations

import functools
import gc
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, TypeVar

T = TypeVar("T")
MAX_PAUSE_S = 2.0
#: growth of the allocated blocks since the last full collection that calls for one: this share
#: of the blocks then, and at least `MIN_GROWTH_BLOCKS` (a cold request at 2,000 events leaves
#: about 200,000 in the caches; a request's cyclic garbage is a few hundred)
GROWTH_SHARE = 0.25
MIN_GROWTH_BLOCKS = 500_000


@dataclass
class CollectorStats:
    pauses: int = 0
    full_collections: int = 0
    full_seconds: float = 0.0


stats = CollectorStats()
_lock = threading.Lock()
_holders = 0
_we_disabled = False
_paused_since = 0.0
_blocks_after_full = sys.getallocatedblocks()


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
                    stats.pauses += 1
                    collect = _grown()
                    if not collect:
                        gc.freeze()
                    gc.enable()
                    _we_disabled = False
            elif time.monotonic() - _paused_since > MAX_PAUSE_S:
                _paused_since = time.monotonic()
                collect = True
        if collect:
            full_collection()


def _grown() -> bool:
    blocks = sys.getallocatedblocks()  # O(arenas): well under a millisecond
    return blocks - _blocks_after_full > max(GROWTH_SHARE * _blocks_after_full, MIN_GROWTH_BLOCKS)


def full_collection() -> None:
    """Thaw what pauses froze, collect in full, freeze the survivors again."""
    global _blocks_after_full
    started = time.perf_counter()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    with _lock:
        _blocks_after_full = sys.getallocatedblocks()
        stats.full_collections += 1
        stats.full_seconds += time.perf_counter() - started


def without_gc(fn: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> T:
        with gc_paused():
            return fn(*args, **kwargs)
    return call
