"""Admission before the body (engine/pool.py tickets, engine/admission.py, issue 15 item 5)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from engine.admission import admission_gate
from engine.errors import Overloaded, RequestTimeout
from engine.pool import EnginePool, holding


def test_a_ticket_serves_the_first_admission_of_its_request() -> None:
    pool = EnginePool(1, 1)
    ticket = pool.ticket()
    assert ticket is not None and pool.in_flight == 1
    with holding(ticket):
        assert pool.try_admit() and pool.in_flight == 1  # the ticket's slot, not a new one
        assert pool.try_admit() and pool.in_flight == 2  # a second operation takes its own
        assert not pool.try_admit()
    assert pool.in_flight == 2  # handed-over slots are released by their work, not the ticket
    pool.release()
    pool.release()
    unused = pool.ticket()
    assert unused is not None
    with holding(unused):
        pass
    assert pool.in_flight == 0  # an unused ticket goes back when the request is answered
    pool.shutdown()


def test_off_loop_runs_on_a_pool_thread_only_for_a_ticket_holder() -> None:
    pool = EnginePool(1, 0)

    async def where() -> tuple[str, str]:
        inline = await pool.off_loop(lambda: threading.current_thread().name)
        ticket = pool.ticket()
        assert ticket is not None
        with holding(ticket):
            off = await pool.off_loop(lambda: threading.current_thread().name)
        return inline, off

    inline, off = asyncio.run(where())
    assert inline == threading.current_thread().name and off.startswith("wfe-engine")
    pool.shutdown()


def _gate(pool: EnginePool, timeout_s: float = 5.0) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass
        assert pool.try_admit()  # served by the ticket
        pool.release()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return admission_gate(lambda _scope: pool, lambda scope: scope["method"] == "POST",
                          timeout_s)(app)


def test_the_gate_refuses_without_receiving_and_times_out_slow_bodies() -> None:
    pool = EnginePool(1, 0)
    received: list[str] = []
    sent: list[Any] = []

    async def slow_receive() -> dict[str, Any]:
        received.append("chunk")
        await asyncio.sleep(0.2)
        return {"type": "http.request", "body": b"x", "more_body": True}

    async def send(message: Any) -> None:
        sent.append(message)

    async def scenario() -> None:
        assert pool.try_admit()  # the pool is full
        with pytest.raises(Overloaded):
            await _gate(pool)({"type": "http", "method": "POST"}, slow_receive, send)
        assert received == []  # refused before anything of the body was read
        pool.release()
        with pytest.raises(RequestTimeout):
            await _gate(pool, 0.5)({"type": "http", "method": "POST"}, slow_receive, send)
        assert pool.in_flight == 0  # the timed-out request's slot came back

    asyncio.run(scenario())
    pool.shutdown()
