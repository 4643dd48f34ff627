"""What both clients share: the httpx client, JSON in and out with msgspec, typed errors.

A client talks to a live server (`connect(url)`) or to an app object in-process
(`for_app(app)`: the app's lifespan is run with asgi-lifespan and requests go through
`StreamingASGITransport`, so no port is needed and streams still stream). Either way it is an
async context manager that closes what it opened.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any, TypeVar

import httpx
import msgspec
from asgi_lifespan import LifespanManager

from client.asgi import StreamingASGITransport
from client.errors import StreamError, error_from_response
from client.sse import Frame, FrameStream, StreamKind

T = TypeVar("T")
C = TypeVar("C", bound="BaseClient")
DEFAULT_TIMEOUT_S = 60.0
IN_PROCESS_URL = "http://wfe.in-process"
_ENCODER = msgspec.json.Encoder()


class BaseClient:
    """Requests, decoding and lifetime; subclasses add the routes of one server."""

    def __init__(self, http: httpx.AsyncClient, *, token: str | None = None) -> None:
        self.http = http
        self.token = token
        self.access_key: str | None = None
        self.app: Any = None  # the in-process app of `for_app`
        self._run_lifespan = False
        self._stack = AsyncExitStack()

    # ---------------------------------------------------------------- construction

    @classmethod
    def connect(cls: type[C], base_url: str, *, timeout: float = DEFAULT_TIMEOUT_S,
                **kwargs: Any) -> C:
        """A client of the server at `base_url` (`async with` it, or `await aclose()`)."""
        client = cls(httpx.AsyncClient(base_url=base_url, timeout=timeout), **kwargs)
        client._stack.push_async_callback(client.http.aclose)
        return client

    @classmethod
    def for_app(cls: type[C], app: Any, *, lifespan: bool = True,
                timeout: float = DEFAULT_TIMEOUT_S, **kwargs: Any) -> C:
        """A client of an ASGI app in this process; `async with` starts and stops the app
        (`lifespan=False` when the caller runs the app's lifespan itself)."""
        http = httpx.AsyncClient(transport=StreamingASGITransport(app), base_url=IN_PROCESS_URL,
                                 timeout=timeout)
        client = cls(http, **kwargs)
        client.app, client._run_lifespan = app, lifespan
        client._stack.push_async_callback(http.aclose)
        return client

    async def __aenter__(self: C) -> C:
        if self._run_lifespan:
            self._run_lifespan = False  # once, however often the client is entered
            await self._stack.enter_async_context(LifespanManager(self.app, startup_timeout=60,
                                                                  shutdown_timeout=60))
        return self

    async def __aexit__(self, *_exc: Any) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._stack.aclose()

    # ---------------------------------------------------------------- requests

    def auth_headers(self) -> dict[str, str]:
        if self.token:
            return {"Authorization": "Bearer " + self.token}
        if self.access_key:
            return {"X-Access-Key": self.access_key}
        return {}

    def _headers(self, extra: dict[str, str] | None, body: bytes | None) -> dict[str, str]:
        headers = self.auth_headers()
        if body is not None:
            headers["Content-Type"] = "application/json"
        headers.update(extra or {})
        return headers

    @staticmethod
    def encode(body: Any) -> bytes | None:
        return None if body is None else _ENCODER.encode(body)

    async def send(self, method: str, path: str, body: Any = None, *,
                   params: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> httpx.Response:
        """One request; a 4xx/5xx answer raises the typed `ApiError`."""
        content = self.encode(body)
        response = await self.http.request(method, path, content=content, params=params,
                                           headers=self._headers(headers, content))
        if response.status_code >= 400:
            raise error_from_response(response)
        return response

    async def call(self, method: str, path: str, body: Any = None, *, into: type[T],
                   params: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> T:
        """A request whose JSON answer is decoded into `into` (a wire struct or builtins)."""
        response = await self.send(method, path, body, params=params, headers=headers)
        try:
            return msgspec.json.decode(response.content, type=into)
        except msgspec.DecodeError as exc:
            raise StreamError(f"{method} {path}: unexpected answer: {exc}") from None

    def open_stream(self, method: str, path: str, body: Any, kind: StreamKind,
               on_frame: Callable[[Frame], None] | None = None) -> FrameStream:
        """A streaming request, sent when the returned `FrameStream` is iterated or entered."""
        content = self.encode(body)

        def opener() -> Any:
            headers = self._headers({"Accept": "text/event-stream"}, content)
            return self.http.stream(method, path, content=content, headers=headers)

        return FrameStream(opener, kind, on_frame)

    async def health(self) -> dict[str, Any]:
        return await self.call("GET", "/health", into=dict[str, Any])


__all__ = ["BaseClient", "DEFAULT_TIMEOUT_S", "IN_PROCESS_URL"]
