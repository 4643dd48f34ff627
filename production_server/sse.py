"""Server-Sent Events: a bounded frame queue fed by engine threads and an ASGI response with a
per-send timeout (wire-api.md §4, SSE-1…SSE-5).

Engine threads never touch the stream: they hand frames to the loop with `call_soon_threadsafe`
and the queue (256 frames) drops `progress` frames when full. Terminal frames never go through
the queue; the producer yields them itself after the work finished, so they cannot be dropped.
A client that goes away, or does not take a frame within `WFE_SSE_SEND_TIMEOUT_S`, triggers
`on_abort` (which cancels the execution, engine.md §17); `on_close` always runs once.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator, Callable, Iterable

from litestar import Request
from litestar.response import Stream
from litestar.response.base import ASGIResponse
from litestar.types import Receive, Send

from engine import SSE_PING, FrameCounter

QUEUE_FRAMES = 256
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
Frame = tuple[str, dict[str, Any]]


class FrameQueue:
    """Thread-safe producer side, loop-side consumer; drops progress frames under backpressure."""

    def __init__(self, loop: asyncio.AbstractEventLoop, maxsize: int = QUEUE_FRAMES) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[Frame] = asyncio.Queue(maxsize=maxsize)
        self.dropped = 0
        self.began = asyncio.Event()  # set by the first frame the producer sends
        self.last_progress: dict[str, Any] | None = None

    def _put(self, frame: Frame) -> None:
        self.began.set()
        if frame[0] == "progress":
            self.last_progress = frame[1]
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.dropped += 1

    def put_threadsafe(self, event: str, data: dict[str, Any]) -> None:
        try:
            self.loop.call_soon_threadsafe(self._put, (event, data))
        except RuntimeError:  # loop closed during shutdown
            pass

    def put(self, event: str, data: dict[str, Any]) -> None:
        self._put((event, data))


async def pump(frames: FrameQueue, work: "asyncio.Future[Any]", *, interval_s: float,
               heartbeat_s: float, tick: Callable[[float], Frame | None],
               counter: FrameCounter) -> AsyncIterator[bytes]:
    """Yield queued frames, progress ticks and heartbeats until `work` is done, then drain."""
    started = time.monotonic()
    last_progress = last_write = started
    getter: asyncio.Future[Frame] = asyncio.ensure_future(frames.queue.get())
    try:
        while True:
            timeout = max(0.01, min(interval_s - (time.monotonic() - last_progress),
                                    heartbeat_s - (time.monotonic() - last_write)))
            done, _ = await asyncio.wait({getter, work}, timeout=timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
            now = time.monotonic()
            if getter in done:
                event, data = getter.result()
                getter = asyncio.ensure_future(frames.queue.get())
                yield counter.frame(event, data)
                last_write = now
                if event == "progress":
                    last_progress = now
                continue
            if work in done:
                break
            if now - last_progress >= interval_s:
                ticked = tick((now - started) * 1000)
                last_progress = now
                if ticked is not None:
                    yield counter.frame(*ticked)
                    last_write = now
                    continue
            if now - last_write >= heartbeat_s:
                yield SSE_PING
                last_write = now
    finally:
        if getter.done() and not getter.cancelled():
            frames.queue.put_nowait(getter.result())
        else:
            getter.cancel()
    while not frames.queue.empty():
        event, data = frames.queue.get_nowait()
        yield counter.frame(event, data)


class _SendTimeout(Exception):
    """The client did not take a frame within the send timeout."""


class _TimedSSE:
    """Wraps Litestar's streaming response: times out slow sends, reports aborts and closing."""

    def __init__(self, inner: ASGIResponse, iterator: Any, send_timeout_s: float,
                 on_abort: Callable[[str], None], on_close: Callable[[], None]) -> None:
        self.inner = inner
        self.iterator = iterator
        self.send_timeout_s = send_timeout_s
        self.on_abort = on_abort
        self.on_close = on_close
        self.completed = False

    async def __call__(self, scope: Any, receive: Receive, send: Send) -> None:
        async def timed_send(message: Any) -> None:
            if message.get("type") == "http.response.body" and message.get("more_body"):
                try:
                    await asyncio.wait_for(send(message), self.send_timeout_s)
                except TimeoutError:
                    raise _SendTimeout() from None
                return
            await send(message)
            if message.get("type") == "http.response.body":
                self.completed = True

        try:
            await self.inner(scope, receive, timed_send)
        except _SendTimeout:
            pass
        except BaseExceptionGroup as group:  # anyio task group around the stream
            if not group.subgroup(_SendTimeout):
                raise
        finally:
            try:
                if not self.completed:
                    self.on_abort("client_disconnected")
                closer = getattr(self.iterator, "aclose", None)
                if closer is not None:
                    await closer()
            finally:
                self.on_close()


class SSEStream(Stream):
    """A `Stream` with the send timeout and abort/close hooks of SSE-5."""

    def __init__(self, content: AsyncIterator[bytes], *, send_timeout_s: float,
                 on_abort: Callable[[str], None], on_close: Callable[[], None]) -> None:
        super().__init__(content, media_type="text/event-stream", headers=SSE_HEADERS)
        self._content = content
        self._sse = (send_timeout_s, on_abort, on_close)

    def to_asgi_response(self, app: Any, request: Request[Any, Any, Any], **kwargs: Any) -> Any:
        kwargs["media_type"] = "text/event-stream"  # the handler's default would be JSON
        base = super().to_asgi_response(app, request, **kwargs)
        return _TimedSSE(base, self._content, *self._sse)


def once(frames: Iterable[Frame]) -> AsyncIterator[bytes]:
    """A stream of fixed frames (replays, already-known outcomes)."""
    counter = FrameCounter()

    async def gen() -> AsyncIterator[bytes]:
        for event, data in frames:
            yield counter.frame(event, data)

    return gen()
