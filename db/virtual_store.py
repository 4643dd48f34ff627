"""`VirtualStore`: a per-request in-memory database loaded from and dumped to the blob (§5).

One fresh mongomock client per instance, never shared between threads or requests (ST-6). The
blob's documents are loaded before any unique index exists (bulk loading under unique indexes is
quadratic in mongomock), then every §3.1 index is created, then the virtual user is added if
absent (ST-14). This runs on every editor keystroke, so blob import/export adopt and read the
decoded documents directly instead of paying mongomock's per-document copy walks twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from db.blob import (
    BlobLimits,
    blob_within_limits,
    decode_blob,
    encode_json,
    sort_documents,
)
from db.indexes import VIRTUAL_COLLECTIONS, create_indexes
from db.mongomock_executor import MongomockExecutor
from db.store_impl import QueryStore
from engine.errors import ConcurrentModification, InvalidVirtualDb

Doc = dict[str, Any]

VIRTUAL_USER_ID = "virtual_user_001"
_VIRTUAL_COLLECTION_ORDER = tuple(sorted(VIRTUAL_COLLECTIONS))


def virtual_user(now: datetime) -> Doc:
    """VS-2: the only user of a virtual database, with no password hash (BLOB-8)."""
    return {"user_id": VIRTUAL_USER_ID, "username": "virtual_user",
            "email": "virtual@example.com", "is_virtual": True, "created_at": now}


class VirtualStore(QueryStore):
    def __init__(self) -> None:
        self._mm = MongomockExecutor.fresh()
        self._writes_at_load = 0
        super().__init__(self._mm)

    @property
    def writes(self) -> int:
        """Writes since loading finished: 0 means the input blob is still exact (VS-3, VS-5)."""
        return self._mm.writes - self._writes_at_load

    # ---- loading (ST-14)

    def load(self, collections: dict[str, list[Doc]], *, now: datetime) -> None:
        """Load plain documents (aware datetimes) through `insert_many`, then index."""
        if set(collections) - VIRTUAL_COLLECTIONS:
            raise InvalidVirtualDb("invalid virtual_db: unknown collection",
                                   details={"reason": "unknown_collection"})
        for name in _VIRTUAL_COLLECTION_ORDER:
            docs = collections.get(name)
            if docs:
                self._mm.insert_many(name, docs)
        self._finish_load(now)

    def _load_decoded(self, collections: dict[str, list[Doc]], now: datetime) -> None:
        """Adopt freshly decoded documents (naive UTC datetimes) without copying them."""
        for name, docs in collections.items():
            if docs:
                self._mm.load_raw(name, docs)
        self._finish_load(now)

    def _finish_load(self, now: datetime) -> None:
        try:
            create_indexes(self._mm, VIRTUAL_COLLECTIONS)
        except ConcurrentModification:
            raise InvalidVirtualDb("invalid virtual_db: a unique key is duplicated",
                                   details={"reason": "duplicate_key"}) from None
        if self._mm.find_one("users", {"user_id": VIRTUAL_USER_ID}) is None:
            self._mm.insert_one("users", virtual_user(now))
        self._writes_at_load = self._mm.writes

    @classmethod
    def fresh(cls, now: datetime) -> VirtualStore:
        """The database of a request without a blob: indexes and the virtual user only."""
        store = cls()
        store.load({}, now=now)
        return store

    @classmethod
    def from_blob(cls, text: str, limits: BlobLimits, now: datetime) -> VirtualStore:
        """Decode and validate (BLOB-3…6), then load; raises InvalidVirtualDb/VirtualDbTooLarge."""
        collections = decode_blob(text, max_encoded_bytes=limits.max_encoded_bytes,
                                  max_decompressed_bytes=limits.max_decompressed_bytes,
                                  max_depth=limits.max_depth, aware=False)
        store = cls()
        store._load_decoded(collections, now)
        return store

    # ---- export (BLOB-1)

    def export(self) -> dict[str, list[Doc]]:
        """Non-empty allowed collections, without `_id`, in the blob's stable order."""
        out: dict[str, list[Doc]] = {}
        for name in _VIRTUAL_COLLECTION_ORDER:
            docs = self._mm.find(name, {})
            if docs:
                out[name] = sort_documents(name, docs)
        return out

    def to_json(self) -> bytes:
        return encode_json({name: self._mm.iter_raw(name) for name in _VIRTUAL_COLLECTION_ORDER})

    def to_blob(self, gzip_level: int = 4, limits: BlobLimits | None = None) -> str:
        """The blob text; with `limits`, an over-limit export raises VirtualDbTooLarge (VS-7)."""
        return blob_within_limits(self.to_json(), gzip_level, limits)
