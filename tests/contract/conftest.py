"""Store contract fixtures (storage.md §6, ST-1, ST-16).

`store_factory` is parametrised over the store kinds; each call of the returned `make_store()`
gives a fresh, empty store with every §3.1 index in place:

- `virtual`: the mongomock virtual store;
- `virtual-fast`: the virtual server's `FastVirtualStore` (db/memory_executor.py);
- `production-wire-motor` / `production-wire-pymongo`: `ProductionStore` on a real MongoDB
  wire-protocol server (secantusdb, session fixture `secantus_uri`) through motor and PyMongo's
  AsyncMongoClient, one fresh database per store;
- `production-fast`: `ProductionStore` through `MongoAdapter` on mongomock-motor.

The production kinds are used exactly as the server uses them: the test thread plays the engine
worker and every call is bridged onto an event loop running in another thread (`loop_thread`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import pytest

from db.blob import BlobLimits
from db.fast_store import FastVirtualStore
from db.mongo_adapter import MongoAdapter
from db.production_store import ProductionStore, StoreAdapter, ensure_indexes
from db.virtual_store import VirtualStore
from tests.contract.secantus_server import LoopThread

NOW = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)
LIMITS = BlobLimits(max_encoded_bytes=16 * 1024 * 1024, max_decompressed_bytes=64 * 1024 * 1024)
CALL_TIMEOUT_S = 20.0

StoreFactory = Callable[[], Any]

STORE_KINDS = ["virtual", "virtual-fast", "production-wire-motor", "production-wire-pymongo",
               "production-fast"]
VIRTUAL_KINDS: dict[str, Any] = {"virtual": VirtualStore, "virtual-fast": FastVirtualStore}
WIRE_DRIVERS = {"production-wire-motor": "motor", "production-wire-pymongo": "pymongo_async"}


def _database_name() -> str:
    return f"contract_{uuid.uuid4().hex[:16]}"


def _production_factory(loop: LoopThread,
                        connect: Callable[[], StoreAdapter]) -> Iterator[StoreFactory]:
    """Stores over adapters created on the loop; their databases are dropped afterwards."""
    adapters: list[StoreAdapter] = []

    async def open_one() -> StoreAdapter:
        adapter = connect()
        await ensure_indexes(adapter, NOW)
        return adapter

    def make() -> ProductionStore:
        adapter = loop.run(open_one())
        adapters.append(adapter)
        return ProductionStore(adapter, loop.loop, CALL_TIMEOUT_S)

    yield make

    async def close_all() -> None:
        for adapter in adapters:
            await adapter.drop_database()
            await adapter.close()

    loop.run(close_all())


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_factory(store_kind: str, request: pytest.FixtureRequest) -> Iterator[StoreFactory]:
    """`make_store() -> Store`: fresh and empty on every call."""
    if store_kind in VIRTUAL_KINDS:
        store_class = VIRTUAL_KINDS[store_kind]
        yield lambda: store_class.fresh(NOW)
        return
    loop: LoopThread = request.getfixturevalue("loop_thread")
    if store_kind in WIRE_DRIVERS:
        uri: str = request.getfixturevalue("secantus_uri")
        driver = WIRE_DRIVERS[store_kind]
        yield from _production_factory(
            loop, lambda: MongoAdapter.connect(uri, _database_name(), driver=driver))
        return
    from mongomock_motor import AsyncMongoMockClient  # test-only dependency

    yield from _production_factory(
        loop, lambda: MongoAdapter(AsyncMongoMockClient(tz_aware=True), _database_name()))


@pytest.fixture
def store(store_factory: StoreFactory) -> Any:
    return store_factory()


@pytest.fixture
def roundtrip(store_kind: str) -> Callable[[Any, Callable[[Any], Any]], None]:
    """Storage §6 item 13 (BLOB-7): virtual only, a no-op for the production stores.

    Export → import → export is byte-identical, and `read(store)` gives the same values on the
    original store and on the re-imported one.
    """

    def check(store: Any, read: Callable[[Any], Any]) -> None:
        if store_kind not in VIRTUAL_KINDS:
            return
        first = store.to_blob()
        again = VIRTUAL_KINDS[store_kind].from_blob(first, LIMITS, NOW)
        assert again.to_blob() == first
        assert again.export() == store.export()
        assert read(again) == read(store)

    return check
