"""`FastVirtualStore`: the virtual store on `MemoryExecutor`, with a splicing blob codec.

Same contract as `VirtualStore` (storage.md §5, BLOB-1…BLOB-8, the store contract suite) and
the same bytes out for the same content, but built for the per-keystroke cost of the editor:

- import decodes each blob document once (BLOB-3…6 checks of db/blob.py, reused) and keeps
  its exact JSON next to it; the first reader of a document gets the decoded object itself;
- export sorts lightweight skeletons and splices each document's JSON into `J` — documents
  the request did not touch are never re-encoded;
- `writes` counts changing writes after loading, so a call that wrote nothing can answer with
  its input blob byte for byte (VS-3, VS-5, VS-10).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import msgspec

from db.blob import (
    FORMAT,
    VERSION,
    BlobLimits,
    blob_within_limits,
    decode_document,
    decode_with_raw,
    export_sort_key,
)
from db.indexes import VIRTUAL_COLLECTIONS, create_indexes
from db.memory_executor import MemoryExecutor
from db.store_impl import QueryStore
from db.virtual_store import VIRTUAL_USER_ID, virtual_user
from engine.errors import ConcurrentModification, InvalidVirtualDb
from engine.jsonutil import canonical_json

Doc = dict[str, Any]
_ORDER = tuple(sorted(VIRTUAL_COLLECTIONS))
_PLAIN = msgspec.json.Decoder()
_HEAD = b'{"format":' + msgspec.json.encode(FORMAT) + b',"version":' + str(VERSION).encode() \
    + b',"collections":{'


class FastVirtualStore(QueryStore):
    def __init__(self) -> None:
        self._mem = MemoryExecutor()
        self._writes_at_load = 0
        super().__init__(self._mem)

    @property
    def writes(self) -> int:
        """Changing writes since loading finished (0: the input blob is still exact)."""
        return self._mem.writes - self._writes_at_load

    # ---- loading (ST-14)

    def _finish_load(self, now: datetime, validated: bool = False) -> None:
        self._mem.loading_validated(validated)
        try:
            create_indexes(self._mem, VIRTUAL_COLLECTIONS)
        except ConcurrentModification:
            raise InvalidVirtualDb("invalid virtual_db: a unique key is duplicated",
                                   details={"reason": "duplicate_key"}) from None
        finally:
            self._mem.loading_validated(False)
        if self._mem.find_one("users", {"user_id": VIRTUAL_USER_ID},
                              projection={"user_id": 1, "_id": 0}) is None:
            self._mem.insert_one("users", virtual_user(now))
        self._writes_at_load = self._mem.writes

    @classmethod
    def fresh(cls, now: datetime) -> "FastVirtualStore":
        store = cls()
        store._finish_load(now)
        return store

    @classmethod
    def from_blob(cls, text: str, limits: BlobLimits, now: datetime,
                  timings: dict[str, float] | None = None) -> "FastVirtualStore":
        """Decode and validate (BLOB-3…6), then load; `timings` gets both phases (bench)."""
        started = time.perf_counter()
        docs, raws = decode_with_raw(text, limits)
        decoded = time.perf_counter()
        store = cls()
        for name in _ORDER:
            if docs.get(name):
                store._mem.load_decoded(name, docs[name], raws[name])
        store._finish_load(now, validated=True)
        if timings is not None:
            timings["decode"] = timings.get("decode", 0.0) + decoded - started
            timings["load"] = timings.get("load", 0.0) + time.perf_counter() - decoded
        return store

    # ---- export (BLOB-1)

    def _ordered_raws(self, name: str) -> list[bytes]:
        items = list(self._mem.records(name))
        key = export_sort_key(name)
        if key is None:
            items.sort(key=lambda item: canonical_json(_PLAIN.decode(item[1])))
        else:
            items.sort(key=key)
        return [raw for _skel, raw in items]

    def to_json(self) -> bytes:
        parts: list[bytes] = []
        for name in _ORDER:
            raws = self._ordered_raws(name)
            if raws:
                parts.append(b'"' + name.encode() + b'":[' + b",".join(raws) + b"]")
        return _HEAD + b",".join(parts) + b"}}"

    def export(self) -> dict[str, list[Doc]]:
        """Non-empty collections as documents, in the blob's order (tests and tools)."""
        out: dict[str, list[Doc]] = {}
        for name in _ORDER:
            raws = self._ordered_raws(name)
            if raws:
                out[name] = [decode_document(raw) for raw in raws]
        return out

    def to_blob(self, gzip_level: int = 4, limits: BlobLimits | None = None) -> str:
        return blob_within_limits(self.to_json(), gzip_level, limits)
