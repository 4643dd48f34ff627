"""SSE and body limits of the virtual server against a live uvicorn (SSE-1…SSE-5, WIRE-4)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import threading
from contextlib import aclosing
from typing import Any

import httpx
import msgspec

from engine.clock import SystemClock
from engine.ids import MonotonicIds
from engine.wire import VirtualStartRequest
from tests.acceptance.script_a import ANSWERS
from tests.acceptance.virtual_support import access_token, make_app, make_settings, parse_sse
from tests.conftest import mock_only_providers
from tests.e2e.virtual_live import LiveServer, wait_for
from tests.fakes import FakeLLMProvider, FakeProviderSet, llm_result
from virtual_server.service import VirtualService

HEADERS = {"Authorization": "Bearer " + access_token()}


def scene_pending_blob(workflow: dict[str, Any]) -> tuple[str, str]:
    """A blob with select_scene pending, built in-process with the mock providers."""
    service = VirtualService(make_settings(), clock=SystemClock(), ids=MonotonicIds(),
                             providers=mock_only_providers())
    response = service.start(msgspec.convert({
        "workflow": workflow, "target_step_id": "scene_generation",
        "target_module_name": "select_scene",
        "auto_respond": {"answers": {k: ANSWERS[k] for k in ("select_pet_type", "select_aesthetic")}},
    }, VirtualStartRequest))
    assert response.status == "awaiting_input" and response.interaction_request is not None
    assert response.virtual_db is not None
    return response.virtual_db, response.interaction_request.interaction_id


def runtime_of(app: Any) -> Any:
    return app.state["runtime"]


async def test_sse_stream_over_http(cuddle_workflow: dict[str, Any]) -> None:
    """[SSE-1][SSE-2][SSE-3] Real HTTP: headers, ids, single-line data, one terminal last."""
    blob, iid = scene_pending_blob(cuddle_workflow)
    app = make_app()
    with LiveServer(app) as live:
        async with httpx.AsyncClient(base_url=live.url, timeout=30) as client:
            response = await client.post("/workflow/sub-action", headers=HEADERS, json={
                "virtual_db": blob, "interaction_id": iid, "sub_action_id": "regenerate_scenes",
                "params": {"feedback": "beach"}})
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["cache-control"] == "no-cache"
            assert response.headers["x-accel-buffering"] == "no"
            frames = parse_sse(response.text)
            assert frames[0].event == "progress" and frames[-1].event == "complete"
            assert len(frames[-1].data["state"]["scene_concepts"]["scenes"]) == 6


async def test_wire4_streamed_body_limit_without_content_length() -> None:
    """[WIRE-4] The limit applies to the streamed bytes of a chunked body (no Content-Length)."""
    app = make_app(make_settings(max_body_bytes=10_000))

    async def chunks() -> Any:
        for _ in range(50):
            yield b" " * 1000

    with LiveServer(app) as live:
        async with httpx.AsyncClient(base_url=live.url, timeout=30) as client:
            response = await client.post("/workflow/state", headers=HEADERS, content=chunks())
            assert response.status_code == 413
            assert response.json()["result"]["error_type"] == "payload_too_large"
            assert (await client.get("/health")).status_code == 200


class CancelAwareLLM(FakeLLMProvider):
    """Streams, blocks until cancelled, and records that it saw the cancellation."""

    def __init__(self) -> None:
        super().__init__([llm_result({"scenes": []})], streaming=True,
                         block=threading.Event(), block_timeout=30)
        self.cancelled = threading.Event()

    def call_streaming(self, request: Any, credentials: Any, cancel: Any, on_chunk: Any) -> Any:
        try:
            return super().call_streaming(request, credentials, cancel, on_chunk)
        except BaseException:
            self.cancelled.set()
            raise


async def test_sse5_client_disconnect_cancels_the_sub_action(cuddle_workflow: dict[str, Any]) -> None:
    """[SSE-5][ENG-49] Closing the stream sets the cancel token; the engine slot is released."""
    blob, iid = scene_pending_blob(cuddle_workflow)
    provider = CancelAwareLLM()
    app = make_app(make_settings(sse_heartbeat_s=0.2),
                   providers=FakeProviderSet(llm={"openai": provider}))
    rt = runtime_of(app)
    with LiveServer(app) as live:
        async with httpx.AsyncClient(base_url=live.url, timeout=30) as client:
            async with client.stream("POST", "/workflow/sub-action", headers=HEADERS, json={
                    "virtual_db": blob, "interaction_id": iid,
                    "sub_action_id": "regenerate_scenes", "params": {}}) as response:
                assert response.status_code == 200
                # The line reader must stay referenced until the block ends: a `break` out of an
                # unnamed `aiter_lines()` leaves it to the garbage collector, whose close drops
                # the connection at once — a real disconnect, racing the provider call.
                async with aclosing(response.aiter_lines()) as lines:
                    async for line in lines:
                        if line.startswith("event: progress"):
                            break
                    assert await asyncio.to_thread(wait_for, provider.started.is_set)
                    assert rt.stats.disconnects == 0 and not provider.cancelled.is_set()
        # leaving the block closed the connection mid-stream
        assert await asyncio.to_thread(wait_for, provider.cancelled.is_set)
        assert await asyncio.to_thread(wait_for, lambda: rt.stats.disconnects == 1)
        assert await asyncio.to_thread(wait_for, lambda: rt.pool.in_flight == 0)


async def test_sse5_send_timeout_closes_the_stream(cuddle_workflow: dict[str, Any]) -> None:
    """[SSE-5] A frame the client does not take within WFE_SSE_SEND_TIMEOUT_S closes the stream."""
    padding = [base64.b64encode(os.urandom(500_000)).decode() for _ in range(3)]  # < 1 MiB each
    padded = dict(cuddle_workflow, config={"padding": padding})
    blob, iid = scene_pending_blob(padded)
    app = make_app(make_settings(sse_send_timeout_s=0.5, sse_heartbeat_s=0.1))
    body = json.dumps({"virtual_db": blob, "interaction_id": iid, "workflow": padded,
                       "sub_action_id": "regenerate_scenes", "params": {}}).encode()
    with LiveServer(app, send_buffer=4096) as live:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", live.port))
        try:
            head = (f"POST /workflow/sub-action HTTP/1.1\r\nHost: x\r\n"
                    f"Authorization: {HEADERS['Authorization']}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
            sock.sendall(head.encode() + body)
            rt = runtime_of(app)
            assert await asyncio.to_thread(wait_for, lambda: rt.stats.send_timeouts == 1, 20)
            assert await asyncio.to_thread(wait_for, lambda: rt.pool.in_flight == 0)
            async with httpx.AsyncClient(base_url=live.url, timeout=5) as client:
                assert (await client.get("/health")).status_code == 200
        finally:
            sock.close()
