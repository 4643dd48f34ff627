"""The seed design of the virtual server's `/respond`, re-implemented for bench/virtual_bench.py.

stdlib `json` for the HTTP bodies and the blob, `gzip.compress` at Python's default level (9),
every collection imported into a fresh mongomock database (indexes created, as ST-14) and
everything exported again on every request, through a plain mongomock executor.
"""

from __future__ import annotations

import base64
import gzip
import json
from datetime import datetime, timezone
from typing import Any, Callable

import mongomock
import msgspec

from db.indexes import VIRTUAL_COLLECTIONS, create_indexes
from db.store_impl import QueryStore
from engine.errors import ConcurrentModification
from engine.execution import ExecOptions
from engine.processor import WorkflowEngine
from engine.wire import InteractionResponseData, Target

_DUP = (mongomock.DuplicateKeyError, mongomock.BulkWriteError)


class NaiveExecutor:
    """Plain mongomock: every call as the driver API would be used, no shortcuts."""

    def __init__(self) -> None:
        self.db = mongomock.MongoClient(tz_aware=True)["naive"]

    def _write(self, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except _DUP:
            raise ConcurrentModification("duplicate key") from None

    def insert_one(self, coll: str, doc: dict[str, Any]) -> None:
        self._write(lambda: self.db[coll].insert_one(dict(doc)))

    def insert_many(self, coll: str, docs: list[dict[str, Any]]) -> None:
        self._write(lambda: self.db[coll].insert_many([dict(d) for d in docs]))

    def find(self, coll: str, filter: dict[str, Any], *, projection: dict[str, Any] | None = None,
             sort: list[tuple[str, int]] | None = None, skip: int = 0, limit: int = 0) -> list[Any]:
        cursor = self.db[coll].find(filter, {**(projection or {}), "_id": 0})
        if sort:
            cursor = cursor.sort(sort)
        return list(cursor.skip(skip).limit(limit))

    def find_one(self, coll: str, filter: dict[str, Any], *, projection: Any = None,
                 sort: Any = None) -> Any:
        found = self.find(coll, filter, projection=projection, sort=sort, limit=1)
        return found[0] if found else None

    def update_one(self, coll: str, filter: Any, update: Any, *, upsert: bool = False) -> None:
        self._write(lambda: self.db[coll].update_one(filter, update, upsert=upsert))

    def find_one_and_update(self, coll: str, filter: Any, update: Any, *, upsert: bool = False,
                            return_after: bool = True, projection: Any = None) -> Any:
        return self._write(lambda: self.db[coll].find_one_and_update(
            filter, update, projection={**(projection or {}), "_id": 0}, upsert=upsert,
            return_document=return_after))

    def aggregate(self, coll: str, pipeline: list[Any]) -> list[Any]:
        return [{k: v for k, v in d.items() if k != "_id"} for d in self.db[coll].aggregate(pipeline)]

    def delete_many(self, coll: str, filter: Any) -> int:
        return int(self.db[coll].delete_many(filter).deleted_count)

    def count_documents(self, coll: str, filter: Any) -> int:
        return int(self.db[coll].count_documents(filter))

    def create_index(self, coll: str, keys: Any, *, unique: bool = False, sparse: bool = False,
                     expire_after_seconds: Any = None, name: Any = None) -> None:
        options: dict[str, Any] = {"unique": unique}
        if sparse:
            options["sparse"] = True
        self._write(lambda: self.db[coll].create_index(list(keys), **options))


def _hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        if isinstance(obj.get("$date"), str):
            return datetime.strptime(obj["$date"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
        if "$esc" in obj:
            return obj["$esc"]
    return obj


def _tagged(value: Any) -> Any:
    if isinstance(value, datetime):
        value = value.astimezone(timezone.utc)
        return {"$date": value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"}
    if isinstance(value, dict):
        out = {k: _tagged(v) for k, v in value.items()}
        return {"$esc": out} if len(value) == 1 and next(iter(value)) in ("$date", "$esc") else out
    if isinstance(value, (list, tuple)):
        return [_tagged(v) for v in value]
    return value


class NaiveStore(QueryStore):
    """Blob → fresh mongomock (insert_many per collection, then indexes) → … → full export."""

    def __init__(self) -> None:
        super().__init__(NaiveExecutor())

    @classmethod
    def from_blob(cls, text: str, now: datetime) -> "NaiveStore":
        data = json.loads(gzip.decompress(base64.b64decode(text)), object_hook=_hook)
        store = cls()
        for name, docs in data["collections"].items():
            store.executor.insert_many(name, docs)
        create_indexes(store.executor, VIRTUAL_COLLECTIONS)
        if store.executor.find_one("users", {"user_id": "virtual_user_001"}) is None:
            store.executor.insert_one("users", {"user_id": "virtual_user_001", "username": "virtual_user",
                                                "email": "virtual@example.com", "is_virtual": True,
                                                "created_at": now})
        return store

    def to_blob(self) -> str:
        collections: dict[str, list[Any]] = {}
        for name in sorted(VIRTUAL_COLLECTIONS):
            docs = [_tagged(doc) for doc in self.executor.find(name, {})]
            if docs:
                key = (lambda d: (d["workflow_run_id"], d["sequence"])) if name == "events" else \
                    (lambda d: json.dumps(d, sort_keys=True))
                collections[name] = sorted(docs, key=key)
        text = json.dumps({"format": "workflow-engine-virtual-db", "version": 1,
                           "collections": collections}, separators=(",", ":"), ensure_ascii=False)
        return base64.b64encode(gzip.compress(text.encode())).decode()


def naive_respond(body: bytes, engine_for: Callable[[Any], WorkflowEngine],
                  ai_config: dict[str, Any]) -> bytes:
    """The seed design's `/respond`: json body → mongomock → engine → full export → json body."""
    req = json.loads(body)
    store = NaiveStore.from_blob(req["virtual_db"], datetime.now(timezone.utc))
    eng = engine_for(store)
    response = eng.virtual_respond(
        workflow=req["workflow"], run_id=req.get("workflow_run_id"),
        interaction_id=req["interaction_id"],
        response=msgspec.convert(req["response"], InteractionResponseData),
        target=Target(step_id=req["target_step_id"], module_name=req["target_module_name"]),
        capabilities=[], opts=ExecOptions(mock=True, ai_config=dict(ai_config)))
    out = msgspec.to_builtins(response)
    out["result"] = {**(out.get("result") or {}), "virtual_db": store.to_blob()}
    return json.dumps(out).encode()
