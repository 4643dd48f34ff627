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
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

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

T = TypeVar("T")
CLIENTS = 24
BODY = json.dumps({"workflow": select_workflow(1), "virtual_db": None, "target_step_id": "s0",
                   "target_module_name": "q0", "pad": "x" * 2_000_000}).encode()


@contextmanager
def _live() -> Iterator[tuple[LiveServer, bytes]]:
    """The virtual server with one engine slot, run with its deployment's uvicorn options, and
    a 2 MB preview request for it."""
    settings = make_settings(engine_threads=1, engine_queue=0)
    request = build_request("POST", "/workflow/start", BODY,
                            headers={"Authorization": "Bearer " + access_token()})
    with LiveServer(make_app(settings), options=uvicorn_options(settings)) as live:
        yield live, request


def _refused_at_once(live: LiveServer, client: Callable[[], Awaitable[T]]) -> list[T]:
    """`CLIENTS` runs of `client` at once while the only engine slot is taken."""
    pool = live.app.state["runtime"].pool
    slot = pool.ticket()
    assert slot is not None and pool.ticket() is None  # the only slot is taken

    async def storm() -> list[T]:
        return list(await asyncio.gather(*(client() for _ in range(CLIENTS))))

    try:
        return asyncio.run(storm())
    finally:
        slot.release()


def test_refused_bodies_are_read_a_chunk_per_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    resumed: list[int] = []
    tick = http_drain.DrainQueue._tick

    def counting_tick(self: http_drain.DrainQueue) -> None:
        resumed.append(min(self._per_tick, len(self)))
        tick(self)

    monkeypatch.setattr(http_drain.DrainQueue, "_tick", counting_tick)
    with _live() as (live, request):
        answers = _refused_at_once(live, lambda: refused_then_health(live.port, request))
    assert answers == [(503, 200)] * CLIENTS
    assert resumed and max(resumed) <= http_drain.PER_TICK
    # a read takes at most 256 KiB, so each 2 MB body needed several turns of the queue
    assert sum(resumed) >= CLIENTS * 4, (sum(resumed), len(resumed))


def test_clients_leaving_while_their_bodies_drain(caplog: pytest.LogCaptureFixture) -> None:
    """Clients that get their 503 and close with most of the body unsent: the server notices
    each close when that connection's turn comes, logs no error, and serves on."""
    with caplog.at_level(logging.ERROR), _live() as (live, request):

        async def leave() -> int:
            conn = Connection("127.0.0.1", live.port, timeout_s=30)
            try:
                return (await conn.send(request)).status  # stops sending once answered
            finally:
                conn.close()

        assert _refused_at_once(live, leave) == [503] * CLIENTS
        assert httpx.get(live.url + "/health", timeout=10).status_code == 200
        assert asyncio.run(refused_then_health(live.port, request)) == (200, 200)  # admitted now
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
