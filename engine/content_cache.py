"""A process-local content-addressed cache, bounded by entries and by estimated bytes (issue 13).

The virtual server sees the same inputs again and again: the editor sends the same workflow on
every keystroke and sends back the blob it just received. Values are keyed by a SHA-256 digest of
the input's bytes, so a hit can only ever return what the same bytes produced; correctness never
depends on a hit (the caller recomputes on a miss, and with `enabled` false every call misses).
Values must be immutable or copied on the way out by the caller: the cache hands out the object
it holds. Least recently used entries go first; the peak size is kept for the benches.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def digest(*parts: bytes) -> bytes:
    """The cache key of some bytes (parts are length-prefixed, so boundaries count). SHA-256:
    with the CPU's SHA extensions twice BLAKE2b's speed, and a warm request hashes two blobs."""
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.digest()


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    entries: int = 0
    nbytes: int = 0
    peak_entries: int = 0
    peak_bytes: int = 0


class BoundedLru(Generic[K, V]):
    """Thread-safe LRU holding at most `max_entries` values and `max_bytes` estimated bytes."""

    def __init__(self, enabled: bool, max_bytes: int, max_entries: int) -> None:
        self.enabled = enabled and max_bytes > 0 and max_entries > 0
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self.stats = CacheStats()
        self._items: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()

    def _lookup(self, key: K, count: bool) -> V | None:
        """The value (now most recently used); `count` records the hit or miss."""
        if not self.enabled:
            return None
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
        if count:
            self.record(item is not None)
        return None if item is None else item[0]

    def record(self, hit: bool) -> None:
        """Count one lookup, for caches whose caller decides whether a found value serves."""
        with self._lock:
            if hit:
                self.stats.hits += 1
            else:
                self.stats.misses += 1

    def _keep(self, key: K, value: V, nbytes: int) -> None:
        """Keep `value` (estimated at `nbytes`) in place of the key's old value; one larger than
        the whole bound is not kept (and the old value goes)."""
        if not self.enabled:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.stats.nbytes -= old[1]
            if nbytes <= self.max_bytes:
                self._items[key] = (value, nbytes)
                self.stats.nbytes += nbytes
                while len(self._items) > self.max_entries or self.stats.nbytes > self.max_bytes:
                    _, (_, gone) = self._items.popitem(last=False)
                    self.stats.nbytes -= gone
            self._count()

    def drop(self, key: K) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.stats.nbytes -= old[1]
            self._count()

    def _count(self) -> None:
        s = self.stats
        s.entries = len(self._items)
        s.peak_entries = max(s.peak_entries, s.entries)
        s.peak_bytes = max(s.peak_bytes, s.nbytes)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.stats.nbytes = 0
            self.stats.entries = 0


class ContentCache(BoundedLru[bytes, V]):
    """`digest → value`, counting every lookup as a hit or a miss."""

    def get(self, key: bytes) -> V | None:
        return self._lookup(key, count=True)

    def put(self, key: bytes, value: V, nbytes: int) -> None:
        self._keep(key, value, nbytes)
