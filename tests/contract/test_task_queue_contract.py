"""`task_queue` on every store kind (storage.md §3.1 row, ST-1): the media job queue's shapes.

The production kinds run `db.task_queue.TaskQueue` on the store's own adapter, on the loop that
owns it. The virtual databases have no `task_queue` (BLOB-8): there a blob carrying a task is
refused, which is how the suite treats every production-only collection.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from db.task_queue import MEDIA_ACTOR, TaskQueue, new_task_doc
from tests.contract.test_store_unique_keys import _assert_blob_refuses

NOW = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)
RUN = "wf_" + "a" * 32


def ts(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def task(n: int, run_id: str = RUN, created: int = 0) -> dict[str, Any]:
    return new_task_doc(
        task_id=f"tq_{n:032x}", actor=MEDIA_ACTOR, concurrency_identifier="leonardo",
        payload={"user_id": "usr_1", "workflow_run_id": run_id, "interaction_id": "i1",
                 "sub_action_id": "image_generation", "params": {"provider": "leonardo"}},
        now=ts(created))


@pytest.fixture
def tq(store: Any, store_kind: str, request: pytest.FixtureRequest) -> Any:
    """(queue, run) for production kinds; None for the virtual kinds (checked by the caller)."""
    if store_kind.startswith("virtual"):
        return None
    loop = request.getfixturevalue("loop_thread")
    return TaskQueue(store.adapter), loop.run


def test_two_claims_of_one_task_exactly_one_wins(tq: Any) -> None:
    if tq is None:
        _assert_blob_refuses("task_queue", task(1))
        return
    queue, run = tq
    run(queue.insert(task(1)))

    async def both() -> list[Any]:
        return list(await asyncio.gather(queue.claim(task(1)["task_id"], "w_a", ts(1)),
                                         queue.claim(task(1)["task_id"], "w_b", ts(1))))

    results = run(both())
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    won = winners[0]
    assert won["status"] == "processing" and won["worker_id"] in ("w_a", "w_b")
    assert won["started_at"] == ts(1) and won["heartbeat_at"] == ts(1)
    assert "_id" not in won
    # a later claim by anyone fails too; the stored owner is the winner
    assert run(queue.claim(task(1)["task_id"], "w_c", ts(2))) is None
    assert run(queue.get(task(1)["task_id"]))["worker_id"] == won["worker_id"]


def test_heartbeat_progress_and_finish_are_owner_guarded(tq: Any) -> None:
    if tq is None:
        _assert_blob_refuses("task_queue", task(2))
        return
    queue, run = tq
    tid = task(2)["task_id"]
    run(queue.insert(task(2)))
    assert run(queue.heartbeat(tid, "w_a", ts(1))) is False  # not claimed yet
    assert run(queue.claim(tid, "w_a", ts(1))) is not None
    assert run(queue.heartbeat(tid, "w_b", ts(2), {"message": "x"})) is False
    assert run(queue.heartbeat(tid, "w_a", ts(3), {"message": "half"})) is True
    doc = run(queue.get(tid))
    assert doc["heartbeat_at"] == ts(3) and doc["progress"] == {"message": "half"}
    assert run(queue.finish(tid, "w_b", "completed", {"ok": 1}, None, ts(4))) is None
    done = run(queue.finish(tid, "w_a", "completed", {"ok": 1}, None, ts(5)))
    assert done["status"] == "completed" and done["result"] == {"ok": 1}
    assert done["completed_at"] == ts(5)
    # finished: neither a heartbeat nor a second finish changes it
    assert run(queue.heartbeat(tid, "w_a", ts(6))) is False
    assert run(queue.finish(tid, "w_a", "failed", None, {"m": 1}, ts(7))) is None
    assert run(queue.get(tid))["status"] == "completed"


def test_finish_unclaimed_and_list_by_run(tq: Any) -> None:
    if tq is None:
        _assert_blob_refuses("task_queue", task(3))
        return
    queue, run = tq
    run(queue.insert(task(4, created=2)))
    run(queue.insert(task(3, created=1)))
    run(queue.insert(task(5, run_id="wf_" + "b" * 32)))
    cancelled = run(queue.finish(task(3)["task_id"], None, "cancelled", None,
                                 {"error_type": "cancelled"}, ts(3)))
    assert cancelled["status"] == "cancelled"
    assert run(queue.claim(task(3)["task_id"], "w_a", ts(4))) is None
    listed = run(queue.list_by_run(RUN))
    assert [d["task_id"] for d in listed] == [task(3)["task_id"], task(4)["task_id"]]
    with pytest.raises(ValueError):
        run(queue.finish(task(4)["task_id"], None, "processing", None, None, ts(5)))


def test_stale_sweep_fails_only_silent_processing_tasks(tq: Any) -> None:
    if tq is None:
        _assert_blob_refuses("task_queue", task(6))
        return
    queue, run = tq
    for n in (6, 7, 8):
        run(queue.insert(task(n)))
    run(queue.claim(task(6)["task_id"], "w_a", ts(0)))   # silent since t=0
    run(queue.claim(task(7)["task_id"], "w_b", ts(0)))
    run(queue.heartbeat(task(7)["task_id"], "w_b", ts(100)))  # alive
    lost = run(queue.sweep_stale(ts(60), ts(101)))
    assert lost == [task(6)["task_id"]]
    doc = run(queue.get(task(6)["task_id"]))
    assert doc["status"] == "failed" and doc["error"]["message"] == "worker lost"
    assert run(queue.get(task(7)["task_id"]))["status"] == "processing"
    assert run(queue.get(task(8)["task_id"]))["status"] == "queued"
    # the lost worker can no longer write
    assert run(queue.finish(task(6)["task_id"], "w_a", "completed", {}, None, ts(102))) is None
    # the lost task waits for its sub-action to be closed, once
    assert [d["task_id"] for d in run(queue.lost_to_close())] == [task(6)["task_id"]]
    assert run(queue.mark_lineage_closed(task(6)["task_id"])) is True
    assert run(queue.mark_lineage_closed(task(6)["task_id"])) is False
    assert run(queue.lost_to_close()) == []
    assert run(queue.get(task(6)["task_id"]))["lineage_closed"] is True
    # a task failed for any other reason is never listed
    run(queue.claim(task(8)["task_id"], "w_c", ts(101)))
    run(queue.finish(task(8)["task_id"], "w_c", "failed", None, {"error_type": "x"}, ts(102)))
    assert run(queue.lost_to_close()) == []
