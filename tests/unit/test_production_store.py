"""ProductionStore bridge, adapters and start-up indexes (ST-10…ST-13, engine.md §18.2).

Wire cases run against the session's secantusdb server with both drivers; the in-memory
adapter is the embedded default of README §5.2.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
from pymongo import MongoClient

from db.indexes import INDEXES
from db.memory_adapter import MemoryAdapter
from db.mongo_adapter import MongoAdapter, parse_write_concern
from db.production_store import BridgeDeadlock, ProductionStore, ensure_indexes, open_adapter
from engine.errors import ConcurrentModification, StoreUnavailable
from tests.contract.secantus_server import LoopThread

NOW = datetime(2026, 3, 4, 5, 6, 7, 891000, tzinfo=timezone.utc)
DRIVERS = ["motor", "pymongo_async"]


@pytest.fixture(params=DRIVERS)
def wire(request: pytest.FixtureRequest, secantus_uri: str,
         loop_thread: LoopThread) -> Iterator[MongoAdapter]:
    """A fresh database on the real server through one driver; dropped afterwards."""
    name = f"unit_{uuid.uuid4().hex[:16]}"

    async def connect() -> MongoAdapter:
        return MongoAdapter.connect(secantus_uri, name, driver=str(request.param))

    adapter = loop_thread.run(connect())
    yield adapter

    async def drop() -> None:
        await adapter.drop_database()
        await adapter.close()

    loop_thread.run(drop())


class SlowAdapter(MemoryAdapter):
    """`find`/`find_one` never answer in time: stands in for a stalled database."""

    def __init__(self) -> None:
        super().__init__("slow")
        self.cancelled = asyncio.Event()

    async def find(self, coll: str, filter: dict[str, Any], **kwargs: Any) -> list[Any]:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        return []

    async def find_one(self, coll: str, filter: dict[str, Any], **kwargs: Any) -> Any:
        found = await self.find(coll, filter)
        return found[0] if found else None


def run_doc(run_id: str) -> dict[str, Any]:
    return {"workflow_run_id": run_id, "user_id": "usr_1", "parent_workflow_run_id": None,
            "status": "processing", "mock": False, "created_at": NOW, "updated_at": NOW}


# ---- ST-11: the bridge

def test_sync_call_on_event_loop_thread_raises_immediately_st11(loop_thread: LoopThread) -> None:
    store = ProductionStore(MemoryAdapter(), loop_thread.loop, 5.0)

    async def from_the_loop() -> BaseException | None:
        started = time.monotonic()
        try:
            store.get_run("wf_x")
        except BridgeDeadlock as exc:
            assert time.monotonic() - started < 0.5
            return exc
        return None

    assert isinstance(loop_thread.run(from_the_loop(), timeout=5), BridgeDeadlock)


def test_bridge_timeout_raises_store_unavailable_st11(loop_thread: LoopThread) -> None:
    adapter = SlowAdapter()
    store = ProductionStore(adapter, loop_thread.loop, 0.2)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as info:
        store.get_run("wf_x")
    assert 0.15 < time.monotonic() - started < 2
    assert info.value.http_status == 503 and info.value.error_type == "store_unavailable"
    deadline = time.monotonic() + 2
    while not adapter.cancelled.is_set() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert adapter.cancelled.is_set(), "the stalled coroutine must be cancelled"


def test_bridge_on_closed_loop_is_store_unavailable_st11() -> None:
    loop = asyncio.new_event_loop()
    loop.close()
    with pytest.raises(StoreUnavailable):
        ProductionStore(MemoryAdapter(), loop, 1.0).get_run("wf_x")


def test_worker_thread_calls_reach_the_loop_from_many_threads_st11(
        wire: MongoAdapter, loop_thread: LoopThread) -> None:
    store = ProductionStore(wire, loop_thread.loop, 10.0)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda i: store.insert_run(run_doc(f"wf_{i:032x}")), range(24)))
    assert len(store.top_level_runs()) == 24


# ---- ST-13: start-up indexes and migrations

def test_ensure_indexes_idempotent_and_migration_recorded_st13(
        wire: MongoAdapter, loop_thread: LoopThread, secantus_uri: str) -> None:
    assert loop_thread.run(ensure_indexes(wire, NOW)) == ["m_0001_initial_indexes",
                                                          "m_0002_task_run_index"]
    assert loop_thread.run(ensure_indexes(wire, NOW)) == []
    records = loop_thread.run(wire.find("schema_migrations", {}))
    assert records == [{"migration_id": "m_0001_initial_indexes",
                        "description": "Create every index of storage.md §3.1",
                        "applied_at": NOW},
                       {"migration_id": "m_0002_task_run_index",
                        "description": "Index task_queue by payload.workflow_run_id, created_at",
                        "applied_at": NOW}]
    client: MongoClient[dict[str, Any]] = MongoClient(secantus_uri)
    try:
        db = client[wire.database_name]
        for ix in INDEXES:
            info = db[ix.collection].index_information()
            assert ix.name in info, f"{ix.collection}.{ix.name} missing"
            got = info[ix.name]
            assert [tuple(k) for k in got["key"]] == [tuple(k) for k in ix.keys]
            assert bool(got.get("unique")) == ix.unique, ix.name
            assert bool(got.get("sparse")) == ix.sparse, ix.name
            assert got.get("expireAfterSeconds") == ix.expire_after_seconds, ix.name
    finally:
        client.close()


def test_ensure_indexes_on_memory_adapter_st13(loop_thread: LoopThread) -> None:
    adapter = MemoryAdapter()
    assert loop_thread.run(ensure_indexes(adapter, NOW)) == ["m_0001_initial_indexes",
                                                             "m_0002_task_run_index"]
    assert loop_thread.run(ensure_indexes(adapter, NOW)) == []
    store = ProductionStore(adapter, loop_thread.loop, 5.0)
    store.insert_run(run_doc("wf_1"))
    with pytest.raises(ConcurrentModification):
        store.insert_run(run_doc("wf_1"))


def _last_use(adapter: Any, loop_thread: LoopThread) -> None:
    doc = {"code": "ONE", "remaining_uses": 1, "used_count": 0}
    loop_thread.run(adapter.insert_one("invitation_codes", dict(doc)))
    after = loop_thread.run(adapter.find_one_and_update(
        "invitation_codes", {"code": "ONE", "remaining_uses": {"$gt": 0}},
        {"$inc": {"remaining_uses": -1, "used_count": 1}}))
    assert after is not None and after["remaining_uses"] == 0 and after["used_count"] == 1
    before = loop_thread.run(adapter.find_one_and_update(
        "invitation_codes", {"code": "ONE"}, {"$inc": {"used_count": 1}}, return_after=False))
    assert before is not None and before["used_count"] == 1


def test_find_one_and_update_returns_a_document_its_filter_no_longer_matches(
        loop_thread: LoopThread) -> None:
    """The last use of a single-use invitation (`remaining_uses: {$gt: 0}` taken to 0) comes
    back updated from the embedded database; mongomock re-found it with the filter (None), so
    registering with a one-use invitation failed there."""
    _last_use(MemoryAdapter(), loop_thread)


def test_find_one_and_update_after_document_on_both_drivers(wire: MongoAdapter,
                                                            loop_thread: LoopThread) -> None:
    """The same on a real server: what the embedded database must match."""
    _last_use(wire, loop_thread)


# ---- engine.md §18.2: duplicate key → ConcurrentModification on both drivers

def test_duplicate_key_is_concurrent_modification_both_drivers_eng51(
        wire: MongoAdapter, loop_thread: LoopThread) -> None:
    loop_thread.run(ensure_indexes(wire, NOW))
    store = ProductionStore(wire, loop_thread.loop, 10.0)
    event = {"event_id": "evt_1", "workflow_run_id": "wf_1", "branch_id": "br_1", "sequence": 1,
             "event_type": "workflow_started", "timestamp": NOW, "data": {}}
    store.append_event(event)
    assert "_id" not in event
    with pytest.raises(ConcurrentModification) as info:
        store.append_event({**event, "event_id": "evt_2"})
    assert info.value.http_status == 409 and info.value.error_type == "concurrent_modification"
    with pytest.raises(ConcurrentModification):  # insert_many reports a BulkWriteError
        store.executor.insert_many("events", [{**event, "event_id": "evt_3", "sequence": 2},
                                              {**event, "event_id": "evt_4"}])
    with pytest.raises(ConcurrentModification):  # an upsert whose insert clashes
        store.executor.find_one_and_update("events", {"event_id": "evt_new"},
                                           {"$set": {"workflow_run_id": "wf_1", "sequence": 1}},
                                           upsert=True)
    assert store.max_sequence("wf_1") == 2


# ---- ST-12 write concern, ST-10 driver choice and unavailability

def test_event_and_answer_inserts_use_durable_write_concern_st12(wire: MongoAdapter) -> None:
    expected = {"w": "majority", "j": True, "wtimeout": 10000}
    for coll in ("events", "interaction_answers"):
        assert wire._coll(coll).write_concern.document == expected
    assert wire._coll("workflow_runs").write_concern.document == {}
    assert parse_write_concern("1").document == {"w": 1, "j": True, "wtimeout": 10000}
    for bad in ("", "0", " "):
        with pytest.raises(ValueError):
            parse_write_concern(bad)


def test_driver_setting_selects_the_client_st10(loop_thread: LoopThread,
                                                secantus_uri: str) -> None:
    async def both() -> list[str]:
        names = []
        for driver in DRIVERS:
            adapter = MongoAdapter.connect(secantus_uri, "unit_driver", driver=driver)
            assert await adapter.ping()
            names.append(type(adapter.client).__name__)
            await adapter.close()
        return names

    assert loop_thread.run(both()) == ["AsyncIOMotorClient", "AsyncMongoClient"]
    with pytest.raises(ValueError):
        MongoAdapter.connect(secantus_uri, "x", driver="pymongo")


def test_unreachable_server_is_store_unavailable_st11(loop_thread: LoopThread) -> None:
    from client.testing.mongo import free_port

    async def ping() -> None:
        adapter = MongoAdapter.connect(f"mongodb://127.0.0.1:{free_port()}", "x",
                                       driver="pymongo_async", server_selection_timeout_ms=200)
        try:
            await adapter.ping()
        finally:
            await adapter.close()

    with pytest.raises(StoreUnavailable):
        loop_thread.run(ping(), timeout=10)


# ---- README §5.2: the embedded default

def test_open_adapter_without_uri_is_memory_and_warns(caplog: pytest.LogCaptureFixture,
                                                      loop_thread: LoopThread) -> None:
    with caplog.at_level(logging.WARNING, logger="db.production_store"):
        adapter = open_adapter(None, "wfe")
    assert isinstance(adapter, MemoryAdapter)
    assert "NOTHING IS PERSISTED" in caplog.text
    assert loop_thread.run(adapter.ping())


# ---- AsyncReads: the read routes see what the engine wrote

def test_async_reads_match_sync_store(wire: MongoAdapter, loop_thread: LoopThread) -> None:
    loop_thread.run(ensure_indexes(wire, NOW))
    store = ProductionStore(wire, loop_thread.loop, 10.0)
    for i in range(3):
        store.insert_run({**run_doc(f"wf_{i}"), "updated_at": NOW.replace(second=i)})
        store.append_event({"event_id": f"evt_{i}", "workflow_run_id": "wf_0", "branch_id": "br",
                            "sequence": i + 1, "event_type": "module_completed",
                            "timestamp": NOW, "module_name": "m", "data": {"$k": {"a.b": i}}})
    reads = store.reads
    assert loop_thread.run(reads.get_run("wf_1")) == store.get_run("wf_1")
    assert (loop_thread.run(reads.list_runs("usr_1", True, True, 2, 0))
            == store.list_runs("usr_1", True, True, 2, 0))
    assert (loop_thread.run(reads.find_events("wf_0", None, None, None, 1, 10))
            == store.find_events("wf_0", None, None, None, 1, 10))
    lineage = [{"branch_id": "br", "cutoff_sequence": 2}]
    assert [e["sequence"] for e in loop_thread.run(reads.lineage_events("wf_0", lineage))] == [1, 2]
    assert loop_thread.run(reads.max_sequence("wf_0")) == 3
