"""Typed SSE frames and the stream object both clients return (wire-api.md §4).

A `FrameStream` is an async iterator of `Frame`s and an async context manager. The request is
sent when iteration (or the `async with`) starts; a request error before the stream is raised as
the typed `ApiError` (SSE-4). Iteration ends after the one terminal frame (SSE-3); a stream that
ends without one raises `StreamError`. Leaving the `async with` block early (or `aclose()`)
closes the connection, which the servers treat as a client disconnect and cancel the work
(SSE-5); a `break` inside the block does not, so iteration can go on later.
Frame lines are parsed by httpx-sse; `: ping` heartbeats never surface.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import msgspec
from httpx_sse import EventSource, SSEError

from client.errors import StreamError, error_from_response
from engine import (
    RUN_TERMINAL_EVENTS,
    SUB_ACTION_TERMINAL_EVENTS,
    CancelledFrame,
    ProgressFrame,
    StartedFrame,
    SubActionComplete,
    SubActionError,
    WorkflowResponse,
)

StreamKind = Literal["run", "sub_action"]

_RUN_TYPES: dict[str, type] = {
    "started": StartedFrame, "progress": ProgressFrame, "cancelled": CancelledFrame,
    "interaction": WorkflowResponse, "complete": WorkflowResponse, "error": WorkflowResponse,
    "validation_failed": WorkflowResponse,
}
_SUB_ACTION_TYPES: dict[str, type] = {
    "progress": ProgressFrame, "complete": SubActionComplete, "error": SubActionError,
    "cancelled": CancelledFrame,
}
_TERMINALS = {"run": RUN_TERMINAL_EVENTS, "sub_action": SUB_ACTION_TERMINAL_EVENTS}


@dataclass(frozen=True)
class Frame:
    """One frame: its event name, `id`, typed `data` and the raw JSON object.

    `data` is a `StartedFrame`, `ProgressFrame`, `CancelledFrame`, `WorkflowResponse` (run
    terminals), `SubActionComplete` or `SubActionError`; an event this client does not know
    keeps its raw dict."""

    event: str
    id: int | None
    data: Any
    raw: dict[str, Any]
    terminal: bool

    @property
    def workflow_run_id(self) -> str:
        return str(self.raw.get("workflow_run_id", ""))


def decode_frame(kind: StreamKind, event: str, data: str, frame_id: str | None) -> Frame:
    """Decode one frame of a `kind` stream; malformed JSON or shapes raise `StreamError`."""
    try:
        raw = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise StreamError(f"frame {event!r} is not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise StreamError(f"frame {event!r} is not a JSON object")
    target = (_RUN_TYPES if kind == "run" else _SUB_ACTION_TYPES).get(event)
    try:
        typed = msgspec.convert(raw, target) if target is not None else raw
    except msgspec.ValidationError as exc:
        raise StreamError(f"frame {event!r} does not match its shape: {exc}") from None
    number = int(frame_id) if frame_id and frame_id.isdigit() else None
    return Frame(event, number, typed, raw, event in _TERMINALS[kind])


Opener = Callable[[], AbstractAsyncContextManager[httpx.Response]]


class FrameStream:
    """The frames of one streaming request (see the module docstring)."""

    def __init__(self, opener: Opener, kind: StreamKind,
                 on_frame: Callable[[Frame], None] | None = None) -> None:
        self._opener = opener
        self.kind: StreamKind = kind
        self._on_frame = on_frame
        self._stack: AsyncExitStack | None = None
        self._response: httpx.Response | None = None
        self.frames: list[Frame] = []
        self.terminal: Frame | None = None
        self._iterator: AsyncIterator[Frame] | None = None

    async def __aenter__(self) -> FrameStream:
        await self._open()
        return self

    async def __aexit__(self, *_exc: Any) -> None:
        await self.aclose()

    async def _open(self) -> httpx.Response:
        if self._response is not None:
            return self._response
        stack = AsyncExitStack()
        try:
            response = await stack.enter_async_context(self._opener())
            if response.status_code >= 400:
                await response.aread()
                raise error_from_response(response)
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                await response.aread()
                raise StreamError(f"expected an event stream, got {response.status_code} "
                                  f"{response.headers.get('content-type')!r}: "
                                  f"{response.text[:200]}")
        except BaseException:
            await stack.aclose()
            raise
        self._stack, self._response = stack, response
        return response

    async def aclose(self) -> None:
        """Close the connection (early: the server cancels the work)."""
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    def __aiter__(self) -> AsyncIterator[Frame]:
        """One iterator per stream: a second `async for` continues where a `break` left."""
        if self._iterator is None:
            self._iterator = self._iterate()
        return self._iterator

    async def _iterate(self) -> AsyncIterator[Frame]:
        response = await self._open()
        try:
            async for sse in EventSource(response).aiter_sse():
                frame = decode_frame(self.kind, sse.event, sse.data, sse.id)
                self.frames.append(frame)
                if frame.terminal:
                    self.terminal = frame
                if self._on_frame is not None:
                    self._on_frame(frame)
                yield frame
                if frame.terminal:
                    return
        except SSEError as exc:
            raise StreamError(str(exc)) from None
        finally:
            await self.aclose()
        raise StreamError("the stream ended without a terminal frame")

    async def collect(self) -> list[Frame]:
        """Every frame up to and including the terminal one."""
        async for _frame in self:
            pass
        return self.frames

    async def result(self) -> Frame:
        """Run the stream to its end and return the terminal frame."""
        await self.collect()
        assert self.terminal is not None
        return self.terminal


__all__ = ["Frame", "FrameStream", "StreamKind", "decode_frame"]
