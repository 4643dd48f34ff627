"""Refused bodies read a chunk per turn (issue 15 item 5, engine/http_drain.py), on a live server.

The virtual server, run with its deployment's uvicorn options, has its one engine slot taken.
Two dozen clients send 2 MB previews at once: each is refused with 503 before its body is read,
sends the rest of its body anyway, and then asks `/health` on the same connection. Every client
gets its 503 and its 200 (nothing reset), and the refused bodies went through the drain queue a
chunk at a time, never more than `PER_TICK` connections resumed in one loop iteration.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine import http_drain
from tests.acceptance.virtual_support import access_token, make_app, make_settings
from tests.e2e.crash_support import select_workflow
from tests.e2e.refusals import refused_then_health
from tests.e2e.virtual_live import LiveServer
from virtual_server.http_protocol import uvicorn_options

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from storm_client import Connection, build_request

CLIENTS = 24
BODY = json.dumps({"workflow": select_workflow(1), "virtual_db": None, "target_step_id": "s0",
                   "target_module_name": "q0", "pad": "x" * 2_000_000}).encode()


def test_refused_bodies_are_read_a_chunk_per_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    resumed: list[int] = []
    tick = http_drain.DrainQueue._tick

    def counting_tick(self: http_drain.DrainQueue) -> None:
        resumed.append(min(self._per_tick, len(self)))
        tick(self)

    monkeypatch.setattr(http_drain.DrainQueue, "_tick", counting_tick)
    settings = make_settings(engine_threads=1, engine_queue=0)
    request = build_request("POST", "/workflow/start", BODY,
                            headers={"Authorization": "Bearer " + access_token()})
    options: dict[str, Any] = uvicorn_options(settings)
    with LiveServer(make_app(settings), options=options) as live:
        pool = live.app.state["runtime"].pool
        slot = pool.ticket()
        assert slot is not None and pool.ticket() is None  # the only slot is taken

        async def storm() -> list[tuple[int, int]]:
            return list(await asyncio.gather(
                *(refused_then_health(live.port, request) for _ in range(CLIENTS))))

        try:
            answers = asyncio.run(storm())
        finally:
            slot.release()
    assert answers == [(503, 200)] * CLIENTS
    assert resumed and max(resumed) <= http_drain.PER_TICK
    # a read takes at most 256 KiB, so each 2 MB body needed several turns of the queue
    assert sum(resumed) >= CLIENTS * 4, (sum(resumed), len(resumed))


def test_clients_leaving_while_their_bodies_drain(caplog: pytest.LogCaptureFixture) -> None:
    """Clients that get their 503 and close with most of the body unsent: the server notices
    each close when that connection's turn comes, logs no error, and serves on."""
    settings = make_settings(engine_threads=1, engine_queue=0)
    request = build_request("POST", "/workflow/start", BODY,
                            headers={"Authorization": "Bearer " + access_token()})
    with caplog.at_level(logging.ERROR), \
            LiveServer(make_app(settings), options=uvicorn_options(settings)) as live:
        pool = live.app.state["runtime"].pool
        slot = pool.ticket()
        assert slot is not None

        async def leave() -> int:
            conn = Connection("127.0.0.1", live.port, timeout_s=30)
            try:
                return (await conn.send(request)).status  # stops sending once answered
            finally:
                conn.close()

        async def storm() -> list[int]:
            return list(await asyncio.gather(*(leave() for _ in range(CLIENTS))))

        try:
            assert asyncio.run(storm()) == [503] * CLIENTS
        finally:
            slot.release()
        assert httpx.get(live.url + "/health", timeout=10).status_code == 200
        assert asyncio.run(refused_then_health(live.port, request)) == (200, 200)  # admitted now
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
