"""Server-Sent Events for the sub-action stream (wire-api.md §4, SSE-1…SSE-5).

`SSEProducer` is an async generator fed from the engine thread through a bounded queue of 256
frames: under backpressure `progress` frames are dropped, the terminal frame never is (it is not
queued at all — it is yielded once the work is done and the queue drained). Every data frame
carries an `id`; `: ping` heartbeats fill silences. `SSEResponse` sends the frames with a
per-send timeout and watches for client disconnects; either one sets the execution's cancel
token (engine.md §17) and closes the stream. Exactly one terminal event ends every stream.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Any, AsyncIterator, Awaitable, Callable

from litestar import Request, Response
from litestar.response.base import ASGIResponse
from litestar.response.streaming import ASGIStreamingResponse
from litestar.types import Receive, Send

from engine import SSE_PING, CancelToken, FrameCounter

log = logging.getLogger("virtual_server.sse")

QUEUE_FRAMES = 256
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
Terminal = tuple[str, dict[str, Any]]


class StreamStats:
    """Process-wide counters so tests against a live server can observe stream endings."""

    def __init__(self) -> None:
        self.send_timeouts = 0
        self.disconnects = 0
        self.dropped_progress = 0


class SSEProducer:
    """Frames of one stream: queued progress from the engine thread, then one terminal event."""

    def __init__(self, loop: asyncio.AbstractEventLoop, heartbeat_s: float,
                 stats: StreamStats, queue_frames: int = QUEUE_FRAMES) -> None:
        self._loop = loop
        self._heartbeat_s = heartbeat_s
        self._queue: collections.deque[tuple[str, dict[str, Any]]] = collections.deque()
        self._limit = queue_frames
        self._wake = asyncio.Event()
        self._stats = stats

    def emit(self, event: str, data: dict[str, Any]) -> None:
        """Thread-safe: called from the engine thread for progress frames."""
        self._loop.call_soon_threadsafe(self._put, event, data)

    def _put(self, event: str, data: dict[str, Any]) -> None:
        if len(self._queue) >= self._limit:
            self._stats.dropped_progress += 1  # progress may be dropped (SSE-5)
            return
        self._queue.append((event, data))
        self._wake.set()

    async def frames(self, work: Awaitable[Terminal], cancel: CancelToken,
                     on_error: Callable[[BaseException], Terminal]) -> AsyncIterator[bytes]:
        """Progress frames while `work` runs, then its terminal frame; cancel on early close."""
        task = asyncio.ensure_future(work)
        task.add_done_callback(lambda _t: self._wake.set())
        counter = FrameCounter()
        try:
            while True:
                while self._queue:
                    yield counter.frame(*self._queue.popleft())
                if task.done():
                    break
                self._wake.clear()
                if self._queue or task.done():
                    continue
                try:
                    await asyncio.wait_for(self._wake.wait(), self._heartbeat_s)
                except TimeoutError:
                    yield SSE_PING
            try:
                event, data = task.result()
            except BaseException as exc:  # noqa: BLE001 - the stream must still terminate
                event, data = on_error(exc)
            yield counter.frame(event, data)
        finally:
            if not task.done():
                cancel.cancel("client_disconnected")


class _SSEASGIResponse(ASGIStreamingResponse):
    """Streams with a per-send timeout and disconnect detection (SSE-5)."""

    def __init__(self, *, frames: AsyncIterator[bytes], cancel: CancelToken, send_timeout_s: float,
                 stats: StreamStats, **kwargs: Any) -> None:
        super().__init__(iterator=frames, **kwargs)
        self._frames = frames
        self._cancel = cancel
        self._send_timeout_s = send_timeout_s
        self._stats = stats

    async def send_body(self, send: Send, receive: Receive) -> None:
        disconnect = asyncio.ensure_future(self._wait_disconnect(receive))
        frames = self._frames
        try:
            while True:
                step = asyncio.ensure_future(frames.__anext__())
                await asyncio.wait({step, disconnect}, return_when=asyncio.FIRST_COMPLETED)
                if not step.done():
                    step.cancel()
                    self._closed_by_client()
                    return
                try:
                    chunk = step.result()
                except StopAsyncIteration:
                    break
                if not await self._timed_send(send, chunk, True, disconnect):
                    return
            await self._timed_send(send, b"", False, disconnect)
        finally:
            disconnect.cancel()
            aclose = getattr(frames, "aclose", None)
            if aclose is not None:
                try:
                    await aclose()
                except Exception:  # noqa: BLE001 - closing a finished generator may complain
                    pass

    async def _timed_send(self, send: Send, chunk: bytes, more: bool,
                          disconnect: "asyncio.Future[None]") -> bool:
        """One body message within the send timeout (servers block a send while the previous
        frame is still unsent); False when the stream must close."""
        sent = asyncio.ensure_future(send({"type": "http.response.body", "body": chunk,
                                           "more_body": more}))
        await asyncio.wait({sent, disconnect}, timeout=self._send_timeout_s,
                           return_when=asyncio.FIRST_COMPLETED)
        if sent.done():
            if sent.exception() is None:
                return True
            self._closed_by_client()  # the server could not write: the connection is gone
            return False
        sent.cancel()
        if disconnect.done():
            self._closed_by_client()
        else:
            self._stats.send_timeouts += 1
            self._cancel.cancel("client_disconnected")
            log.info("SSE send timed out after %.1fs; closing", self._send_timeout_s)
        return False

    def _closed_by_client(self) -> None:
        self._stats.disconnects += 1
        self._cancel.cancel("client_disconnected")

    @staticmethod
    async def _wait_disconnect(receive: Receive) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return


class SSEResponse(Response[Any]):
    """A Litestar response whose ASGI side is `_SSEASGIResponse`."""

    def __init__(self, frames: AsyncIterator[bytes], *, cancel: CancelToken, send_timeout_s: float,
                 stats: StreamStats) -> None:
        super().__init__(content=b"", media_type="text/event-stream", headers=dict(SSE_HEADERS),
                         status_code=200)
        self._frames = frames
        self._cancel = cancel
        self._send_timeout_s = send_timeout_s
        self._stats = stats

    def to_asgi_response(self, app: Any, request: Request[Any, Any, Any], **kwargs: Any) -> ASGIResponse:
        headers = {**(kwargs.get("headers") or {}), **self.headers}
        return _SSEASGIResponse(frames=self._frames, cancel=self._cancel,
                                send_timeout_s=self._send_timeout_s, stats=self._stats,
                                content_length=0, headers=headers, cookies=self.cookies,
                                encoded_headers=kwargs.get("encoded_headers"),
                                media_type="text/event-stream", status_code=200,
                                is_head_response=bool(kwargs.get("is_head_response")))
