"""Fail fast while the database is down (issue 15 item 6): `/state`, `/start`, `/respond` answer
503 `store_unavailable` with `Retry-After` within a second, `/health` says `degraded` with the
reason, and requests succeed again within a few seconds of the database's return. Before: a
`/state` answered after 18 s, a `/start` after 11 s. The virtual server, reading the same user
database for revocation, follows the same rule.

The bound is on the server's answer time, which by design is at most about twice the 400 ms
selection timeout (db/mongo_adapter.py), so 1 s leaves about 200 ms for scheduling on a loaded
machine. The client's own costs are kept out of it: each call goes through one persistent
`httpx.Client` (a fresh client per call builds an SSL context, 70-130 ms of CPU on a loaded
2-core machine, which made a call "take" 1.0025 s), and the in-process virtual server is timed
inside the server, from the request reaching the app to the start of its answer.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import jwt

from tests.acceptance.virtual_support import make_app
from tests.e2e.crash_support import (
    ANSWER,
    SECRET,
    Database,
    Server,
    create_user,
    select_workflow,
)
from tests.e2e.virtual_live import LiveServer
from virtual_server.settings import load_settings

FAST_S = 1.0


class ServerTimer:
    """ASGI wrapper: the time of the last HTTP request inside the server (from the request
    reaching the app to the start of its answer), free of the test client's share of the CPU."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.last_s = -1.0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.monotonic()

        async def timed_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.last_s = time.monotonic() - began
            await send(message)

        await self.app(scope, receive, timed_send)


def timed(call: Any) -> tuple[httpx.Response, float]:
    began = time.monotonic()
    response = call()
    return response, time.monotonic() - began


def until_ok(call: Any, timeout_s: float) -> float:
    """Seconds until `call()` answers 200 (fails after `timeout_s`)."""
    began = time.monotonic()
    while True:
        response = call()
        if response.status_code == 200:
            return time.monotonic() - began
        assert response.status_code == 503, response.text
        assert time.monotonic() - began < timeout_s, response.text
        time.sleep(0.1)


def test_production_fails_fast_while_the_database_is_down(tmp_path: Path) -> None:
    db = Database(tmp_path / "data")
    db.start()
    server = Server(db, "down_" + uuid.uuid4().hex[:8])
    try:
        create_user(db, server.name)
        server.start()
        server.login()
        started = server.call("POST", "/workflow/start", {
            "project_name": "down", "workflow_content": select_workflow(3)}).json()
        run, iid = started["workflow_run_id"], started["interaction_request"]["interaction_id"]
        client = httpx.Client(base_url=server.url, headers=server.headers, timeout=30)
        client.get("/health")  # the connection the timed calls reuse
        db.kill9()
        calls = {
            "state": lambda: client.get(f"/workflow/{run}/state"),
            "start": lambda: client.post("/workflow/start", json={
                "project_name": "down2", "workflow_content": select_workflow(3)}),
            "respond": lambda: client.post("/workflow/respond", json={
                "workflow_run_id": run, "interaction_id": iid, "response": ANSWER}),
        }
        for _round in range(3):  # the first call finds the server gone, the rest fail at once
            for name, call in calls.items():
                response, took = timed(call)
                print(f"production {name} 503: {took:.3f} s")
                assert response.status_code == 503, (name, response.text)
                assert response.json()["error_type"] == "store_unavailable", response.text
                assert response.headers["retry-after"] == "1"
                assert took < FAST_S, (name, took)
        health, took = timed(lambda: client.get("/health"))
        assert health.status_code == 503 and took < FAST_S
        body = health.json()
        assert body["status"] == "degraded" and body["database"] == "not connected"
        assert body["reason"] and body["since"], body
        db.start()
        assert until_ok(calls["state"], 5.0) < 5.0
        assert until_ok(calls["respond"], 5.0) < 5.0
        assert client.get("/health").json()["status"] == "healthy"
        client.close()
    finally:
        server.stop()
        db.stop()


def test_virtual_user_database_down_fails_fast_and_recovers(tmp_path: Path) -> None:
    db = Database(tmp_path / "data")
    db.start()
    name = "vdown_" + uuid.uuid4().hex[:8]
    try:
        user_id = create_user(db, name, "virtual")
        now = int(time.time())
        token = jwt.encode({"sub": user_id, "type": "access", "iat": now, "exp": now + 600,
                            "ver": 0}, SECRET, algorithm="HS256")
        settings = load_settings({"WFE_JWT_SECRET": SECRET, "WFE_MONGODB_URI": db.uri,
                                  "WFE_MONGODB_DATABASE": name, "WFE_AUTH_CACHE_S": "0"})
        body = {"workflow": select_workflow(1), "virtual_db": None, "target_step_id": "s0",
                "target_module_name": "q0"}
        timer = ServerTimer(make_app(settings))
        with LiveServer(timer) as live, httpx.Client(base_url=live.url, timeout=10) as client:
            def preview() -> httpx.Response:
                return client.post("/workflow/start", json=body,
                                   headers={"Authorization": "Bearer " + token})

            assert preview().status_code == 200
            db.kill9()
            for _ in range(4):
                timer.last_s = -1.0
                response, took = timed(preview)
                print(f"virtual 503: {timer.last_s:.3f} s in the server, {took:.3f} s at the client")
                assert response.status_code == 503, response.text
                assert response.json()["result"]["error_type"] == "store_unavailable"
                assert 0 <= timer.last_s < FAST_S, (timer.last_s, took)
            health = client.get("/health").json()
            assert health["status"] == "degraded" and health["reason"], health
            db.start()
            assert until_ok(preview, 5.0) < 5.0
            assert client.get("/health").json()["status"] == "healthy"
    finally:
        db.stop()
