"""`MongoAdapter`: the only module that touches the MongoDB driver API (ST-10).

One async interface over motor's `AsyncIOMotorClient` or PyMongo's `AsyncMongoClient`, chosen by
`WFE_MONGO_DRIVER`, so the rest of the code never sees a call-shape difference (PyMongo's async
`aggregate` is a coroutine, motor's returns a cursor; PyMongo's `close` is a coroutine, motor's
is not). The adapter also owns the storage guarantees every executor gives: results never carry
`_id` (ST-2), datetimes come back aware UTC (clients use `tz_aware=True`, ST-3), writes never
mutate the caller's dict, a duplicate key becomes `ConcurrentModification` (engine.md §18.2) and
an unreachable or slow server becomes `StoreUnavailable` (HTTP 503). Event and answer inserts use
the durable write concern of ST-12. Every call passes the adapter's circuit breaker
(db/breaker.py), so while the server is unreachable calls fail at once instead of each waiting
for server selection (issue 15).
"""

from __future__ import annotations

import inspect
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timezone
from typing import Any, Literal

from pymongo import ReturnDocument, WriteConcern
from pymongo.errors import (
    AutoReconnect,
    BulkWriteError,
    ConnectionFailure,
    DuplicateKeyError,
    ExecutionTimeout,
    PyMongoError,
    ServerSelectionTimeoutError,
    WriteConcernError,
)

from db.breaker import CircuitBreaker
from engine.errors import ConcurrentModification, StoreUnavailable

Doc = dict[str, Any]
Sort = list[tuple[str, int]]
Driver = Literal["motor", "pymongo_async"]

DRIVERS: tuple[str, ...] = ("motor", "pymongo_async")
# ST-12: the writes the engine's correctness rests on (events, answer records) wait for a
# majority-acknowledged, journaled write.
DURABLE_COLLECTIONS: frozenset[str] = frozenset({"events", "interaction_answers"})
_DUPLICATE_KEY = 11000
_UNAVAILABLE = (ConnectionFailure, ServerSelectionTimeoutError, ExecutionTimeout,
                WriteConcernError)


def parse_write_concern(value: str | int, *, journal: bool = True,
                        wtimeout_ms: int = 10000) -> WriteConcern:
    """`WFE_MONGO_WRITE_CONCERN`: `majority`, a tag name, or a node count such as `1`."""
    text = str(value).strip()
    if not text:
        raise ValueError("write concern must not be empty")
    w: str | int = int(text) if text.isdigit() else text
    if isinstance(w, int) and w < 1:
        raise ValueError("a numeric write concern must be at least 1")
    return WriteConcern(w=w, j=journal, wtimeout=wtimeout_ms)


def _no_id(projection: Doc | None) -> Doc:
    """Ask the server not to send `_id` at all (ST-2); other projection choices are kept."""
    return {"_id": 0} if projection is None else {**projection, "_id": 0}


def _strip(doc: Doc | None) -> Doc | None:
    if doc is not None:
        doc.pop("_id", None)
    return doc


def _is_duplicate(exc: BaseException) -> bool:
    if isinstance(exc, DuplicateKeyError):
        return True
    if isinstance(exc, BulkWriteError):
        errors = (exc.details or {}).get("writeErrors") or []
        return any(e.get("code") == _DUPLICATE_KEY for e in errors)
    return False


@contextmanager
def translate_errors(coll: str) -> Iterator[None]:
    """Driver errors → engine errors: duplicate key → 409, unreachable/slow → 503."""
    try:
        yield
    except (DuplicateKeyError, BulkWriteError) as exc:
        if _is_duplicate(exc):
            raise ConcurrentModification(f"duplicate key in {coll}",
                                         details={"collection": coll}) from None
        raise
    except _UNAVAILABLE as exc:
        raise StoreUnavailable(f"database unavailable: {type(exc).__name__}",
                               details={"collection": coll}) from exc


def _make_client(driver: str, uri: str, **options: Any) -> Any:
    if driver == "motor":
        from motor.motor_asyncio import AsyncIOMotorClient

        return AsyncIOMotorClient(uri, **options)
    if driver == "pymongo_async":
        from pymongo import AsyncMongoClient

        return AsyncMongoClient(uri, **options)
    raise ValueError(f"unknown MongoDB driver {driver!r}; expected one of {DRIVERS}")


