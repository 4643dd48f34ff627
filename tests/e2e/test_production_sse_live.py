"""SSE cancellation and disconnect behaviour on a live uvicorn (SSE-5, PS-4, ACC-P8-6).

In-process ASGI clients cannot observe client disconnects, so these tests run the production app
on a free loopback port against the secantusdb server, with a blocking fake LLM that honours the
cancel token (tests/fakes.py).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from engine.clock import FixedClock
from engine.ids import SequentialIds
from engine.mock_data import generate_mock
from engine.provider_types import LLMRequest
from production_server.__main__ import _Server
from production_server.admin import create_user
from production_server.app import create_app
from tests.acceptance.production_client import PASSWORD, T0, make_settings, parse_sse
from tests.acceptance.script_a import ANSWERS
from tests.fakes import FakeLLMProvider, FakeProviderSet, llm_result


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Live:
    def __init__(self, uri: str, fake: FakeLLMProvider, **env: str) -> None:
        self.database = "live_" + uuid.uuid4().hex[:12]
        settings = make_settings(uri, self.database, **env)
        providers = FakeProviderSet(llm={"openai": fake, "anthropic": fake})
        self.app = create_app(settings, clock=FixedClock(T0), ids=SequentialIds(),
                              providers=providers)
        self.port = _free_port()
        self.server = _Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                             log_level="warning", lifespan="on"))
        self.server.services = self.app.state.services
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.base = f"http://127.0.0.1:{self.port}"
        self.uri = uri

    @property
    def services(self) -> Any:
        return self.app.state.services

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
        from pymongo import MongoClient

        client: Any = MongoClient(self.uri)
        client.drop_database(self.database)
        client.close()

    def on_loop(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.services.loop).result(timeout=20)

    def token(self, username: str) -> str:
        self.on_loop(create_user(self.services.adapter, username, PASSWORD, ids=self.services.ids))
        response = httpx.post(self.base + "/auth/login",
                              json={"identifier": username, "password": PASSWORD})
        assert response.status_code == 200
        return str(response.cookies["access_token"])


def _scenes(request: LLMRequest) -> Any:
    schema = request.output_schema or {"type": "object"}
    return llm_result(generate_mock(schema, "live"))


@pytest.fixture
def live(secantus_uri: str) -> Iterator[tuple[Live, FakeLLMProvider, threading.Event]]:
    release = threading.Event()
    fake = FakeLLMProvider([_scenes], streaming=True, block=release, block_timeout=30.0)
    server = Live(secantus_uri, fake)
    server.start()
    try:
        yield server, fake, release
    finally:
        release.set()
        server.stop()


def _to_generate_scenes(server: Live, headers: dict[str, str], workflow: dict[str, Any],
                        project: str) -> tuple[str, str]:
    """A live (mock: false) run answered up to the aesthetic question."""
    start = httpx.post(server.base + "/workflow/start", headers=headers, timeout=30, json={
        "project_name": project, "workflow_content": workflow, "mock": False})
    assert start.status_code == 200, start.text
    body = start.json()
    run = body["workflow_run_id"]
    answer = httpx.post(server.base + "/workflow/respond", headers=headers, timeout=30, json={
        "workflow_run_id": run, "interaction_id": body["interaction_request"]["interaction_id"],
        "response": ANSWERS["select_pet_type"]})
    assert answer.status_code == 200, answer.text
    return run, answer.json()["interaction_request"]["interaction_id"]


def _started(events: list[dict[str, Any]], module: str) -> int:
    return sum(1 for e in events if e["event_type"] == "module_started" and e["module_name"] == module)


def test_cancel_endpoint_ends_stream_and_stream_reexecutes(live: Any, cuddle_workflow: dict[str, Any]) -> None:
    """[ACC-P8-6] / [PS-4] / [ENG-49]: POST /cancel → exactly one `cancelled {user_cancelled}`;
    a later GET /stream re-executes the interrupted module."""
    server, fake, release = live
    headers = {"Authorization": "Bearer " + server.token("alice")}
    run, iid = _to_generate_scenes(server, headers, cuddle_workflow, "cancel")
    result: dict[str, Any] = {}

    def consume() -> None:
        with httpx.stream("POST", f"{server.base}/workflow/{run}/stream/respond", headers=headers,
                          json={"interaction_id": iid, "response": ANSWERS["select_aesthetic"]},
                          timeout=30) as response:
            result["status"] = response.status_code
            result["text"] = "".join(response.iter_text())

    waiting: dict[str, Any] = {}
    on_stream = threading.Event()

    def watch() -> None:
        lines: list[str] = []
        with httpx.stream("GET", f"{server.base}/workflow/{run}/stream", headers=headers,
                          timeout=30) as response:
            for line in response.iter_lines():
                lines.append(line)
                if "Waiting for running execution" in line:
                    on_stream.set()
        waiting["text"] = "\n".join(lines)

    reader = threading.Thread(target=consume)
    reader.start()
    assert fake.started.wait(10), "the fake LLM was never called"
    watcher = threading.Thread(target=watch)
    watcher.start()
    # the watcher joined the running execution: its stream ticks while it waits
    assert on_stream.wait(20), "the watcher never saw the running execution"
    cancel = httpx.post(f"{server.base}/workflow/{run}/cancel", headers=headers, timeout=10)
    assert cancel.json() == {"message": "Cancellation requested", "workflow_run_id": run,
                             "cancelled": 1}
    reader.join(20)
    watcher.join(20)
    assert result["status"] == 200
    frames = parse_sse(result["text"])
    assert frames[-1] == ("cancelled", {"workflow_run_id": run, "reason": "user_cancelled"})
    # a stream opened while the execution ran reports that execution's outcome (wire-api §6.3)
    watched = parse_sse(waiting["text"])
    assert ("progress", "Waiting for running execution") in [(e, d.get("message")) for e, d in watched]
    assert watched[-1] == ("cancelled", {"workflow_run_id": run, "reason": "user_cancelled"})
    events = httpx.get(f"{server.base}/workflow/{run}/events?limit=5000", headers=headers).json()["events"]
    assert _started(events, "generate_scenes") == 1
    assert not [e for e in events if e["module_name"] == "generate_scenes"
                and e["event_type"] in ("module_completed", "module_error")]
    # the cursor stayed on the interrupted module: the stream runs it again
    release.set()
    again = httpx.get(f"{server.base}/workflow/{run}/stream", headers=headers, timeout=30)
    frames = parse_sse(again.text)
    assert frames[0][0] == "started"
    assert frames[0][1]["module_name"] == "generate_scenes"
    assert "Running generate_scenes" in [d.get("message") for e, d in frames if e == "progress"]
    events = httpx.get(f"{server.base}/workflow/{run}/events?limit=5000", headers=headers).json()["events"]
    assert _started(events, "generate_scenes") == 2
    assert fake.calls >= 2


def test_client_disconnect_cancels_execution(live: Any, cuddle_workflow: dict[str, Any]) -> None:
    """[SSE-5] a client that goes away sets the execution's cancel token (client_disconnected)."""
    server, fake, _release = live
    headers = {"Authorization": "Bearer " + server.token("alice")}
    run, iid = _to_generate_scenes(server, headers, cuddle_workflow, "disconnect")
    with httpx.stream("POST", f"{server.base}/workflow/{run}/stream/respond", headers=headers,
                      json={"interaction_id": iid, "response": ANSWERS["select_aesthetic"]},
                      timeout=30) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        assert next(lines).startswith("id: 1")
        assert fake.started.wait(10)
        tokens = [e.token for e in server.services.registry._by_run.get(run, ())]
        assert tokens
    # the connection is closed; the engine notices at its next cancel check
    deadline = time.monotonic() + 10
    while server.services.registry.active_count() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.services.registry.active_count() == 0
    assert tokens[0].reason == "client_disconnected"
    assert server.services.pool.in_flight == 0
    assert server.services.streams.open_count(
        json.loads(httpx.get(server.base + "/auth/me", headers=headers).text)["user_id"]) == 0


def test_server_shutdown_cancels_streams(live: Any, cuddle_workflow: dict[str, Any]) -> None:
    """[PS-4] a shutdown signal cancels every execution; streams end with `server_shutdown`."""
    import signal

    server, fake, _release = live
    headers = {"Authorization": "Bearer " + server.token("alice")}
    run, iid = _to_generate_scenes(server, headers, cuddle_workflow, "shutdown")
    result: dict[str, Any] = {}

    def consume() -> None:
        with httpx.stream("POST", f"{server.base}/workflow/{run}/stream/respond", headers=headers,
                          json={"interaction_id": iid, "response": ANSWERS["select_aesthetic"]},
                          timeout=30) as response:
            result["text"] = "".join(response.iter_text())

    reader = threading.Thread(target=consume)
    reader.start()
    assert fake.started.wait(10)
    server.server.handle_exit(signal.SIGTERM, None)
    reader.join(20)
    frames = parse_sse(result["text"])
    assert frames[-1] == ("cancelled", {"workflow_run_id": run, "reason": "server_shutdown"})
