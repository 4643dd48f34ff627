"""The database circuit breaker (db/breaker.py, issue 15 item 6) and its place in MongoAdapter."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pymongo.errors import AutoReconnect, DuplicateKeyError, OperationFailure

from db.breaker import CircuitBreaker
from db.mongo_adapter import MongoAdapter
from engine.errors import ConcurrentModification, StoreUnavailable


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_open_fails_fast_then_one_probe_closes_it() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1.0, clock=clock)
    assert breaker.before("runs") is False and breaker.status() == {"database": "connected"}
    breaker.failed("AutoReconnect: connection refused")
    with pytest.raises(StoreUnavailable) as refused:
        breaker.before("runs")
    assert refused.value.details["reason"] == "AutoReconnect: connection refused"
    status = breaker.status()
    assert status["database"] == "not connected" and status["since"].endswith("Z")
    clock.now += 1.0
    assert breaker.before("runs") is True  # the probe
    with pytest.raises(StoreUnavailable):
        breaker.before("runs")  # others still fail fast while the probe is out
    breaker.succeeded()
    assert not breaker.is_open and breaker.before("runs") is False


def test_a_failed_probe_opens_again_and_a_cancelled_one_lets_the_next_probe() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1.0, clock=clock)
    breaker.failed("down")
    clock.now += 1.5
    assert breaker.before("x") is True
    breaker.failed("still down")
    with pytest.raises(StoreUnavailable):
        breaker.before("x")  # a full open period again
    clock.now += 1.0
    assert breaker.before("x") is True
    breaker.abandoned(True)  # the probe was cancelled: it proved nothing
    assert breaker.before("x") is True and breaker.is_open


class FakeCollection:
    def __init__(self, error: BaseException | None) -> None:
        self.error = error
        self.calls = 0

    async def insert_one(self, doc: Any) -> None:
        self.calls += 1
        if self.error is not None:
            raise self.error


class FakeClient:
    def __init__(self, coll: FakeCollection) -> None:
        self.coll = coll

    def __getitem__(self, _name: str) -> Any:
        return self

    def get_collection(self, _name: str, **_kw: Any) -> FakeCollection:
        return self.coll


def _adapter(error: BaseException | None) -> tuple[MongoAdapter, FakeCollection]:
    coll = FakeCollection(error)
    return MongoAdapter(FakeClient(coll), "db", breaker=CircuitBreaker(60.0)), coll


def test_only_an_unreachable_server_opens_the_adapter_breaker() -> None:
    adapter, coll = _adapter(AutoReconnect("connection refused"))
    with pytest.raises(StoreUnavailable):
        asyncio.run(adapter.insert_one("runs", {}))
    assert adapter.breaker.is_open and "connection refused" in adapter.breaker.reason
    with pytest.raises(StoreUnavailable) as fast:
        asyncio.run(adapter.insert_one("runs", {}))
    assert fast.value.details["circuit"] == "open" and coll.calls == 1  # never reached the driver
    for error, raised in ((DuplicateKeyError("dup"), ConcurrentModification),
                          (OperationFailure("bad"), OperationFailure)):
        adapter, _ = _adapter(error)
        with pytest.raises(raised):
            asyncio.run(adapter.insert_one("runs", {}))
        assert not adapter.breaker.is_open  # the server answered