class MongoAdapter:
    """Async collection operations on one database of one client (create it on the event loop)."""

    def __init__(self, client: Any, database: str, *, driver: str = "motor",
                 write_concern: WriteConcern | None = None,
                 durable_collections: frozenset[str] = DURABLE_COLLECTIONS,
                 breaker: CircuitBreaker | None = None) -> None:
        if driver not in DRIVERS:
            raise ValueError(f"unknown MongoDB driver {driver!r}; expected one of {DRIVERS}")
        self.client = client
        self.driver = driver
        self.database_name = database
        self._db = client[database]
        self._durable_wc = write_concern if write_concern is not None else parse_write_concern(
            "majority")
        self._durable = durable_collections
        self._collections: dict[str, Any] = {}
        self.breaker = breaker or CircuitBreaker()
        #: database commands sent, by collection (issue 13: benches and a test count a respond's)
        self.round_trips: Counter[str] = Counter()

    @classmethod
    def connect(cls, uri: str, database: str, *, driver: str = "motor",
                write_concern: str | int = "majority", journal: bool = True,
                wtimeout_ms: int = 10000, server_selection_timeout_ms: int = 10000,
                connect_timeout_ms: int | None = None, breaker_open_s: float = 1.0,
                max_pool_size: int = 100, app_name: str = "workflow-engine") -> MongoAdapter:
        """A client for `uri` with `tz_aware=True` (ST-3); connects lazily on first use.

        Request paths want a short `server_selection_timeout_ms`: the first call after the
        server went away waits up to about twice that (the driver selects again after the failed
        attempt), then the breaker answers the others at once."""
        client = _make_client(driver, uri, tz_aware=True, tzinfo=timezone.utc,
                              serverSelectionTimeoutMS=server_selection_timeout_ms,
                              connectTimeoutMS=connect_timeout_ms or server_selection_timeout_ms,
                              maxPoolSize=max_pool_size, appname=app_name)
        wc = parse_write_concern(write_concern, journal=journal, wtimeout_ms=wtimeout_ms)
        return cls(client, database, driver=driver, write_concern=wc,
                   breaker=CircuitBreaker(breaker_open_s))

    # ---- plumbing

    @contextmanager
    def _guard(self, coll: str) -> Iterator[None]:
        """The breaker around one call, then the driver's errors translated (translate_errors).
        Only an unreachable server opens the breaker: a slow one or a refused write proves the
        server answers."""
        self.round_trips[coll] += 1
        probe = self.breaker.before(coll)
        try:
            with translate_errors(coll):
                yield
        except StoreUnavailable as exc:
            if isinstance(exc.__cause__, (ConnectionFailure, AutoReconnect)):
                self.breaker.failed(f"{type(exc.__cause__).__name__}: {exc.__cause__}"[:300])
            else:
                self.breaker.succeeded()
            raise
        except (ConcurrentModification, PyMongoError):  # the server answered
            self.breaker.succeeded()
            raise
        except BaseException:  # cancelled: proves nothing
            self.breaker.abandoned(probe)
            raise
        self.breaker.succeeded()

    def _coll(self, name: str) -> Any:
        coll = self._collections.get(name)
        if coll is None:
            if name in self._durable:
                coll = self._db.get_collection(name, write_concern=self._durable_wc)
            else:
                coll = self._db.get_collection(name)
            self._collections[name] = coll
        return coll

    # ---- writes

    async def insert_one(self, coll: str, doc: Doc) -> None:
        with self._guard(coll):
            await self._coll(coll).insert_one(dict(doc))

    async def insert_many(self, coll: str, docs: list[Doc]) -> None:
        if not docs:
            return
        with self._guard(coll):
            await self._coll(coll).insert_many([dict(d) for d in docs], ordered=True)

    async def update_one(self, coll: str, filter: Doc, update: Doc, *,
                         upsert: bool = False) -> None:
        with self._guard(coll):
            await self._coll(coll).update_one(filter, update, upsert=upsert)

    async def find_one_and_update(self, coll: str, filter: Doc, update: Doc, *,
                                  upsert: bool = False, return_after: bool = True,
                                  projection: Doc | None = None) -> Doc | None:
        with self._guard(coll):
            doc = await self._coll(coll).find_one_and_update(
                filter, update, projection=_no_id(projection), upsert=upsert,
                return_document=ReturnDocument.AFTER if return_after else ReturnDocument.BEFORE)
        return _strip(doc)

    async def delete_many(self, coll: str, filter: Doc) -> int:
        with self._guard(coll):
            result = await self._coll(coll).delete_many(filter)
        return int(result.deleted_count)

    # ---- reads

    async def find(self, coll: str, filter: Doc, *, projection: Doc | None = None,
                   sort: Sort | None = None, skip: int = 0, limit: int = 0) -> list[Doc]:
        with self._guard(coll):
            cursor = self._coll(coll).find(filter, _no_id(projection))
            if sort:
                cursor = cursor.sort(list(sort))
            if skip:
                cursor = cursor.skip(skip)
            if limit:
                cursor = cursor.limit(limit)
            docs: list[Doc] = await cursor.to_list(None)
        for doc in docs:
            doc.pop("_id", None)
        return docs

    async def find_one(self, coll: str, filter: Doc, *, projection: Doc | None = None,
                       sort: Sort | None = None) -> Doc | None:
        found = await self.find(coll, filter, projection=projection, sort=sort, limit=1)
        return found[0] if found else None

    async def aggregate(self, coll: str, pipeline: list[Doc]) -> list[Doc]:
        with self._guard(coll):
            cursor = self._coll(coll).aggregate(list(pipeline))
            if inspect.isawaitable(cursor):  # PyMongo's AsyncCollection.aggregate
                cursor = await cursor
            docs: list[Doc] = await cursor.to_list(None)
        for doc in docs:
            doc.pop("_id", None)
        return docs

    async def count_documents(self, coll: str, filter: Doc) -> int:
        with self._guard(coll):
            return int(await self._coll(coll).count_documents(filter))

    # ---- administration

    async def create_index(self, coll: str, keys: Sort, *, unique: bool = False,
                           sparse: bool = False, expire_after_seconds: int | None = None,
                           name: str | None = None) -> None:
        """Idempotent for an identical definition (the server ignores an existing same index)."""
        kwargs: dict[str, Any] = {"unique": unique}
        if sparse:
            kwargs["sparse"] = True
        if expire_after_seconds is not None:
            kwargs["expireAfterSeconds"] = expire_after_seconds
        if name is not None:
            kwargs["name"] = name
        with self._guard(coll):
            await self._db.get_collection(coll).create_index(list(keys), **kwargs)

    async def ping(self) -> bool:
        with self._guard("admin"):
            reply = await self._db.command("ping")
        return bool(reply.get("ok"))

    async def drop_database(self) -> None:
        """Tests only: every contract test uses a database of its own."""
        with self._guard("admin"):
            await self.client.drop_database(self.database_name)
        self._collections.clear()

    async def close(self) -> None:
        result = self.client.close()
        if inspect.isawaitable(result):  # PyMongo's AsyncMongoClient.close
            await result
