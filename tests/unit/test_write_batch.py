"""The production store's write-behind (db/write_batch.py): order, merging, lost races."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from db.write_batch import WriteQueue, write_all
from engine.errors import ConcurrentModification

Doc = dict[str, Any]


class Recorder:
    """An adapter that records its writes in the order they start; `fail` names a collection
    whose next write raises a duplicate key."""

    def __init__(self, fail: str | None = None) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.fail = fail

    async def _call(self, op: str, coll: str, what: Any) -> None:
        self.calls.append((op, coll, what))
        await asyncio.sleep(0)
        if coll == self.fail:
            raise ConcurrentModification(f"duplicate key in {coll}")

    async def insert_one(self, coll: str, doc: Doc) -> None:
        await self._call("insert_one", coll, doc)

    async def insert_many(self, coll: str, docs: list[Doc]) -> None:
        await self._call("insert_many", coll, [d["sequence"] for d in docs])

    async def update_one(self, coll: str, filter: Doc, update: Doc, *,
                         upsert: bool = False) -> None:
        await self._call("update_one", coll, update)


def _event(seq: int) -> Doc:
    return {"workflow_run_id": "wf", "sequence": seq, "event_id": f"e{seq}"}


KEY = {"workflow_run_id": "wf", "interaction_id": "i1", "branch_id": "b1"}


def _respond_queue() -> WriteQueue:
    """What one production respond queues: response event, answer record, three events, the
    run projection, the answer's outcome."""
    queue = WriteQueue()
    queue.start()
    assert queue.add_event(_event(5))
    assert queue.add_record({**KEY, "outcome": None})
    for seq in (6, 7, 8):
        assert queue.add_event(_event(seq))
    assert queue.add_update("workflow_runs", {"workflow_run_id": "wf"}, {"$set": {"status": "x"}})
    assert queue.add_update("interaction_answers", KEY, {"$set": {"outcome": {"ok": 1}}})
    return queue


def test_events_first_then_projection_and_the_record_with_its_outcome() -> None:
    db = Recorder()
    asyncio.run(write_all(db, _respond_queue().take()))
    assert db.calls == [
        ("insert_many", "events", [5, 6, 7, 8]),
        ("update_one", "workflow_runs", {"$set": {"status": "x"}}),
        ("insert_one", "interaction_answers", {**KEY, "outcome": {"ok": 1}}),
    ]


def test_updates_never_pass_the_events_around_them() -> None:
    queue = WriteQueue()
    queue.start()
    queue.add_event(_event(1))
    queue.add_update("workflow_runs", {"workflow_run_id": "wf"}, {"$set": {"current_branch_id": "b2"}})
    queue.add_event(_event(2))
    db = Recorder()
    asyncio.run(write_all(db, queue.take()))
    assert [c[0] for c in db.calls] == ["insert_many", "update_one", "insert_many"]


def test_another_records_outcome_is_an_update() -> None:
    queue = WriteQueue()
    queue.start()
    queue.add_record({**KEY, "outcome": None})
    queue.add_update("interaction_answers", {**KEY, "branch_id": "b0"}, {"$set": {"outcome": 1}})
    db = Recorder()
    asyncio.run(write_all(db, queue.take()))
    calls = {op: what for op, _coll, what in db.calls}
    assert calls == {"insert_one": {**KEY, "outcome": None}, "update_one": {"$set": {"outcome": 1}}}


def test_a_lost_race_writes_nothing_after_the_events() -> None:
    db = Recorder(fail="events")
    with pytest.raises(ConcurrentModification) as exc:
        asyncio.run(write_all(db, _respond_queue().take()))
    assert "Another operation modified this run first" in exc.value.message
    assert db.calls == [("insert_many", "events", [5, 6, 7, 8])]


def test_outside_a_batch_nothing_is_queued() -> None:
    queue = WriteQueue()
    assert not queue.add_event(_event(1))
    assert not queue.add_record(dict(KEY))
    queue.start()
    assert not queue.add_update("workflow_files", {}, {"$set": {}})  # only runs and answers wait
    assert queue.take() == []
    queue.stop()
    assert not queue.open


class FlushLog:
    """A store that notes when the engine asks it to make held-back writes."""

    def __init__(self, inner: Any, log: list[str]) -> None:
        self.inner, self.log = inner, log

    def flush(self) -> None:
        self.log.append("flush")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_the_engine_flushes_before_a_module_executes_and_before_it_releases_the_run() -> None:
    from engine.processor import StartCommand
    from tests.fakes_engine import PROBES, probe_engine, probe_workflow

    log: list[str] = []
    eng = probe_engine()
    eng.store = FlushLog(eng.store, log)
    PROBES["gen"] = lambda inputs, ctx: (log.append("execute"), {"items": [{"id": "a"}]})[1]
    try:
        eng.start(StartCommand(user_id="u", project_name="p", workflow=probe_workflow(),
                               mock=True))
    finally:
        PROBES.clear()
    assert "execute" in log
    assert log[log.index("execute") - 1] == "flush"
    assert log[-1] == "flush"  # the operation's end, under the run's lock
