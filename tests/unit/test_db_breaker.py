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


def test_answered_within_needs_a_recent_answer_and_a_closed_breaker() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1.0, clock=clock)
    assert not breaker.answered_within(1.0)  # nothing answered yet
    breaker.succeeded()
    clock.now += 0.5
    assert breaker.answered_within(1.0)
    clock.now += 0.6
    assert not breaker.answered_within(1.0)  # too old
    breaker.succeeded()
    breaker.failed("AutoReconnect: reset")
    assert not breaker.answered_within(1.0)  # open: a fresh answer before the failure is void


class PingAdapter:
    """An adapter whose ping waits until released, counting the pings sent."""

    def __init__(self, clock: Clock) -> None:
        self.breaker = CircuitBreaker(1.0, clock=clock)
        self.pings = 0
        self.release = asyncio.Event()

    async def ping(self) -> bool:
        self.breaker.before("admin")  # as MongoAdapter: raises at once while open
        self.pings += 1
        await self.release.wait()
        self.breaker.succeeded()
        return True


def _services(adapter: PingAdapter) -> Any:
    from production_server.services import Services

    services = object.__new__(Services)  # only the health fields: no pool, engine or database
    services.adapter = adapter
    services._health_ping = None
    return services


def test_health_shares_one_ping_and_trusts_a_recent_answer() -> None:
    """Under a storm the database is busy: `/health` polls must not queue a ping each."""
    clock = Clock()
    adapter = PingAdapter(clock)
    services = _services(adapter)

    async def scenario() -> None:
        polls = [asyncio.ensure_future(services.database_problem(2.0)) for _ in range(5)]
        await asyncio.sleep(0)
        polls[0].cancel()  # a poll whose client left does not cancel the shared ping
        await asyncio.sleep(0)
        adapter.release.set()
        results = await asyncio.gather(*polls[1:])
        assert results == [None] * 4 and adapter.pings == 1
        clock.now += 0.5
        assert await services.database_problem(2.0) is None and adapter.pings == 1
        clock.now += 1.0  # the last answer is too old now: ping again
        assert await services.database_problem(2.0) is None and adapter.pings == 2
        adapter.breaker.failed("AutoReconnect: refused")
        problem = await services.database_problem(2.0)  # open: the ping fails fast
        assert adapter.pings == 2 and problem is not None
        assert problem["database"] == "not connected" and problem["reason"].startswith("Auto")

    asyncio.run(scenario())
