"""The run projection written after an operation's answer, and the readers here that wait for it.

An operation's last flush (db/write_batch.py `split_behind`) waits for its events and answer
records, what makes the answer stored (ST-12, §18.1), and leaves the final run projection
update to a task on the event loop, so the HTTP answer does not wait for it (issue 13, P4). A
crash before it lands is a crash the engine already recovers from: the next operation on the
run rewrites a projection that does not match its events (`engine.operation.finish`).

In this process nobody sees it missing: every call of the production store on run documents
(the engine's reads and writes through the bridge, the routes' `AsyncReads`) first waits for
the trailing writes of the run it names (of every run when its filter names none, as a listing
does). Another server process may, for the millisecond or two it takes, read the previous
projection; the events and answers it reads are already the new ones.

A trailing write that fails is tried again (an update is idempotent), then logged: the run is
then as after a crash at that point, which the next operation repairs. Readers wait for the
retries too, so a late retry never lands after the next operation's projection.
"""

from __future__ import annotations

import asyncio
import logging

from db.write_batch import RUNS, Doc, Update, Writer

log = logging.getLogger(__name__)

#: pauses before trying a failed trailing write again (readers of the run wait meanwhile)
RETRY_PAUSES_S: tuple[float, ...] = (0.05, 0.2)


def _run_of(update: Update) -> str:
    return str(update.filter.get("workflow_run_id"))


class TrailingWrites:
    """The trailing writes in flight, by run id. Used on the event loop only."""

    def __init__(self, db: Writer, pauses: tuple[float, ...] = RETRY_PAUSES_S) -> None:
        self._db = db
        self._pauses = pauses
        self._by_run: dict[str, set[asyncio.Task[None]]] = {}
        #: trailing writes given up after every retry (logged; tests read it)
        self.abandoned = 0

    def start(self, updates: list[Update]) -> None:
        """Write `updates` (in order) in a task of their own."""
        runs = {_run_of(u) for u in updates}
        task = asyncio.ensure_future(self._write(updates))
        for run in runs:
            self._by_run.setdefault(run, set()).add(task)
        task.add_done_callback(lambda _: self._done(task, runs))

    def _done(self, task: asyncio.Task[None], runs: set[str]) -> None:
        for run in runs:
            tasks = self._by_run.get(run)
            if tasks is not None:
                tasks.discard(task)
                if not tasks:
                    del self._by_run[run]

    async def _write(self, updates: list[Update]) -> None:
        for update in updates:
            await self._one(update)

    async def _one(self, update: Update) -> None:
        for pause in (*self._pauses, None):
            try:
                await self._db.update_one(update.coll, update.filter, update.update)
                return
            except Exception:
                if pause is None:
                    self.abandoned += 1
                    log.error("the run projection of run %s could not be written after the "
                              "answer; the next operation on the run rewrites it",
                              _run_of(update), exc_info=True)
                    return
                await asyncio.sleep(pause)

    def pending(self, coll: str, filter: Doc) -> list[asyncio.Task[None]]:
        """The trailing writes a call on `coll` with `filter` must wait for."""
        if not self._by_run or coll != RUNS:
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
        await self.settle(RUNS, {})
