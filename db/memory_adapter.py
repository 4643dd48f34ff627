"""`MemoryAdapter`: the embedded default backend when `WFE_MONGODB_URI` is unset (README §5.2).

The same async interface as `MongoAdapter`, on one mongomock database, so a newcomer can run the
production server without MongoDB. It reuses `MongomockExecutor`, which already gives the
executor guarantees (no `_id`, aware UTC datetimes, duplicate key → ConcurrentModification).
Every call runs on the event-loop thread (the production bridge submits coroutines there), so the
mongomock database is never touched by two threads at once (ST-6). Nothing is persisted.
"""

from __future__ import annotations

from typing import Any

from db.mongomock_executor import MongomockExecutor

Doc = dict[str, Any]
Sort = list[tuple[str, int]]


class MemoryAdapter:
    """In-memory stand-in for `MongoAdapter`; data lives only as long as the process."""

    driver = "memory"

    def __init__(self, database: str = "workflow_engine") -> None:
        self.database_name = database
        self._ex = MongomockExecutor.fresh(database)

    async def insert_one(self, coll: str, doc: Doc) -> None:
        self._ex.insert_one(coll, doc)

    async def insert_many(self, coll: str, docs: list[Doc]) -> None:
        self._ex.insert_many(coll, docs)

    async def update_one(self, coll: str, filter: Doc, update: Doc, *,
                         upsert: bool = False) -> None:
        self._ex.update_one(coll, filter, update, upsert=upsert)

    async def find_one_and_update(self, coll: str, filter: Doc, update: Doc, *,
                                  upsert: bool = False, return_after: bool = True,
                                  projection: Doc | None = None) -> Doc | None:
        return self._ex.find_one_and_update(coll, filter, update, upsert=upsert,
                                            return_after=return_after, projection=projection)

    async def delete_many(self, coll: str, filter: Doc) -> int:
        return self._ex.delete_many(coll, filter)

    async def find(self, coll: str, filter: Doc, *, projection: Doc | None = None,
                   sort: Sort | None = None, skip: int = 0, limit: int = 0) -> list[Doc]:
        return self._ex.find(coll, filter, projection=projection, sort=sort, skip=skip,
                             limit=limit)

    async def find_one(self, coll: str, filter: Doc, *, projection: Doc | None = None,
                       sort: Sort | None = None) -> Doc | None:
        return self._ex.find_one(coll, filter, projection=projection, sort=sort)

    async def aggregate(self, coll: str, pipeline: list[Doc]) -> list[Doc]:
        return self._ex.aggregate(coll, pipeline)

    async def count_documents(self, coll: str, filter: Doc) -> int:
        return self._ex.count_documents(coll, filter)

    async def create_index(self, coll: str, keys: Sort, *, unique: bool = False,
                           sparse: bool = False, expire_after_seconds: int | None = None,
                           name: str | None = None) -> None:
        self._ex.create_index(coll, keys, unique=unique, sparse=sparse,
                              expire_after_seconds=expire_after_seconds, name=name)

    async def ping(self) -> bool:
        return True

    async def drop_database(self) -> None:
        self._ex = MongomockExecutor.fresh(self.database_name)

    async def close(self) -> None:
        return None
