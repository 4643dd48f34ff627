"""Write-behind for one engine operation on the production store (issue 13).

Each database call from an engine thread costs a round trip and a hop to the event loop. While a
thread's batch is open (`BridgeExecutor.batching`), its event inserts, its answer-record inserts
and its plain updates of the run document and of answer records are queued instead; the queue is
written before that thread's next call of any other kind (in the same hop) and when the
operation ends (the engine flushes before it releases the run's lock).

Events and updates keep their order: consecutive events go as one ordered `insert_many` under
the durable write concern, consecutive updates (the run projection, an answer's outcome) go
together. An answer record depends only on its `interaction_response` event, written before it
(queued earlier), and nothing depends on the record but its outcome: so queued records go last,
with the final updates, and an outcome queued for a queued record is written *in* it (one insert
instead of an insert and an update). A crash before a flush is a crash before those writes, which
recovery already handles: a response event without its record is completed on replay (engine.md
§7.2, §18.1).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from engine.errors import ConcurrentModification

Doc = dict[str, Any]
T = TypeVar("T")

#: collections whose plain (non-upsert) updates may wait for the flush: nothing in an operation
#: reads them back through the engine thread without a read (which flushes first)
DEFERRED_UPDATES: frozenset[str] = frozenset({"workflow_runs", "interaction_answers"})
ANSWERS = "interaction_answers"


class Writer(Protocol):
    async def insert_one(self, coll: str, doc: Doc) -> None: ...
    async def insert_many(self, coll: str, docs: list[Doc]) -> None: ...
    async def update_one(self, coll: str, filter: Doc, update: Doc, *,
                         upsert: bool = False) -> None: ...


@dataclass
class Update:
    coll: str
    filter: Doc
    update: Doc


@dataclass
class Record:
    """An answer record to insert."""

    doc: Doc

    def absorbs(self, filter: Doc, update: Doc) -> bool:
        """Apply a `$set`-only update of this very record to it (True) or leave it (False)."""
        if set(update) != {"$set"} or any(self.doc.get(k) != v for k, v in filter.items()):
            return False
        self.doc.update(update["$set"])
        return True


Item = Doc | Update | Record  # a Doc is an event to insert


class WriteQueue:
    """The calling thread's queued writes; `None` outside a batch."""

    def __init__(self) -> None:
        self._local = threading.local()

    def _items(self) -> list[Item] | None:
        items: list[Item] | None = getattr(self._local, "items", None)
        return items

    @property
    def open(self) -> bool:
        return self._items() is not None

    def start(self) -> None:
        self._local.items = []

    def stop(self) -> None:
        self._local.items = None

    def take(self) -> list[Item]:
        """The queued writes, leaving the queue empty (still open)."""
        items = self._items()
        if not items:
            return []
        self._local.items = []
        return items

    def add_event(self, doc: Doc) -> bool:
        items = self._items()
        if items is None:
            return False
        items.append(dict(doc))
        return True

    def add_record(self, doc: Doc) -> bool:
        items = self._items()
        if items is None:
            return False
        items.append(Record(dict(doc)))
        return True

    def add_update(self, coll: str, filter: Doc, update: Doc) -> bool:
        items = self._items()
        if items is None or coll not in DEFERRED_UPDATES:
            return False
        if coll == ANSWERS and any(isinstance(i, Record) and i.absorbs(filter, update)
                                   for i in items):
            return True
        items.append(Update(coll, filter, update))
        return True


async def _together(calls: list[Coroutine[Any, Any, None]]) -> None:
    results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


async def _events(db: Writer, events: list[Doc]) -> None:
    try:
        await db.insert_many("events", events)
    except ConcurrentModification:
        raise ConcurrentModification(
            "Another operation modified this run first; reload and try again",
            details={"workflow_run_id": events[0].get("workflow_run_id")}) from None


async def write_all(db: Writer, items: list[Item]) -> None:
    """The queued writes: events and updates in order (runs of each together), records last."""
    records = [i.doc for i in items if isinstance(i, Record)]
    rest = [i for i in items if not isinstance(i, Record)]
    start = 0
    while start < len(rest):
        updates = isinstance(rest[start], Update)
        end = start
        while end < len(rest) and isinstance(rest[end], Update) == updates:
            end += 1
        if updates:
            last = end == len(rest)
            calls = [db.update_one(u.coll, u.filter, u.update) for u in rest[start:end]
                     if isinstance(u, Update)]
            if last:
                calls += [db.insert_one(ANSWERS, doc) for doc in records]
                records = []
            await _together(calls)
        else:
            await _events(db, [e for e in rest[start:end] if isinstance(e, dict)])
        start = end
    if records:
        await _together([db.insert_one(ANSWERS, doc) for doc in records])


async def after_writes(db: Writer, items: list[Item], then: Coroutine[Any, Any, T]) -> T:
    """Write the queue, then run `then` (closed unawaited when a write fails)."""
    try:
        await write_all(db, items)
    except BaseException:
        then.close()
        raise
    return await then
