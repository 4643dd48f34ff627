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
    export_sort_key,
)
from db.blob_decode import primary_fields
from db.blob_keys import TextCache
from db.blob_members import delta_json
from db.blob_splice import BlobShape, decode_for_store
from db.indexes import VIRTUAL_COLLECTIONS, create_indexes
from db.memory_executor import MemoryExecutor
from db.store_impl import QueryStore
from db.virtual_store import VIRTUAL_USER_ID, virtual_user
from engine.errors import ConcurrentModification, InvalidVirtualDb
from engine.jsonutil import canonical_json

Doc = dict[str, Any]
_ORDER = tuple(sorted(VIRTUAL_COLLECTIONS))
_PLAIN = msgspec.json.Decoder()
_RECORD_BYTES = 600  # a record's skeleton, slots and index entries, roughly
_KEY_TYPES = frozenset({str, int, float, bool, type(None)})
_HEAD = b'{"format":' + msgspec.json.encode(FORMAT) + b',"version":' + str(VERSION).encode() \
    + b',"collections":{'


class FastVirtualStore(QueryStore):
    def __init__(self, mem: MemoryExecutor | None = None) -> None:
        self._mem = mem if mem is not None else MemoryExecutor()
        self._writes_at_load = 0
        #: the loaded blob's shape, then (after `delta_json` or `to_json`) the exported one's
        self.shape = BlobShape()
        self._sorted = False
        #: the decoded store this one forks, to be cached under the input blob (`publish`)
        self._pending: tuple[StoreCache, str, FastVirtualStore] | None = None
        super().__init__(self._mem)

    @property
    def writes(self) -> int:
        """Changing writes since loading finished (0: the input blob is still exact)."""
        return self._mem.writes - self._writes_at_load

    # ---- loading (ST-14)

    def _index(self, validated: bool) -> None:
        self._mem.loading_validated(validated)
        try:
            create_indexes(self._mem, VIRTUAL_COLLECTIONS)
        except ConcurrentModification:
            raise InvalidVirtualDb("invalid virtual_db: a unique key is duplicated",
                                   details={"reason": "duplicate_key"}) from None
        finally:
            self._mem.loading_validated(False)

    def _add_user(self, now: datetime) -> None:
        if self._mem.find_one("users", {"user_id": VIRTUAL_USER_ID},
                              projection={"user_id": 1, "_id": 0}) is None:
            self._mem.insert_one("users", virtual_user(now))
        self._writes_at_load = self._mem.writes

    @classmethod
    def fresh(cls, now: datetime) -> "FastVirtualStore":
        store = cls()
        store._index(False)
        store._add_user(now)
        return store

    @classmethod
    def from_blob(cls, text: str, limits: BlobLimits, now: datetime,
                  timings: dict[str, float] | None = None,
                  cache: StoreCache | None = None) -> "FastVirtualStore":
        """Decode and validate (BLOB-3…6), then load; `timings` gets both phases (bench).

        With a `cache`, a blob whose bytes were seen before is not decoded: the request works on
        a fork of the cached store (copy-on-write, see `fork`). A decoded one becomes the
        *template* of the request's fork too, kept as loaded (without the virtual user, so a hit
        adds it exactly as a miss does) and put in the cache by `publish` once the request is
        done with it: until then its records may hand their decoded documents to this request's
        readers, which spares copying every record for the cache.
        """
        started = time.perf_counter()
        caching = cache is not None and cache.enabled
        template = cache.get(text) if cache is not None and caching else None
        if template is not None:
            store = template.fork()
            store._add_user(now)
            if timings is not None:
                timings["cache hit"] = timings.get("cache hit", 0.0) + time.perf_counter() - started
            return store
        docs, raws, shape, stood_in = decode_for_store(text, limits)
        decoded = time.perf_counter()
        store = cls()
        for name in _ORDER:
            if docs.get(name):
                store._mem.load_decoded(name, docs[name], raws[name], name in stood_in)
        store.shape = shape
        store._index(True)
        if cache is not None and caching:
            template, store = store, store.fork()
            store._pending = (cache, text, template)
        store._add_user(now)
        if timings is not None:
            timings["decode"] = timings.get("decode", 0.0) + decoded - started
            timings["load"] = timings.get("load", 0.0) + time.perf_counter() - decoded
        return store

    def run_event_bytes(self, run_id: str) -> int:
        """The blob JSON size of the run's events, from each record's kept JSON: what the fold
        cache counts for a run's lineage (engine/fold_cache.py `stored_event_bytes`)."""
        return self._mem.raw_bytes("events", {"workflow_run_id": run_id})

    # ---- copies (the store cache, issue 13)

    def frozen(self, final: bool = False) -> "FastVirtualStore":
        """A copy for the cache, never written: the same documents, all counted as loaded
        (`final`: this store is not used again, see `MemoryExecutor.frozen`)."""
        twin = FastVirtualStore(self._mem.frozen(final))
        twin.shape = self.shape
        return twin

    def fork(self) -> "FastVirtualStore":
        """A store for one request over a `frozen` one: it copies a collection on its first
        write to it (copy-on-write), so nothing it writes reaches the cached store."""
        twin = FastVirtualStore(self._mem.fork())
        twin.shape = self.shape
        return twin

    def nbytes(self) -> int:
        """Estimated memory, from above: the blob's inflated JSON (dead documents included) plus
        a fixed cost per record. Stores that share records are each counted in full."""
        return self.shape.inflated_bytes + _RECORD_BYTES * self._mem.record_count()

    def publish(self) -> None:
        """Put the decoded store this request forked in the cache under the input blob
        (a miss's, see `from_blob`), its records made shared in place. Call once the request
        reads no more (it may have taken their decoded documents); idempotent."""
        pending, self._pending = self._pending, None
        if pending is not None:
            cache, text, template = pending
            template._mem.share_in_place()
            cache.put(text, template, template.nbytes())

    def remember(self, cache: StoreCache, text: str) -> None:
        """Keep this store, as the exported blob `text` would decode, under that blob
        (the store is not used afterwards: its collections are taken over).

        A full export sorted every collection (BLOB-1), as decoding it lists them, so the copy
        takes that order; a delta keeps the store's order, which is the order it decodes to
        (replacements in place, new documents appended)."""
        self.publish()
        if not cache.enabled:
            return
        kept = self.frozen(final=True)
        if self._sorted:
            for name in _ORDER:
                recs = kept._mem.record_list(name)
                if recs:
                    kept._mem.reorder(name, self._ordered(name, recs))
        cache.put(text, kept, kept.nbytes())

    # ---- export (BLOB-1, blob v2)

    def _ordered(self, name: str, recs: list[Any]) -> list[Any]:
        key = export_sort_key(name)
        if key is None:
            return sorted(recs, key=lambda rec: canonical_json(_PLAIN.decode(rec.raw)))
        return sorted(recs, key=lambda rec: key((rec.skel, rec.raw)))

    def _ordered_raws(self, name: str) -> list[bytes]:
        return [rec.raw for rec in self._ordered(name, self._mem.record_list(name))]

    def to_json(self) -> bytes:
        """The whole database as `J` (BLOB-1): the one-member blob a compaction writes."""
        parts: list[bytes] = []
        for name in _ORDER:
            raws = self._ordered_raws(name)
            if raws:
                parts.append(b'"' + name.encode() + b'":[' + b",".join(raws) + b"]")
        data = _HEAD + b",".join(parts) + b"}}"
        self.shape = BlobShape(members=1, inflated_bytes=len(data), dead_bytes=0)
        self._sorted = True
        return data

    def delta_json(self) -> bytes | None:
        """What changed since loading as a blob v2 delta member (db/blob_members.py); None when
        a change cannot be said as one (a document's key changed, a keyless collection lost a
        document): the export then writes the whole database."""
        changed: dict[str, list[bytes]] = {}
        for name in _ORDER:
            fresh = self._mem.fresh_records(name)
            if fresh:
                changed[name] = [rec.raw for rec in fresh]
        deleted: dict[str, list[list[Any]]] = {}
        dead = 0
        for name, rec, in_place in self._mem.removed:
            fields = primary_fields(name)
            if fields is None or any(f not in rec.skel for f in fields):
                return None
            key = [rec.skel[f] for f in fields]
            dead += len(rec.raw)
            if in_place:
                if key not in _keys(self._mem.fresh_records(name), fields):
                    return None
            else:
                deleted.setdefault(name, []).append(key)
        if any(type(v) not in _KEY_TYPES for keys in deleted.values() for k in keys for v in k):
            return None
        if not changed and not deleted:
            return b""  # only scratch collections were written: the blob is unchanged
        data = delta_json(changed, deleted)
        old = self.shape
        self.shape = BlobShape(members=old.members + 1,
                               inflated_bytes=old.inflated_bytes + len(data),
                               dead_bytes=old.dead_bytes + dead)
        self._sorted = False
        return data

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


def _keys(recs: list[Any], fields: tuple[str, ...]) -> list[list[Any]]:
    return [[rec.skel.get(f) for f in fields] for rec in recs]


StoreCache = TextCache[FastVirtualStore]
