"""SSE plumbing of the production server (SSE-1, SSE-5): frame queue, pump, per-send timeout."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Litestar, get
from litestar.testing import AsyncTestClient

from production_server.sse import FrameCounter, FrameQueue, SSEStream, pump


async def test_queue_drops_progress_under_backpressure_and_remembers_last() -> None:
    """[SSE-5] a full queue drops progress frames; the producer never blocks."""
    frames = FrameQueue(asyncio.get_running_loop(), maxsize=2)
    for i in range(5):
        frames.put("progress", {"workflow_run_id": "wf", "message": str(i)})
    assert frames.queue.qsize() == 2 and frames.dropped == 3
    assert frames.last_progress == {"workflow_run_id": "wf", "message": "4"}
    assert frames.began.is_set()


async def test_pump_ticks_heartbeats_and_drains() -> None:
    """[SSE-1] numbered frames, progress ticks while idle, heartbeat comments, then the drain."""
    loop = asyncio.get_running_loop()
    frames = FrameQueue(loop)
    work: asyncio.Future[Any] = loop.create_future()
    counter = FrameCounter()

    def tick(elapsed_ms: float) -> tuple[str, dict[str, Any]]:
        return "progress", {"workflow_run_id": "wf", "message": "tick", "elapsed_ms": int(elapsed_ms)}

    async def produce() -> None:
        frames.put_threadsafe("progress", {"workflow_run_id": "wf", "message": "first"})
        await asyncio.sleep(0.12)
        frames.put("progress", {"workflow_run_id": "wf", "message": "last"})
        work.set_result(None)

    task = asyncio.ensure_future(produce())
    out = [chunk async for chunk in pump(frames, work, interval_s=0.05, heartbeat_s=0.03,
                                         tick=tick, counter=counter)]
    await task
    text = b"".join(out).decode()
    assert text.startswith("id: 1\nevent: progress\ndata: ")
    assert '"message":"first"' in text and '"message":"last"' in text
    assert '"message":"tick"' in text
    ids = [int(line[4:]) for line in text.split("\n") if line.startswith("id: ")]
    assert ids == list(range(1, len(ids) + 1))


async def test_send_timeout_closes_stream_and_reports_abort() -> None:
    """[SSE-5] a frame the client does not take within the send timeout closes the stream and
    calls `on_abort("client_disconnected")`; `on_close` runs exactly once."""
    events: list[str] = []

    async def body() -> Any:
        try:
            for i in range(100):
                yield b"event: progress\ndata: {}\n\n"
                await asyncio.sleep(0)
        finally:
            events.append("generator closed")

    @get("/s")
    async def handler() -> SSEStream:
        return SSEStream(body(), send_timeout_s=0.05, on_abort=lambda r: events.append(r),
                         on_close=lambda: events.append("closed"))

    app = Litestar([handler])
    sent: list[dict[str, Any]] = []

    async def slow_send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and len(sent) > 2:
            await asyncio.sleep(10)  # a client that stopped reading

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(10)
        return {"type": "http.disconnect"}

    scope = {"type": "http", "method": "GET", "path": "/s", "raw_path": b"/s", "headers": [],
             "query_string": b"", "root_path": "", "scheme": "http", "server": ("t", 80),
             "client": ("c", 1), "http_version": "1.1", "app": app, "state": {}}
    await asyncio.wait_for(app(scope, receive, slow_send), 3)  # type: ignore[arg-type]
    assert events.count("client_disconnected") == 1
    assert events.count("closed") == 1
    assert "generator closed" in events
    assert sent[0]["type"] == "http.response.start"
    headers = dict(sent[0]["headers"])
    assert headers[b"content-type"].startswith(b"text/event-stream")


async def test_completed_stream_is_not_an_abort() -> None:
    events: list[str] = []

    async def body() -> Any:
        yield b"event: complete\ndata: {}\n\n"

    @get("/s")
    async def handler() -> SSEStream:
        return SSEStream(body(), send_timeout_s=1, on_abort=lambda r: events.append(r),
                         on_close=lambda: events.append("closed"))

    async with AsyncTestClient(Litestar([handler])) as client:
        response = await client.get("/s")
    assert response.text == "event: complete\ndata: {}\n\n"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert events == ["closed"]
