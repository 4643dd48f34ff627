"""The blob side of a virtual request: open a store from `virtual_db`, export it back (VS-3…VS-7).

`BlobIO` hides which store class backs a request (the fast in-memory store by default; the
mongomock `VirtualStore` of storage.md §5 stays available for comparison) and owns the rules
about *which* blob a response carries:

- nothing written → the input string itself, byte for byte (VS-3, VS-5, VS-10);
- something written → the new export, unless it breaks a limit: then 413
  `virtual_db_too_large` with `{encoded_bytes|decompressed_bytes, limit}` and the input blob
  (VS-7), the call's changes being discarded with the store.

Timings of each phase are recorded into an optional dict (bench/virtual_bench.py reads them).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Callable, Protocol

from db.blob import BlobLimits, compress
from db.blob_members import append_member, gzip_member
from db.fast_store import FastVirtualStore, StoreCache
from db.virtual_store import VirtualStore
from engine import InvalidVirtualDb, VirtualDbTooLarge
from virtual_server.errors import ApiError

Timings = dict[str, float]


class BlobStore(Protocol):
    @property
    def writes(self) -> int: ...

    def to_json(self) -> bytes: ...


def store_class(kind: str) -> Any:
    if kind == "fast":
        return FastVirtualStore
    if kind == "mongomock":
        return VirtualStore
    raise ValueError(f"unknown store kind {kind!r}")


def _tick(timings: Timings | None, key: str, started: float) -> float:
    now = time.perf_counter()
    if timings is not None:
        timings[key] = timings.get(key, 0.0) + (now - started)
    return now


#: a delta export compacts instead once the blob holds this many gzip members
COMPACT_MEMBERS = 16


class BlobIO:
    def __init__(self, limits: BlobLimits, gzip_level: int, store_kind: str = "fast",
                 cache: StoreCache | None = None) -> None:
        self.limits = limits
        self.gzip_level = gzip_level
        self.store_class = store_class(store_kind)
        #: decoded stores by their blob's text (copy-on-write), None or disabled: none kept
        self.cache = cache

    def open(self, text: str | None, now: Callable[[], datetime],
             timings: Timings | None = None) -> Any:
        """A fresh store for the request; blob failures become 400/413 with `virtual_db: null`."""
        started = time.perf_counter()
        try:
            if text is None:
                store = self.store_class.fresh(now())
            elif self.store_class is FastVirtualStore:
                store = FastVirtualStore.from_blob(text, self.limits, now(), timings, self.cache)
                return store  # it times its decode and load phases itself
            else:
                store = self.store_class.from_blob(text, self.limits, now())
        except (InvalidVirtualDb, VirtualDbTooLarge) as exc:
            raise ApiError.from_engine(exc, virtual_db=None) from None
        _tick(timings, "load", started)
        return store

    def done(self, store: Any) -> None:
        """The request reads its store no more: a decoded blob's store goes into the cache
        (`FastVirtualStore.publish`). Idempotent; a request that never calls it only misses
        a later hit."""
        if isinstance(store, FastVirtualStore):
            store.publish()

    def remember(self, store: Any, blob: str | None) -> None:
        """Keep the request's store under the blob its response carries (the editor sends that
        blob back next), and the store it was decoded into under the request's blob. Call once
        the request is done with the store."""
        self.done(store)
        if self.cache is not None and self.cache.enabled and blob is not None \
                and isinstance(store, FastVirtualStore) and store.writes:
            store.remember(self.cache, blob)

    def _appended(self, store: Any, input_blob: str | None, timings: Timings | None) -> str | None:
        """Blob v2: the input blob plus one member holding what changed, when the blob has
        room for it (members, dead bytes, limits); None: export the whole database."""
        if input_blob is None or not isinstance(store, FastVirtualStore) \
                or store.shape.members >= COMPACT_MEMBERS:
            return None
        started = time.perf_counter()
        before = store.shape
        data = store.delta_json()
        if data == b"":
            return input_blob
        shape = store.shape
        if data is None or shape.dead_bytes * 2 > shape.inflated_bytes \
                or shape.inflated_bytes > self.limits.max_decompressed_bytes:
            store.shape = before
            return None
        started = _tick(timings, "export", started)
        text = append_member(input_blob, gzip_member(data, self.gzip_level))
        _tick(timings, "compress", started)
        if len(text) > self.limits.max_encoded_bytes:
            store.shape = before
            return None
        return text

    def export(self, store: BlobStore, input_blob: str | None, run_id: str = "",
               timings: Timings | None = None) -> str | None:
        """The blob a response carries (VS-5, VS-7): appended to (blob v2) or written whole."""
        if store.writes == 0:
            return input_blob
        appended = self._appended(store, input_blob, timings)
        if appended is not None:
            return appended
        started = time.perf_counter()
        data = store.to_json()
        started = _tick(timings, "export", started)
        if len(data) > self.limits.max_decompressed_bytes:
            raise ApiError(413, "virtual_db_too_large",
                           "virtual_db would exceed the decompressed size limit",
                           {"decompressed_bytes": len(data),
                            "limit": self.limits.max_decompressed_bytes},
                           run_id=run_id, virtual_db=input_blob)
        text = compress(data, self.gzip_level)
        _tick(timings, "compress", started)
        if len(text) > self.limits.max_encoded_bytes:
            raise ApiError(413, "virtual_db_too_large",
                           "virtual_db would exceed the encoded size limit",
                           {"encoded_bytes": len(text), "limit": self.limits.max_encoded_bytes},
                           run_id=run_id, virtual_db=input_blob)
        return text
