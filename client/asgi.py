"""An httpx transport that calls an ASGI app in-process and streams its response.

httpx's own `ASGITransport` (and Litestar's test transport) run the app to completion and hand
back the whole body, so an SSE stream arrives in one piece after its terminal frame and closing
it early cannot reach the server. This transport returns as soon as the app has started its
response, yields body chunks as the app sends them, and tells the app the client went away
(`http.disconnect`) when the response is closed early, exactly as a socket would. Tests of
streams and cancellation therefore behave the same in-process and against a live server.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import unquote

import httpx

_END = object()
CLOSE_WAIT_S = 10.0


class _StreamedBody(httpx.AsyncByteStream):
    def __init__(self, chunks: asyncio.Queue[Any], task: asyncio.Task[None],
                 disconnected: asyncio.Event) -> None:
        self._chunks = chunks
        self._task = task
        self._disconnected = disconnected

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            chunk = await self._chunks.get()
            if chunk is _END:
                break
            yield chunk
        if self._task.done() and not self._task.cancelled() and self._task.exception():
            raise httpx.RemoteProtocolError("the app failed while sending its response") \
                from self._task.exception()

    async def aclose(self) -> None:
        """The client is done: the app sees a disconnect; give it time to wind down."""
        self._disconnected.set()
        if not self._task.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._task), CLOSE_WAIT_S)
            except Exception:  # noqa: BLE001 - a timeout, or the app failed: its own business
                self._task.cancel()


class StreamingASGITransport(httpx.AsyncBaseTransport):
    """Send requests to `app` on the running loop; response bodies stream."""

    def __init__(self, app: Any, client: tuple[str, int] = ("127.0.0.1", 50000)) -> None:
        self.app = app
        self.client = client

    def _scope(self, request: httpx.Request) -> dict[str, Any]:
        url = request.url
        port = url.port or (443 if url.scheme == "https" else 80)
        return {
            "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1", "method": request.method, "scheme": url.scheme,
            "path": unquote(url.path), "raw_path": url.raw_path.split(b"?")[0],
            "query_string": url.query, "root_path": "",
            "headers": [(k.lower(), v) for k, v in request.headers.raw],
            "server": (url.host, port), "client": self.client, "extensions": {},
        }

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        sent_body = False
        started = asyncio.Event()
        disconnected = asyncio.Event()
        chunks: asyncio.Queue[Any] = asyncio.Queue()
        head: dict[str, Any] = {}

        async def receive() -> dict[str, Any]:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            await disconnected.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                head["status"] = message["status"]
                head["headers"] = list(message.get("headers") or [])
                started.set()
            elif message["type"] == "http.response.body":
                if disconnected.is_set():
                    raise OSError("client disconnected")
                if message.get("body"):
                    chunks.put_nowait(bytes(message["body"]))
                if not message.get("more_body", False):
                    chunks.put_nowait(_END)

        async def run() -> None:
            try:
                await self.app(self._scope(request), receive, send)
            finally:
                started.set()
                chunks.put_nowait(_END)

        task = asyncio.get_running_loop().create_task(run())
        await started.wait()
        if "status" not in head:
            await asyncio.gather(task, return_exceptions=True)
            cause = task.exception() if not task.cancelled() else None
            raise httpx.RemoteProtocolError("the app sent no response") from cause
        return httpx.Response(head["status"], headers=head["headers"],
                              stream=_StreamedBody(chunks, task, disconnected), request=request)


__all__ = ["StreamingASGITransport"]
