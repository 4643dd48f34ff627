"""`CollectionExecutor` over a mongomock database (the virtual store and the pipeline sandbox).

The client is created with `tz_aware=False` and this executor turns the naive UTC datetimes
mongomock stores into aware UTC values itself (ST-3), fixing the copies mongomock already made
in place instead of paying for a second copy. Writes pass shallow copies so mongomock's habit of
adding `_id` to the caller's dict never leaks (ST-2). `load_raw`/`iter_raw` are the bulk paths
used by blob import/export: they skip mongomock's per-document copy/validate walks, which the
blob codec has already done (BLOB-6), and are only used with documents in mongomock's internal
form (fresh objects, naive UTC datetimes truncated to milliseconds).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import mongomock
import msgspec
from bson import ObjectId

from engine.errors import ConcurrentModification

Doc = dict[str, Any]
Sort = list[tuple[str, int]]
_UTC = timezone.utc
_DUPLICATE = (mongomock.DuplicateKeyError, mongomock.BulkWriteError)
_IMMUTABLE = frozenset({str, int, float, bool, type(None), bytes})
_JSON_ENCODER = msgspec.json.Encoder()
_JSON_DECODER = msgspec.json.Decoder()
_DATETIME_TEXT = re.compile(rb'"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d')


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

    A naive datetime would come back from JSON as a string, so any text that looks like one
    (msgspec writes naive datetimes as `"YYYY-MM-DDTHH:MM:SS…"`) takes the exact slow path.
    """
    try:
        data = _JSON_ENCODER.encode(value)
    except (TypeError, msgspec.EncodeError, OverflowError):
        data = None
    if data is None or _DATETIME_TEXT.search(data):
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


def _duplicate(coll: str, exc: Exception) -> ConcurrentModification:
    return ConcurrentModification(f"duplicate key in {coll}", details={"collection": coll})


class MongomockExecutor:
    """Executes db/queries.py shapes on one mongomock database (never shared across threads)."""

    def __init__(self, database: mongomock.Database) -> None:
        self._db = database

    @classmethod
    def fresh(cls, name: str = "virtual") -> MongomockExecutor:
        return cls(mongomock.MongoClient(tz_aware=False)[name])

    @property
    def database(self) -> mongomock.Database:
        return self._db

    def insert_one(self, coll: str, doc: Doc) -> None:
        try:
            self._db[coll].insert_one(dict(doc))
        except _DUPLICATE as exc:
            raise _duplicate(coll, exc) from None

    def insert_many(self, coll: str, docs: list[Doc]) -> None:
        if not docs:
            return
        try:
            self._db[coll].insert_many([dict(d) for d in docs])
        except _DUPLICATE as exc:
            raise _duplicate(coll, exc) from None

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
        stored = collection._store._documents  # noqa: SLF001  (mongomock 4.3 internal, pinned)
        return [copy_stored(stored[doc["_id"]]) for doc in cursor]

    def find_one(self, coll: str, filter: Doc, *, projection: Doc | None = None,
                 sort: Sort | None = None) -> Doc | None:
        found = self.find(coll, filter, projection=projection, sort=sort, limit=1)
        return found[0] if found else None

    def update_one(self, coll: str, filter: Doc, update: Doc, *, upsert: bool = False) -> None:
        try:
            self._db[coll].update_one(filter, update, upsert=upsert)
        except _DUPLICATE as exc:
            raise _duplicate(coll, exc) from None

    def find_one_and_update(self, coll: str, filter: Doc, update: Doc, *, upsert: bool = False,
                            return_after: bool = True, projection: Doc | None = None) -> Doc | None:
        try:
            doc = self._db[coll].find_one_and_update(
                filter, update, projection=projection or {"_id": 0}, upsert=upsert,
                return_document=return_after)
        except _DUPLICATE as exc:
            raise _duplicate(coll, exc) from None
        return _out(doc)

    def aggregate(self, coll: str, pipeline: list[Doc]) -> list[Doc]:
        out = list(self._db[coll].aggregate(pipeline))
        for doc in out:
            _out(doc)
        return out

    def delete_many(self, coll: str, filter: Doc) -> int:
        return int(self._db[coll].delete_many(filter).deleted_count)

    def count_documents(self, coll: str, filter: Doc) -> int:
        return int(self._db[coll].count_documents(filter))

    def create_index(self, coll: str, keys: Sort, *, unique: bool = False, sparse: bool = False,
                     expire_after_seconds: int | None = None, name: str | None = None) -> None:
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
        store = self._db[coll]._store  # noqa: SLF001  (mongomock 4.3 internal, pinned)
        target = store._documents  # noqa: SLF001
        for doc in docs:
            oid = ObjectId()
            doc["_id"] = oid
            target[oid] = doc

    def iter_raw(self, coll: str) -> Iterator[Doc]:
        """Stored documents as-is (naive datetimes, `_id` present): read-only, for export."""
        if coll not in self._db.list_collection_names():
            return iter(())
        return iter(list(self._db[coll]._store.documents))  # noqa: SLF001
