"""Media jobs on a live uvicorn (client disconnects need a real connection, SSE-5).

A media generation is a background job: a client that goes away stops watching but does not
cancel it (unlike a run stream), and the results still land in the content collections. A
server shutdown does cancel it (PS-4). The media client blocks on `hub.gate`
(tests/acceptance/media_job_support.py).
"""

from __future__ import annotations

import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from pymongo import MongoClient

from engine.clock import FixedClock
from engine.ids import SequentialIds
from production_server.__main__ import _Server
from production_server.admin import create_user
from production_server.app import create_app
from tests.acceptance.media_job_support import GatedProviderSet, MediaHub
from tests.acceptance.production_client import PASSWORD, T0, TERMINAL_SUB, make_settings, parse_sse
from tests.acceptance.script_a import ANSWERS, IMAGE_PARAMS

IMAGE_MODULE = "generate_and_select_images_v2"


class LiveJobs:
    def __init__(self, uri: str, hub: MediaHub) -> None:
        self.uri = uri
        self.database = "livejobs_" + uuid.uuid4().hex[:12]
        self.app = create_app(make_settings(uri, self.database), clock=FixedClock(T0),
                              ids=SequentialIds(), providers=GatedProviderSet(hub))
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.server = _Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                             log_level="warning", lifespan="on"))
        self.server.services = self.app.state.services
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.base = f"http://127.0.0.1:{self.port}"
        self.db: Any = MongoClient(uri, tz_aware=True)[self.database]
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        services = self.app.state.services
        hub.cancel_probe = lambda: any(t.is_cancelled() for t in services.jobs().tokens())

    def headers(self, username: str = "alice") -> dict[str, str]:
        import asyncio

        services = self.app.state.services
        asyncio.run_coroutine_threadsafe(
            create_user(services.adapter, username, PASSWORD, ids=services.ids),
            services.loop).result(timeout=20)
        login = httpx.post(self.base + "/auth/login",
                           json={"identifier": username, "password": PASSWORD})
        assert login.status_code == 200
        return {"Authorization": "Bearer " + str(login.cookies["access_token"])}

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
        self.db.client.drop_database(self.database)
        self.db.client.close()


@pytest.fixture
def live(secantus_uri: str) -> Iterator[tuple[LiveJobs, MediaHub]]:
    hub = MediaHub()
    server = LiveJobs(secantus_uri, hub)
    try:
        yield server, hub
    finally:
        hub.gate.set()
        server.stop()


def _at_image_step(server: LiveJobs, headers: dict[str, str],
                   workflow: dict[str, Any]) -> tuple[str, str]:
    r = httpx.post(server.base + "/workflow/start", headers=headers, timeout=30, json={
        "project_name": "jobs", "workflow_content": workflow, "mock": True}).json()
    run = r["workflow_run_id"]
    while r["progress"]["current_module"] != IMAGE_MODULE:
        module = r["progress"]["current_module"]
        r = httpx.post(server.base + "/workflow/respond", headers=headers, timeout=30, json={
            "workflow_run_id": run, "response": ANSWERS[module],
            "interaction_id": r["interaction_request"]["interaction_id"]}).json()
    return run, r["interaction_request"]["interaction_id"]


def _task_status(server: LiveJobs, task_id: str, want: set[str], timeout_s: float = 15) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        doc = server.db.task_queue.find_one({"task_id": task_id})
        if doc is not None and doc["status"] in want:
            return doc
        assert time.monotonic() < deadline, doc
        time.sleep(0.05)


def _eventually(predicate: Any, timeout_s: float = 10) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_client_disconnect_does_not_cancel_the_job(live: Any,
                                                   cuddle_workflow: dict[str, Any]) -> None:
    server, hub = live
    headers = server.headers()
    run, iid = _at_image_step(server, headers, cuddle_workflow)
    with httpx.stream("POST", f"{server.base}/workflow/{run}/sub-action", headers=headers,
                      timeout=30, json={"interaction_id": iid, "sub_action_id": "image_generation",
                                        "params": IMAGE_PARAMS}) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        assert next(lines) == "id: 1"
        assert next(lines) == "event: progress"
        first = next(lines)
        assert hub.started.wait(10)
        task_id = first.split('"task_id":"')[1].split('"')[0]
        assert task_id.startswith("tq_")
        services = server.app.state.services
        user_id = server.db.task_queue.find_one({"task_id": task_id})["payload"]["user_id"]
        assert services.streams.open_count(user_id) == 1
    # the server noticed the closed connection: the stream's slot was given back
    assert _eventually(lambda: services.streams.open_count(user_id) == 0)
    assert all(not t.is_cancelled() for t in services.jobs().tokens())
    assert server.db.task_queue.find_one({"task_id": task_id})["status"] == "processing"
    hub.gate.set()
    doc = _task_status(server, task_id, {"completed", "failed", "cancelled"})
    assert doc["status"] == "completed"
    gens = httpx.get(f"{server.base}/workflow/{run}/interaction/{iid}/generations"
                     "?content_type=image", headers=headers, timeout=10)
    assert gens.status_code == 200
    for content_id in doc["result"]["sub_action_result"]["content_ids"]:
        assert content_id in gens.text
    # watching again after the fact: one terminal `complete` frame
    again = httpx.get(f"{server.base}/api/task/{task_id}/stream", headers=headers, timeout=10)
    assert [e for e, _ in parse_sse(again.text, TERMINAL_SUB)] == ["complete"]
    # the server frees the stream's slot just after its last byte reached the client
    assert _eventually(lambda: services.streams.open_count(user_id) == 0)


def test_server_shutdown_cancels_the_job(live: Any, cuddle_workflow: dict[str, Any]) -> None:
    server, hub = live
    headers = server.headers()
    run, iid = _at_image_step(server, headers, cuddle_workflow)
    result: dict[str, Any] = {}

    def consume() -> None:
        with httpx.stream("POST", f"{server.base}/workflow/{run}/sub-action", headers=headers,
                          timeout=30, json={"interaction_id": iid,
                                            "sub_action_id": "image_generation",
                                            "params": IMAGE_PARAMS}) as response:
            result["text"] = "".join(response.iter_text())

    reader = threading.Thread(target=consume)
    reader.start()
    assert hub.started.wait(10)
    server.server.handle_exit(signal.SIGTERM, None)
    reader.join(20)
    frames = parse_sse(result["text"], TERMINAL_SUB)
    assert frames[0][1]["task_id"].startswith("tq_")
    assert frames[-1] == ("cancelled", {"workflow_run_id": run, "reason": "server_shutdown",
                                        "execution_id": frames[-1][1].get("execution_id")})
    doc = server.db.task_queue.find_one({"task_id": frames[0][1]["task_id"]})
    assert doc["status"] == "cancelled" and doc["error"]["reason"] == "server_shutdown"
