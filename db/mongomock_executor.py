"""`CollectionExecutor` over a mongomock database (the virtual store and the pipeline sandbox).

The client is created with `tz_aware=False` and this executor turns the naive UTC datetimes
mongomock stores into aware UTC values itself (ST-3), fixing the copies mongomock already made
in place instead of paying for a second copy. Writes pass shallow copies so mongomock's habit of
adding `_id` to the caller's dict never leaks (ST-2). `load_raw`/`iter_raw` are the bulk paths
used by blob import/export: they skip mongomock's per-document copy/validate walks, which the
blob codec has already done (BLOB-6), and are only used with documents in mongomock's internal
form (fresh objects, naive UTC datetimes truncated to milliseconds). Single inserts check
unique indexes against hashed key sets instead of mongomock's full-collection scans; every other
kind of write drops those sets so they are rebuilt from the stored documents.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import mongomock
import msgspec
from bson import BSON, ObjectId
from mongomock.collection import _validate_data_fields  # mongomock 4.3 (pinned)
from mongomock.helpers import patch_datetime_awareness_in_document

from engine.errors import ConcurrentModification

Doc = dict[str, Any]
Sort = list[tuple[str, int]]
_UTC = timezone.utc
_DUPLICATE = (mongomock.DuplicateKeyError,
              mongomock.BulkWriteError)  # type: ignore[attr-defined]  # not in mongomock's stubs
_IMMUTABLE = frozenset({str, int, float, bool, type(None), bytes})
_JSON_ENCODER = msgspec.json.Encoder()
_JSON_DECODER = msgspec.json.Decoder()
# Outside strings JSON never has a digit next to ":", so "digit:digit" marks possible time text.
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")


def _fix_datetimes(obj: Any) -> None:
    """In place: naive datetimes (mongomock's storage form) become aware UTC."""
    if type(obj) is dict:
        items: Any = obj.items()
    else:
        items = enumerate(obj)
    for key, value in items:
        t = type(value)
        if t is datetime:
            if value.tzinfo is None:
                obj[key] = value.replace(tzinfo=_UTC)
        elif t is dict or t is list:
            _fix_datetimes(value)


def _out(doc: Doc | None) -> Doc | None:
    if doc is None:
        return None
    doc.pop("_id", None)
    _fix_datetimes(doc)
    return doc


def _copy_container(value: Any) -> Any:
    """Deep copy of a stored sub-document: msgspec when it is plain JSON, else a Python walk.

    A naive datetime would come back from JSON as a string, so any text that may be one
    (msgspec writes naive datetimes as `"YYYY-MM-DDTHH:MM:SS…"`) takes the exact slow path.
    """
    try:
        data = _JSON_ENCODER.encode(value)
    except (TypeError, ValueError, msgspec.EncodeError, OverflowError):
        data = None
    if data is None or b"0:0" in data.translate(_DIGITS_TO_ZERO):
        value = copy.deepcopy(value)
        _fix_datetimes(value)
        return value
    return _JSON_DECODER.decode(data)


def copy_stored(doc: Doc) -> Doc:
    """A stored document as a fresh result: no `_id`, aware UTC datetimes (ST-2, ST-3)."""
    out: Doc = {}
    for key, value in doc.items():
        t = type(value)
        if t is datetime:
            out[key] = value.replace(tzinfo=_UTC) if value.tzinfo is None else value
        elif t is dict or t is list:
            out[key] = _copy_container(value)
        elif key != "_id":
            out[key] = copy.copy(value) if t not in _IMMUTABLE else value
    return out


def _duplicate(coll: str, exc: Exception | None) -> ConcurrentModification:
    return ConcurrentModification(f"duplicate key in {coll}", details={"collection": coll})


_UNHASHABLE = object()


class _UniqueKey:
    """One unique index as a set of key tuples, with mongomock's semantics: top-level fields,
    missing = null, and a sparse index skips documents whose key fields are all null."""

    def __init__(self, index: dict[str, Any]) -> None:
        fields = tuple(field for field, _ in index["key"])
        self.fields = None if any("." in f for f in fields) else fields
        self.sparse = bool(index.get("sparse"))
        self.seen: set[Any] = set()

    def key(self, doc: Doc) -> Any:
        assert self.fields is not None
        key = tuple([doc.get(f) for f in self.fields])
        if self.sparse and all(v is None for v in key):
            return None
        try:
            hash(key)
        except TypeError:
            return _UNHASHABLE
        return key


class MongomockExecutor:
    """Executes db/queries.py shapes on one mongomock database (never shared across threads)."""

    def __init__(self, database: mongomock.Database[Doc]) -> None:
        self._db = database
        self._uniques: dict[str, list[_UniqueKey] | None] = {}
        # Successful writes that changed something: lets the virtual server return the input
        # blob byte for byte when an operation wrote nothing (VS-3, VS-5).
        self.writes = 0

    @classmethod
    def fresh(cls, name: str = "virtual") -> MongomockExecutor:
        return cls(mongomock.MongoClient(tz_aware=False)[name])

    @property
    def database(self) -> mongomock.Database[Doc]:
        return self._db

    def insert_one(self, coll: str, doc: Doc) -> None:
        """mongomock checks each unique index by scanning the whole collection (9 ms per event
        at 2,000 events); hashed key sets make the common single inserts O(1) instead."""
        uniques = None if "_id" in doc else self._unique_keys(coll)
        if uniques is None:
            self._uniques.pop(coll, None)
            try:
                self._db[coll].insert_one(dict(doc))
            except _DUPLICATE as exc:
                raise _duplicate(coll, exc) from None
            self.writes += 1
            return
        data = dict(doc)
        if not all(isinstance(k, str) for k in data):
            raise ValueError("Document keys must be strings")
        _validate_data_fields(data)
        BSON.encode(data)
        data = patch_datetime_awareness_in_document(data)
        keys = [u.key(data) for u in uniques]
        if any(key is _UNHASHABLE for key in keys):
            self._uniques[coll] = None
            return self.insert_one(coll, doc)
        for unique, key in zip(uniques, keys):
            if key is not None and key in unique.seen:
                raise _duplicate(coll, None)
        oid = ObjectId()
        data["_id"] = oid
        self._store_of(coll)[oid] = data
        for unique, key in zip(uniques, keys):
            if key is not None:
                unique.seen.add(key)
        self.writes += 1

    def _store_of(self, coll: str) -> Any:
        """mongomock's document store of a collection (a 4.3 internal; the version is pinned)."""
        return self._db[coll]._store

    def _unique_keys(self, coll: str) -> list[_UniqueKey] | None:
        """Key sets of the collection's unique indexes, rebuilt after any other kind of write."""
        if coll in self._uniques:
            return self._uniques[coll]
        store = self._store_of(coll)
        uniques = [_UniqueKey(index) for index in store.indexes.values() if index.get("unique")]
        ok = bool(uniques) and all(u.fields is not None for u in uniques)
        if ok:
            for doc in store.documents:
                for unique in uniques:
                    key = unique.key(doc)
                    if key is _UNHASHABLE:
                        ok = False
                        break
                    if key is not None:
                        unique.seen.add(key)
        result = uniques if ok else None
        self._uniques[coll] = result
        return result

    def insert_many(self, coll: str, docs: list[Doc]) -> None:
        self._uniques.pop(coll, None)
        if not docs:
            return
        try:
            self._db[coll].insert_many([dict(d) for d in docs])
        except _DUPLICATE as exc:
            raise _duplicate(coll, exc) from None
        self.writes += 1

    def find(self, coll: str, filter: Doc, *, projection: Doc | None = None,
             sort: Sort | None = None, skip: int = 0, limit: int = 0) -> list[Doc]:
        """Whole documents: mongomock selects and orders `_id`s, we copy the stored documents.

        mongomock's own per-field copy dominates read time on large runs (every engine
        operation reads its lineage); filtering, sorting and projections stay mongomock's.
        """
        collection = self._db[coll]
        full = projection is None or projection == {"_id": 0}
        cursor = collection.find(filter, {"_id": 1} if full else projection)
        if sort:
            cursor = cursor.sort(sort)
        if skip:
            cursor = cursor.skip(skip)
        if limit:
            cursor = cursor.limit(limit)
        if not full:
            out = list(cursor)
            for doc in out:
                _out(doc)
            return out
        stored = self._store_of(coll)._documents
        return [copy_stored(stored[doc["_id"]]) for doc in cursor]

    def find_one(self, coll: str, filter: Doc, *, projection: Doc | None = None,
                 sort: Sort | None = None) -> Doc | None:
        found = self.find(coll, filter, projection=projection, sort=sort, limit=1)
        return found[0] if found else None

    def update_one(self, coll: str, filter: Doc, update: Doc, *, upsert: bool = False) -> None:
        self._uniques.pop(coll, None)
        try:
            result = self._db[coll].update_one(filter, update, upsert=upsert)
        except _DUPLICATE as exc:
            raise _duplicate(coll, exc) from None
        if result.modified_count or result.upserted_id is not None:
            self.writes += 1

    def find_one_and_update(self, coll: str, filter: Doc, update: Doc, *, upsert: bool = False,
                            return_after: bool = True, projection: Doc | None = None) -> Doc | None:
        self._uniques.pop(coll, None)
        before = self._db[coll].find_one(filter)
        try:
            doc = self._db[coll].find_one_and_update(
                filter, update, projection=projection or {"_id": 0}, upsert=upsert,
                return_document=return_after)
        except _DUPLICATE as exc:
            raise _duplicate(coll, exc) from None
        if before is not None:
            # mongomock finds the updated document again with `filter`, which an update of a
            # filtered field (a `$gt: 0` counter taken to 0) no longer matches: read it by `_id`
            after = self._db[coll].find_one({"_id": before["_id"]})
            if return_after:
                doc = self._db[coll].find_one({"_id": before["_id"]}, projection or {"_id": 0})
        else:
            after = self._db[coll].find_one(filter) if upsert else None
        if after is not None and (before is None or before != after):
            self.writes += 1
        return _out(doc)

    def aggregate(self, coll: str, pipeline: list[Doc]) -> list[Doc]:
        out = list(self._db[coll].aggregate(pipeline))
        for doc in out:
            _out(doc)
        return out

    def delete_many(self, coll: str, filter: Doc) -> int:
        self._uniques.pop(coll, None)
        deleted = int(self._db[coll].delete_many(filter).deleted_count)
        if deleted:
            self.writes += 1
        return deleted

    def count_documents(self, coll: str, filter: Doc) -> int:
        return int(self._db[coll].count_documents(filter))

    def create_index(self, coll: str, keys: Sort, *, unique: bool = False, sparse: bool = False,
                     expire_after_seconds: int | None = None, name: str | None = None) -> None:
        self._uniques.pop(coll, None)
        kwargs: dict[str, Any] = {"unique": unique}
        if sparse:
            kwargs["sparse"] = True
        if expire_after_seconds is not None:
            kwargs["expireAfterSeconds"] = expire_after_seconds
        if name is not None:
            kwargs["name"] = name
        try:
            self._db[coll].create_index(list(keys), **kwargs)
        except _DUPLICATE as exc:
            raise _duplicate(coll, exc) from None

    # ---- bulk paths for blob import/export (virtual store only)

    def collection_names(self) -> list[str]:
        return list(self._db.list_collection_names())

    def load_raw(self, coll: str, docs: list[Doc]) -> None:
        """Adopt decoded documents as stored documents (no unique indexes may exist yet, ST-6)."""
        self._uniques.pop(coll, None)
        target = self._store_of(coll)._documents
        for doc in docs:
            oid = ObjectId()
            doc["_id"] = oid
            target[oid] = doc

    def iter_raw(self, coll: str) -> Iterator[Doc]:
        """Stored documents as-is (naive datetimes, `_id` present): read-only, for export."""
        if coll not in self._db.list_collection_names():
            return iter(())
        return iter(list(self._store_of(coll).documents))
