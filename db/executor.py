"""The only thing that differs between the two stores: how a query shape is executed (ST-1).

`QueryStore` (db/store_impl.py) builds every shape from db/queries.py and hands it to a
`CollectionExecutor`. Executors hold no logic of their own beyond three guarantees:
returned documents never carry `_id` (ST-2), datetimes come back aware UTC (ST-3), and a
duplicate-key error surfaces as `engine.errors.ConcurrentModification` (ST-5, engine.md §18.2).
"""

from __future__ import annotations

from typing import Any, Protocol

Doc = dict[str, Any]
Sort = list[tuple[str, int]]


class CollectionExecutor(Protocol):
    def insert_one(self, coll: str, doc: Doc) -> None: ...

    def insert_many(self, coll: str, docs: list[Doc]) -> None: ...

    def find(self, coll: str, filter: Doc, *, projection: Doc | None = None,
             sort: Sort | None = None, skip: int = 0, limit: int = 0) -> list[Doc]: ...

    def find_one(self, coll: str, filter: Doc, *, projection: Doc | None = None,
                 sort: Sort | None = None) -> Doc | None: ...

    def update_one(self, coll: str, filter: Doc, update: Doc, *, upsert: bool = False) -> None: ...

    def find_one_and_update(self, coll: str, filter: Doc, update: Doc, *, upsert: bool = False,
                            return_after: bool = True,
                            projection: Doc | None = None) -> Doc | None: ...

    def aggregate(self, coll: str, pipeline: list[Doc]) -> list[Doc]: ...

    def delete_many(self, coll: str, filter: Doc) -> int: ...

    def count_documents(self, coll: str, filter: Doc) -> int: ...

    def create_index(self, coll: str, keys: Sort, *, unique: bool = False, sparse: bool = False,
                     expire_after_seconds: int | None = None, name: str | None = None) -> None: ...
