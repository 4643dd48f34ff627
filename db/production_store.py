"""`ProductionStore`: the engine's sync `Store` port over the async adapter (ST-10…ST-13).

The engine runs in an engine-pool thread; every sync executor call submits the adapter's
coroutine to the server's event loop and waits for it (ST-11). All query logic stays in
`QueryStore` and db/queries.py, so this store differs from the virtual one only in its executor
(ST-1). Read-only routes may await `AsyncReads` (the same query shapes) on the loop directly.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Coroutine, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timezone
from typing import Any, Protocol, TypeVar

from db import reads
from db.indexes import INDEXES
from db.memory_adapter import MemoryAdapter
from db.mongo_adapter import MongoAdapter
from db.store_impl import QueryStore
from db.write_batch import WriteQueue, after_writes, write_all
from engine.errors import ConcurrentModification, StoreUnavailable

Doc = dict[str, Any]
Sort = list[tuple[str, int]]
Lineage = list[dict[str, Any]]
T = TypeVar("T")
log = logging.getLogger(__name__)


class StoreAdapter(Protocol):
    """What `MongoAdapter` and `MemoryAdapter` both offer (ST-10)."""

    driver: str
    database_name: str

    async def insert_one(self, coll: str, doc: Doc) -> None: ...
    async def insert_many(self, coll: str, docs: list[Doc]) -> None: ...
    async def update_one(self, coll: str, filter: Doc, update: Doc, *,
                         upsert: bool = False) -> None: ...
    async def find_one_and_update(self, coll: str, filter: Doc, update: Doc, *,
                                  upsert: bool = False, return_after: bool = True,
                                  projection: Doc | None = None) -> Doc | None: ...
    async def delete_many(self, coll: str, filter: Doc) -> int: ...
    async def find(self, coll: str, filter: Doc, *, projection: Doc | None = None,
                   sort: Sort | None = None, skip: int = 0, limit: int = 0) -> list[Doc]: ...
    async def find_one(self, coll: str, filter: Doc, *, projection: Doc | None = None,
                       sort: Sort | None = None) -> Doc | None: ...
    async def aggregate(self, coll: str, pipeline: list[Doc]) -> list[Doc]: ...
    async def count_documents(self, coll: str, filter: Doc) -> int: ...
    async def create_index(self, coll: str, keys: Sort, *, unique: bool = False,
                           sparse: bool = False, expire_after_seconds: int | None = None,
                           name: str | None = None) -> None: ...
    async def ping(self) -> bool: ...
    async def drop_database(self) -> None: ...
    async def close(self) -> None: ...


def open_adapter(uri: str | None, database: str = "workflow_engine", *, driver: str = "motor",
                 write_concern: str | int = "majority", **options: Any) -> StoreAdapter:
    """`WFE_MONGODB_URI` set → a driver client; unset → the embedded in-memory backend.

    Call it on the event loop that will run the adapter's coroutines (drivers bind to a loop).
    """
    if not uri:
        log.warning("WFE_MONGODB_URI is not set: using an in-memory database; "
                    "NOTHING IS PERSISTED and all data is lost when the server stops")
        return MemoryAdapter(database)
    return MongoAdapter.connect(uri, database, driver=driver, write_concern=write_concern,
                                **options)


class BridgeDeadlock(RuntimeError):
    """A sync store method was called on the event-loop thread it would have to wait for."""


class BridgeExecutor:
    """`CollectionExecutor` whose sync calls run the adapter's coroutines on `loop` (ST-11).

    Inside `batching()` a thread's event and answer-record inserts and run/answer updates are
    queued and written before its next other call, in the same hop (db/write_batch.py).
    """

    def __init__(self, adapter: StoreAdapter, loop: asyncio.AbstractEventLoop,
                 call_timeout_s: float) -> None:
        self.adapter = adapter
        self.loop = loop
        self.call_timeout_s = call_timeout_s
        self.queue = WriteQueue()

    @contextmanager
    def batching(self) -> Iterator[None]:
        """Queue this thread's writes until its next other call, `flush()` or the scope's end."""
        if self.queue.open:
            yield  # nested: the outer scope flushes
            return
        self.queue.start()
        try:
            yield
            self.flush()
        except BaseException:
            try:  # written as they would have been without the batch; the error still wins
                self.flush()
            except Exception:  # the original exception propagates
                log.warning("writes of a failed operation could not be made", exc_info=True)
            raise
        finally:
            self.queue.stop()

    def flush(self) -> None:
        """Write this thread's queued writes now (nothing when there are none)."""
        items = self.queue.take()
        if items:
            self._run(write_all(self.adapter, items))

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run an adapter coroutine (or several, gathered) on the loop and wait for it."""
        return self._run(coro)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        items = self.queue.take()
        if items:  # queued writes go first, in the same hop
            coro = after_writes(self.adapter, items, coro)
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            coro.close()
            raise BridgeDeadlock("sync store call on the event-loop thread would deadlock; "
                                 "run the engine in the worker pool or use AsyncReads")
        try:
            future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        except RuntimeError as exc:  # loop closed
            coro.close()
            raise StoreUnavailable("database bridge is closed") from exc
        try:
            return future.result(timeout=self.call_timeout_s)
        except concurrent.futures.TimeoutError:
            if not future.done():
                future.cancel()
                raise StoreUnavailable(
                    f"database call exceeded {self.call_timeout_s} s",
                    details={"timeout_s": self.call_timeout_s}) from None
            raise
        except concurrent.futures.CancelledError as exc:
            raise StoreUnavailable("database call was cancelled") from exc

    def insert_one(self, coll: str, doc: Doc) -> None:
        if coll == "events" and self.queue.add_event(doc):
            return
        if coll == "interaction_answers" and self.queue.add_record(doc):
            return
        self._run(self.adapter.insert_one(coll, doc))

    def insert_many(self, coll: str, docs: list[Doc]) -> None:
        self._run(self.adapter.insert_many(coll, docs))

    def find(self, coll: str, filter: Doc, *, projection: Doc | None = None,
             sort: Sort | None = None, skip: int = 0, limit: int = 0) -> list[Doc]:
        return self._run(self.adapter.find(coll, filter, projection=projection, sort=sort,
                                           skip=skip, limit=limit))

    def find_one(self, coll: str, filter: Doc, *, projection: Doc | None = None,
                 sort: Sort | None = None) -> Doc | None:
        return self._run(self.adapter.find_one(coll, filter, projection=projection, sort=sort))

    def update_one(self, coll: str, filter: Doc, update: Doc, *, upsert: bool = False) -> None:
        if not upsert and self.queue.add_update(coll, filter, update):
            return
        self._run(self.adapter.update_one(coll, filter, update, upsert=upsert))

    def find_one_and_update(self, coll: str, filter: Doc, update: Doc, *, upsert: bool = False,
                            return_after: bool = True,
                            projection: Doc | None = None) -> Doc | None:
        return self._run(self.adapter.find_one_and_update(
            coll, filter, update, upsert=upsert, return_after=return_after,
            projection=projection))

    def aggregate(self, coll: str, pipeline: list[Doc]) -> list[Doc]:
        return self._run(self.adapter.aggregate(coll, pipeline))

    def delete_many(self, coll: str, filter: Doc) -> int:
        return self._run(self.adapter.delete_many(coll, filter))

    def count_documents(self, coll: str, filter: Doc) -> int:
        return self._run(self.adapter.count_documents(coll, filter))

    def create_index(self, coll: str, keys: Sort, *, unique: bool = False, sparse: bool = False,
                     expire_after_seconds: int | None = None, name: str | None = None) -> None:
        self._run(self.adapter.create_index(coll, keys, unique=unique, sparse=sparse,
                                            expire_after_seconds=expire_after_seconds,
                                            name=name))


class ProductionStore(QueryStore):
    """The engine's `Store` for the production server: call it from worker threads only."""

    def __init__(self, adapter: StoreAdapter, loop: asyncio.AbstractEventLoop,
                 call_timeout_s: float = 30.0) -> None:
        self.bridge = BridgeExecutor(adapter, loop, call_timeout_s)
        super().__init__(self.bridge)
        self.adapter = adapter
        self.loop = loop
        self.reads = AsyncReads(adapter)

    def run_and_events_from(self, run_id: str, sequence: int) -> tuple[Doc | None, list[Doc]]:
        """Both reads of a fold check in one hop, at once (they are independent)."""
        async def both() -> tuple[Doc | None, list[Doc]]:
            run, events = await asyncio.gather(self.reads.get_run(run_id),
                                               self.reads.events_from(run_id, sequence))
            return run, events

        return self.bridge.call(both())

    def batched_events(self) -> AbstractContextManager[None]:
        """The calling thread's writes sent behind for the scope (`BridgeExecutor.batching`)."""
        return self.bridge.batching()


