"""The run projection after the answer (db/trailing_writes.py): the split, waiting readers,
retries."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest

from db.memory_adapter import MemoryAdapter
from db.production_store import ProductionStore
from db.trailing_writes import TrailingWrites
from db.write_batch import Record, Update, split_behind, write_all
from engine.errors import StoreUnavailable
from tests.contract.secantus_server import LoopThread
from tests.unit.test_write_batch import KEY, Recorder, _event, _respond_queue

Doc = dict[str, Any]


def test_the_answer_waits_for_events_and_records_and_the_projection_follows() -> None:
    items = _respond_queue().take()
    lead, answers, trail = split_behind(items)
    assert [i["sequence"] for i in lead if isinstance(i, dict)] == [5, 6, 7, 8] and len(lead) == 4
    assert answers == [Record({**KEY, "outcome": {"ok": 1}})]  # the outcome written in it
    assert trail == [Update("workflow_runs", {"workflow_run_id": "wf"}, {"$set": {"status": "x"}})]
    whole, split = Recorder(), Recorder()
    asyncio.run(write_all(whole, _respond_queue().take()))

    async def in_order() -> None:
        await write_all(split, lead)
        await write_all(split, [*trail, *answers])

    asyncio.run(in_order())
    assert split.calls == whole.calls


def test_run_updates_between_events_and_answer_outcomes_stay_ahead_of_the_answer() -> None:
    upd = Update("workflow_runs", {"workflow_run_id": "wf"}, {"$set": {"current_branch_id": "b"}})
    outcome = Update("interaction_answers", {**KEY, "branch_id": "b0"}, {"$set": {"outcome": 1}})
    lead, answers, trail = split_behind([_event(1), upd, _event(2), Record({**KEY}), outcome])
    assert lead == [_event(1), upd, _event(2)]
    assert answers == [outcome, Record({**KEY})] and trail == []


class Flaky:
    """Fails `fails` writes with a store outage, then records them; `gate` holds them."""

    def __init__(self, fails: int = 0) -> None:
        self.fails, self.error = fails, StoreUnavailable("down")
        self.tries = 0
        self.written: list[tuple[str, Doc]] = []
        self.gate: asyncio.Event | None = None

    async def _write(self, coll: str, doc: Doc) -> None:
        self.tries += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fails:
            self.fails -= 1
            raise self.error
        self.written.append((coll, doc))

    async def insert_one(self, coll: str, doc: Doc) -> None:
        await self._write(coll, doc)

    async def insert_many(self, coll: str, docs: list[Doc]) -> None:
        raise AssertionError("events never trail an answer")

    async def update_one(self, coll: str, filter: Doc, update: Doc, *,
                         upsert: bool = False) -> None:
        await self._write(coll, update)


RUN_UPDATE = Update("workflow_runs", {"workflow_run_id": "wf"}, {"$set": {"status": "x"}})


def test_a_reader_of_the_run_waits_for_its_trailing_writes_and_others_do_not() -> None:
    async def scenario() -> None:
        db = Flaky()
        db.gate = asyncio.Event()
        trailing = TrailingWrites(db)
        trailing.start([RUN_UPDATE])
        assert trailing.pending("events", {"workflow_run_id": "wf"}) == []
        assert trailing.pending("interaction_answers", {"workflow_run_id": "wf"}) == []
        assert trailing.pending("workflow_runs", {"workflow_run_id": "other"}) == []
        assert len(trailing.pending("workflow_runs", {"workflow_run_id": "wf"})) == 1
        assert len(trailing.pending("workflow_runs", {"user_id": "u"})) == 1  # a listing
        waiter = asyncio.ensure_future(trailing.settle("workflow_runs", {"workflow_run_id": "wf"}))
        await asyncio.sleep(0.01)
        assert not waiter.done() and db.written == []
        db.gate.set()
        await asyncio.wait_for(waiter, 1)
        assert db.written == [("workflow_runs", {"$set": {"status": "x"}})]
        assert trailing.pending("workflow_runs", {}) == []

    asyncio.run(scenario())


def test_a_failed_trailing_write_is_tried_again() -> None:
    db = Flaky(fails=2)
    trailing = TrailingWrites(db, pauses=(0.0, 0.0, 0.0))

    async def scenario() -> None:
        trailing.start([RUN_UPDATE])
        await trailing.settle_all()

    asyncio.run(scenario())
    assert db.written == [("workflow_runs", {"$set": {"status": "x"}})]
    assert db.tries == 3 and trailing.abandoned == 0


def test_a_write_that_keeps_failing_is_logged_and_given_up(
        caplog: pytest.LogCaptureFixture) -> None:
    db = Flaky(fails=99)
    trailing = TrailingWrites(db, pauses=(0.0, 0.0))

    async def scenario() -> None:
        trailing.start([RUN_UPDATE])
        await trailing.settle_all()

    with caplog.at_level(logging.ERROR, logger="db.trailing_writes"):
        asyncio.run(scenario())
    assert db.tries == 3 and db.written == [] and trailing.abandoned == 1
    assert "the run projection of run wf could not be written" in caplog.text


class GatedMemory(MemoryAdapter):
    """Holds run-document updates until `release` is set (a slow trailing write)."""

    def __init__(self) -> None:
        super().__init__("gated")
        self.release = threading.Event()

    async def update_one(self, coll: str, filter: Doc, update: Doc, *,
                         upsert: bool = False) -> None:
        while coll == "workflow_runs" and not self.release.is_set():
            await asyncio.sleep(0.002)
        await super().update_one(coll, filter, update, upsert=upsert)


def test_the_last_flush_returns_after_the_events_and_readers_see_the_rest(
        loop_thread: LoopThread) -> None:
    adapter = GatedMemory()
    store = ProductionStore(adapter, loop_thread.loop, 5.0)
    loop_thread.run(adapter.insert_one("workflow_runs", {"workflow_run_id": "wf", "status": "a"}))
    with store.batched_events():
        store.append_event(_event(1))
        store.update_run("wf", {"status": "b"})
        store.insert_answer({**KEY, "outcome": None})
        store.flush(behind=True)  # returns while the projection is held
    assert [e["sequence"] for e in loop_thread.run(adapter.find("events", {}))] == [1]
    assert len(loop_thread.run(adapter.find("interaction_answers", {}))) == 1  # before the answer
    seen: list[Any] = []
    engine_read = threading.Thread(target=lambda: seen.append(store.get_run("wf")))
    engine_read.start()
    route_read = asyncio.run_coroutine_threadsafe(store.reads.get_run("wf"), loop_thread.loop)
    engine_read.join(0.1)
    assert engine_read.is_alive() and not route_read.done()
    adapter.release.set()
    engine_read.join(5)
    assert seen[0]["status"] == "b" and route_read.result(5)["status"] == "b"
    assert store.find_answers("wf", "i1")[0]["branch_id"] == "b1"
