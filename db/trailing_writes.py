"""Writes that follow an operation's answer, and the readers in this process that wait for them.

An operation's last flush (db/write_batch.py `split_behind`) waits for its events, the durable
record of what it did, and leaves the final run projection and answer-record writes to a task on
the event loop, so the HTTP answer does not wait for a second round trip (issue 13, P4). A crash
before they land is a crash the engine already recovers from: a response event without its
record is completed on replay (engine.md §7.2, §18.1), and the next operation on the run rewrites
a projection that does not match its events (`engine.operation.finish`).

In this process nobody sees them missing: every call of the production store on the run
documents or the answer records (the engine's reads and writes through the bridge, the routes'
`AsyncReads`) first waits for the trailing writes of the run it names (of every run when its
filter names none, as a listing does). Another server process may, for the few milliseconds
they take, read the previous projection; the events it reads are already the new ones.

A trailing write that fails is tried again a few times (an update is idempotent; a record that
is already there was written by a replay), then logged: the run is left as after a crash at
that point, which the rules above repair.
"""

from __future__ import annotations

import asyncio
import logging

from db.write_batch import ANSWERS, DEFERRED_UPDATES, Doc, Item, Record, Update, Writer
from engine.errors import ConcurrentModification

log = logging.getLogger(__name__)

#: pauses before trying a failed trailing write again
RETRY_PAUSES_S: tuple[float, ...] = (0.05, 0.25, 1.0)


def _run_of(item: Item) -> str:
    doc = item.doc if isinstance(item, Record) else item.filter if isinstance(item, Update) \
        else item
    return str(doc.get("workflow_run_id"))


class TrailingWrites:
    """The trailing writes in flight, by run id. Used on the event loop only."""

    def __init__(self, db: Writer, pauses: tuple[float, ...] = RETRY_PAUSES_S) -> None:
        self._db = db
        self._pauses = pauses
        self._by_run: dict[str, set[asyncio.Task[None]]] = {}
        #: trailing writes given up after every retry (logged; tests read it)
        self.abandoned = 0

    def start(self, items: list[Item]) -> None:
        """Write `items` (updates and answer records) in a task of their own."""
        runs = {_run_of(i) for i in items}
        task = asyncio.ensure_future(self._write(items))
        for run in runs:
            self._by_run.setdefault(run, set()).add(task)
        task.add_done_callback(lambda _: self._done(task, runs))

    async def _write(self, items: list[Item]) -> None:
        await asyncio.gather(*(self._one(i) for i in items))

    def _done(self, task: asyncio.Task[None], runs: set[str]) -> None:
        for run in runs:
            tasks = self._by_run.get(run)
            if tasks is not None:
                tasks.discard(task)
                if not tasks:
                    del self._by_run[run]

    async def _one(self, item: Item) -> None:
        for pause in (*self._pauses, None):
            try:
                if isinstance(item, Record):
                    await self._db.insert_one(ANSWERS, item.doc)
                elif isinstance(item, Update):
                    await self._db.update_one(item.coll, item.filter, item.update)
                return
            except ConcurrentModification:
                return  # the record is there already: a replay of the answer wrote it
            except Exception:
                if pause is None:
                    self.abandoned += 1
                    log.error("a write after the answer on run %s failed; the run is as after "
                              "a crash there (the next operation or a replay repairs it)",
                              _run_of(item), exc_info=True)
                    return
                await asyncio.sleep(pause)

    def pending(self, coll: str, filter: Doc) -> list[asyncio.Task[None]]:
        """The trailing writes a call on `coll` with `filter` must wait for."""
        if not self._by_run or coll not in DEFERRED_UPDATES:
            return []
        run = filter.get("workflow_run_id")
        if isinstance(run, str):
            return list(self._by_run.get(run, ()))
        return list({t for tasks in self._by_run.values() for t in tasks})

    async def settle(self, coll: str, filter: Doc) -> None:
        """Wait until the trailing writes a call on `coll` with `filter` could see have landed."""
        tasks = self.pending(coll, filter)
        if tasks:
            await asyncio.wait(tasks)

    async def settle_all(self) -> None:
        """Wait for every trailing write (before the database client closes)."""
        await self.settle(ANSWERS, {})
