"""Unique keys of storage.md §3.1 on every store kind (ST-7, ST-13, engine.md §18.2).

Each unique key rejects a duplicate with `ConcurrentModification` and writes nothing; the
production-only collections (created by `ensure_indexes` at start-up) are checked on the
production stores.
"""

from __future__ import annotations

from typing import Any

import pytest

from db.indexes import INDEXES, VIRTUAL_COLLECTIONS, IndexSpec
from engine.errors import ConcurrentModification

# ---- ST-7: every unique key of §3.1 rejects a duplicate

UNIQUE = [ix for ix in INDEXES if ix.unique and ix.collection in VIRTUAL_COLLECTIONS]


def _doc_for(collection: str, tag: str) -> dict[str, Any]:
    fields = {f for ix in INDEXES if ix.collection == collection and ix.unique for f in ix.fields}
    return {f: f"{f}-{tag}" for f in sorted(fields)} | {"payload": tag}


@pytest.mark.parametrize("index", UNIQUE, ids=lambda ix: f"{ix.collection}:{ix.name}")
def test_unique_key_rejects_duplicate_st7(store: Any, index: IndexSpec) -> None:
    first, second = _doc_for(index.collection, "1"), _doc_for(index.collection, "2")
    store.executor.insert_one(index.collection, first)
    store.executor.insert_one(index.collection, second)
    clash = _doc_for(index.collection, "3") | {f: first[f] for f in index.fields}
    with pytest.raises(ConcurrentModification):
        store.executor.insert_one(index.collection, clash)
    assert store.executor.count_documents(index.collection, {"payload": "3"}) == 0


# ---- users: the sparse unique `email` (storage.md §3.1)

def test_users_without_email_coexist_sparse_unique_st7(store: Any) -> None:
    """Users with no email OMIT the field: two such users coexist, a repeated email clashes.

    (A real MongoDB sparse index still indexes an explicit `email: null`, mongomock does not;
    registration therefore never writes a null email.)
    """
    ex = store.executor
    for n in (1, 2):
        ex.insert_one("users", {"user_id": f"usr_{n}", "username": f"guest{n}", "is_guest": True})
    ex.insert_one("users", {"user_id": "usr_3", "username": "ann", "email": "ann@example.com"})
    with pytest.raises(ConcurrentModification):
        ex.insert_one("users", {"user_id": "usr_4", "username": "ann2",
                                "email": "ann@example.com"})
    assert ex.count_documents("users", {"user_id": {"$in": ["usr_1", "usr_2", "usr_3"]}}) == 3
    assert ex.count_documents("users", {"user_id": "usr_4"}) == 0


# ---- ST-7 for the production-only collections (ST-13: created at start-up)

PRODUCTION_UNIQUE = [ix for ix in INDEXES if ix.unique and ix.collection not in VIRTUAL_COLLECTIONS]


@pytest.mark.parametrize("index", PRODUCTION_UNIQUE, ids=lambda ix: f"{ix.collection}:{ix.name}")
def test_production_unique_key_rejects_duplicate_st7(store: Any, store_kind: str,
                                                     index: IndexSpec) -> None:
    if store_kind.startswith("virtual"):
        # BLOB-8: the collection does not exist in the virtual database; a blob carrying it is
        # refused instead, so no credential-bearing document can ever enter a preview.
        _assert_blob_refuses(index.collection, _doc_for(index.collection, "1"))
        return
    first, second = _doc_for(index.collection, "1"), _doc_for(index.collection, "2")
    store.executor.insert_one(index.collection, first)
    store.executor.insert_one(index.collection, second)
    clash = _doc_for(index.collection, "3") | {f: first[f] for f in index.fields}
    with pytest.raises(ConcurrentModification):
        store.executor.insert_one(index.collection, clash)
    assert store.executor.count_documents(index.collection, {"payload": "3"}) == 0


def _assert_blob_refuses(collection: str, doc: dict[str, Any]) -> None:
    import base64
    import gzip

    import msgspec

    from db.blob import decode_blob
    from engine.errors import InvalidVirtualDb

    payload = {"format": "workflow-engine-virtual-db", "version": 1,
               "collections": {collection: [doc]}}
    text = base64.b64encode(gzip.compress(msgspec.json.encode(payload), mtime=0)).decode()
    with pytest.raises(InvalidVirtualDb):
        decode_blob(text, max_encoded_bytes=1 << 20, max_decompressed_bytes=1 << 20)
