"""The client's wire layer: typed errors from both error shapes, SSE frame decoding, stream
contract checks and the streaming ASGI transport (against tiny raw ASGI apps)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from client.asgi import StreamingASGITransport
from client.base import BaseClient
from client.errors import (
    ApiError,
    NotFound,
    Overloaded,
    PayloadTooLarge,
    ServerError,
    StreamError,
    error_from_response,
)
from client.sse import decode_frame
from engine.wire import WorkflowResponse
from engine.wire_frames import CancelledFrame, ProgressFrame, SubActionError


def response(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    return httpx.Response(status, content=content, headers=headers or {},
                          request=httpx.Request("GET", "http://x/"))


def test_errors_from_both_body_shapes() -> None:
    production = error_from_response(response(404, {
        "error": "Not found", "error_type": "not_found", "details": {}, "detail": "Not found"}))
    assert isinstance(production, NotFound) and production.detail == "Not found"
    virtual = error_from_response(response(413, {
        "workflow_run_id": "", "status": "error", "error": "Request body too large",
        "result": {"error_type": "payload_too_large", "details": {"limit": 5}},
        "virtual_db": "blob"}))
    assert isinstance(virtual, PayloadTooLarge) and virtual.details == {"limit": 5}
    assert virtual.error_type == "payload_too_large" and virtual.virtual_db == "blob"
    assert virtual.detail == "Request body too large" and virtual.status == 413
    busy = error_from_response(response(503, {"error": "busy", "error_type": "overloaded"},
                                        {"Retry-After": "1"}))
    assert isinstance(busy, Overloaded) and busy.retry_after == 1.0
    plain = error_from_response(response(502, "bad gateway"))
    assert isinstance(plain, ServerError) and plain.error_type == "http_502"
    odd = error_from_response(response(418, {"error_type": "teapot"}))
    assert type(odd) is ApiError and odd.error_type == "teapot" and odd.detail == "I'm a teapot"


def test_decode_frames_by_stream_kind() -> None:
    run = decode_frame("run", "complete", json.dumps({
        "workflow_run_id": "wf_1", "status": "completed", "extra": "ignored"}), "3")
    assert isinstance(run.data, WorkflowResponse) and run.terminal and run.id == 3
    sub = decode_frame("sub_action", "error", json.dumps({
        "workflow_run_id": "wf_1", "message": "boom", "error_type": "x"}), "2")
    assert isinstance(sub.data, SubActionError) and sub.terminal
    progress = decode_frame("sub_action", "progress", '{"workflow_run_id": "w", "task_id": "t"}',
                            None)
    assert isinstance(progress.data, ProgressFrame) and progress.data.task_id == "t"
    assert not progress.terminal and progress.id is None
    assert isinstance(decode_frame("run", "cancelled", '{"workflow_run_id": "w"}', "1").data,
                      CancelledFrame)
    unknown = decode_frame("run", "state_diff", '{"workflow_run_id": "w", "x": 1}', "1")
    assert unknown.data == {"workflow_run_id": "w", "x": 1} and not unknown.terminal
    with pytest.raises(StreamError, match="not JSON"):
        decode_frame("run", "progress", "{nope", "1")
    with pytest.raises(StreamError, match="does not match its shape"):
        decode_frame("run", "progress", '{"message": "no run id"}', "1")


def sse_app(chunks: list[bytes], *, status: int = 200, content_type: bytes = b"text/event-stream",
            delay: float = 0.0, seen: list[str] | None = None) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await receive()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", content_type)]})
        for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if delay:
                await asyncio.sleep(delay)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        if seen is not None:
            message = await receive()
            seen.append(message["type"])

    return app


def frame(event: str, data: dict[str, Any], number: int) -> bytes:
    return f"id: {number}\nevent: {event}\ndata: {json.dumps(data)}\n\n".encode()


def client_of(app: Any) -> BaseClient:
    return BaseClient(httpx.AsyncClient(transport=StreamingASGITransport(app),
                                        base_url="http://app"))


async def test_stream_ends_at_its_terminal_frame_and_skips_heartbeats() -> None:
    app = sse_app([b": ping\n\n", frame("progress", {"workflow_run_id": "w"}, 1),
                   frame("complete", {"workflow_run_id": "w", "sub_action_id": "s",
                                      "interaction_id": "i"}, 2),
                   frame("progress", {"workflow_run_id": "w"}, 3)])
    client = client_of(app)
    frames = await client.open_stream("POST", "/x", {}, "sub_action").collect()
    assert [f.event for f in frames] == ["progress", "complete"]


async def test_stream_contract_errors() -> None:
    cut = client_of(sse_app([frame("progress", {"workflow_run_id": "w"}, 1)]))
    with pytest.raises(StreamError, match="without a terminal frame"):
        await cut.open_stream("GET", "/x", None, "run").collect()
    not_sse = client_of(sse_app([b'{"a": 1}'], content_type=b"application/json"))
    with pytest.raises(StreamError, match="expected an event stream"):
        await not_sse.open_stream("GET", "/x", None, "run").collect()
    refused = client_of(sse_app([b'{"error": "busy", "error_type": "overloaded"}'],
                                status=503, content_type=b"application/json"))
    with pytest.raises(Overloaded):
        async with refused.open_stream("GET", "/x", None, "run"):
            pass


async def test_transport_streams_and_reports_a_disconnect() -> None:
    """Chunks arrive while the app still runs; closing early is an `http.disconnect`."""
    seen: list[str] = []
    app = sse_app([frame("progress", {"workflow_run_id": "w"}, i) for i in range(1, 50)],
                  delay=0.05, seen=seen)
    client = client_of(app)
    started = asyncio.get_running_loop().time()
    async with client.open_stream("GET", "/x", None, "run") as frames:
        async for first in frames:
            break
    assert first.id == 1 and asyncio.get_running_loop().time() - started < 2.0  # not 49 × 50 ms

    async def waits_for_the_client(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        seen.append((await receive())["type"])  # blocks until the client goes away

    async with client_of(waits_for_the_client).http.stream("GET", "/y") as early:
        async for chunk in early.aiter_bytes():
            assert chunk == b"first"
            break
    assert seen == ["http.disconnect"]  # the close waited for the app to see it
    full_seen: list[str] = []
    whole = client_of(sse_app([b"a", b"b"], content_type=b"text/plain", seen=full_seen))
    done = await whole.http.get("/z")
    assert done.text == "ab"
    await asyncio.sleep(0.01)
    assert full_seen == ["http.disconnect"]