# ---- start-up migrations (ST-13)

MIGRATIONS: tuple[tuple[str, str], ...] = (
    ("m_0001_initial_indexes", "Create every index of storage.md §3.1"),
    ("m_0002_task_run_index", "Index task_queue by payload.workflow_run_id, created_at"),
)


async def ensure_indexes(adapter: StoreAdapter, now: datetime | None = None) -> list[str]:
    """Create every §3.1 index (idempotent) and record the migrations; returns new records."""
    for ix in INDEXES:
        await adapter.create_index(ix.collection, list(ix.keys), unique=ix.unique,
                                   sparse=ix.sparse, expire_after_seconds=ix.expire_after_seconds,
                                   name=ix.name)
    applied_at = now or datetime.now(timezone.utc)
    applied_at = applied_at.replace(microsecond=applied_at.microsecond // 1000 * 1000)
    recorded: list[str] = []
    for migration_id, description in MIGRATIONS:
        if await adapter.find_one("schema_migrations", {"migration_id": migration_id}):
            continue
        try:  # two servers starting together: the unique key lets exactly one record it
            await adapter.insert_one("schema_migrations", {
                "migration_id": migration_id, "description": description,
                "applied_at": applied_at})
        except ConcurrentModification:
            continue
        recorded.append(migration_id)
    return recorded


class AsyncReads:
    """The read plans of db/reads.py awaited on the event loop (the read routes, ST-10).

    The engine's store runs the very same plans through the bridge, so both paths return the
    same documents; routes read through this and never through the driver adapter.
    """

    def __init__(self, adapter: StoreAdapter) -> None:
        self._adapter = adapter

    async def _step(self, step: reads.Step) -> Any:
        db = self._adapter
        if isinstance(step, reads.Find):
            spec = step.spec
            return await db.find(spec.collection, spec.filter, projection=spec.projection,
                                 sort=spec.sort, skip=spec.skip, limit=spec.limit)
        if isinstance(step, reads.FindOne):
            return await db.find_one(step.collection, step.filter, projection=step.projection,
                                     sort=step.sort)
        return await db.count_documents(step.collection, step.filter)

    async def _read(self, plan: reads.Plan[T]) -> T:
        try:
            step = next(plan)
            while True:
                step = plan.send(await self._step(step))
        except StopIteration as done:
            result: T = done.value
            return result

    async def get_run(self, run_id: str) -> Doc | None:
        return await self._read(reads.get_run(run_id))

    async def find_active_run(self, user_id: str, project_name: str, template_id: str,
                              mock: bool) -> Doc | None:
        return await self._read(reads.find_active_run(user_id, project_name, template_id, mock))

    async def list_runs(self, user_id: str, active_only: bool, include_mock: bool, limit: int,
                        offset: int) -> list[Doc]:
        return await self._read(reads.list_runs(user_id, active_only, include_mock, limit,
                                                offset))

    async def page_runs(self, user_id: str, include_mock: bool, updated_since: datetime | None,
                        limit: int, offset: int) -> tuple[list[Doc], int]:
        """One page of the user's top-level runs and the total count of the same filter."""
        return await self._read(reads.page_runs(user_id, include_mock, updated_since, limit,
                                                offset))

    async def list_child_runs(self, parent_run_id: str) -> list[Doc]:
        return await self._read(reads.list_child_runs(parent_run_id))

    async def get_generated_content(self, content_id: str) -> Doc | None:
        return await self._read(reads.get_generated_content(content_id))

    async def list_run_media(self, run_id: str) -> tuple[list[Doc], list[Doc]]:
        return await self._read(reads.list_run_media(run_id))

    async def get_branch(self, branch_id: str) -> Doc | None:
        return await self._read(reads.get_branch(branch_id))

    async def events_from(self, run_id: str, sequence: int) -> list[Doc]:
        return await self._read(reads.events_from(run_id, sequence))

    async def lineage_events(self, run_id: str, lineage: Lineage,
                             event_types: list[str] | None = None) -> list[Doc]:
        return await self._read(reads.lineage_events(run_id, lineage, event_types))

    async def find_events(self, run_id: str, branch_ids: list[str] | None,
                          event_type: str | None, module_name: str | None,
                          after_sequence: int | None, limit: int) -> tuple[list[Doc], int]:
        return await self._read(reads.find_events(run_id, branch_ids, event_type, module_name,
                                                  after_sequence, limit))

    async def max_sequence(self, run_id: str) -> int:
        return await self._read(reads.max_sequence(run_id))

    async def find_answers(self, run_id: str, interaction_id: str) -> list[Doc]:
        return await self._read(reads.find_answers(run_id, interaction_id))

    async def get_template(self, template_id: str) -> Doc | None:
        return await self._read(reads.get_template(template_id))

    async def find_template(self, user_id: str, name: str) -> Doc | None:
        return await self._read(reads.find_template(user_id, name))

    async def list_templates(self, user_id: str) -> list[Doc]:
        return await self._read(reads.list_templates(user_id))

    async def get_version(self, version_id: str) -> Doc | None:
        return await self._read(reads.get_version(version_id))

    async def list_versions(self, template_id: str, version_types: list[str],
                            limit: int) -> list[Doc]:
        return await self._read(reads.list_versions(template_id, version_types, limit))

    async def list_files(self, run_id: str, lineage: Lineage) -> list[Doc]:
        return await self._read(reads.list_files(run_id, lineage))

    async def get_file(self, file_id: str) -> Doc | None:
        return await self._read(reads.get_file(file_id))

    async def list_token_usage(self, run_id: str) -> list[Doc]:
        return await self._read(reads.list_token_usage(run_id))
