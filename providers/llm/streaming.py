"""SSE reading on a helper thread with cancellation and a per-chunk watchdog (PRV-11).

The engine thread must stay responsive to its cancel token while a vendor stream is slow or
stalled, and a blocking socket read cannot be interrupted from the same thread. So a helper
thread reads the stream and posts parsed events into a queue; the calling thread waits on the
queue in slices of the cancel-check interval, which bounds cancellation latency to about one
interval and lets it enforce the chunk watchdog and the overall call deadline itself.
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import httpx

from engine.provider_types import (
    ProviderCancelled,
    ProviderError,
    ProviderTimeoutError,
    ServerError,
)


@dataclass(frozen=True)
class SSEEvent:
    event: str
    data: Any          # parsed JSON, or the raw text when it is not JSON (e.g. `[DONE]`)


def iter_sse(lines: Iterator[str]) -> Iterator[SSEEvent]:
    """Server-sent events from text lines (fields `event` and `data`; comments ignored)."""
    event, data_lines = "", list[str]()
    for line in lines:
        if line == "":
            if data_lines:
                raw = "\n".join(data_lines)
                try:
                    data: Any = json.loads(raw)
                except ValueError:
                    data = raw
                yield SSEEvent(event or "message", data)
            event, data_lines = "", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event = value
        elif name == "data":
            data_lines.append(value)
    if data_lines:
        raw = "\n".join(data_lines)
        try:
            yield SSEEvent(event or "message", json.loads(raw))
        except ValueError:
            yield SSEEvent(event or "message", raw)


@dataclass(frozen=True)
class StreamLimits:
    chunk_timeout_s: float
    check_interval_s: float
    overall_timeout_s: float


#: opens the HTTP stream and yields its events; raises ProviderError for error statuses
Opener = Callable[[Callable[[httpx.Response], None]], Iterator[SSEEvent]]

_DONE = object()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _shutdown_socket(response: httpx.Response) -> None:
    """Close the stream under a reader blocked in `recv`: `Response.close()` from another
    thread does not wake it, a socket shutdown does (the reader then sees end of stream)."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def pump_events(open_events: Opener, limits: StreamLimits, cancel: Any,
                vendor: str) -> Iterator[SSEEvent]:
    """Yield the stream's events on the calling thread while a helper thread reads them.

    `open_events(register)` runs on the helper thread; it must call `register(response)` once
    the response is open so that cancellation and the watchdog can close it. Raises
    `ProviderCancelled` on cancel, `ProviderTimeoutError` when no event arrives within the chunk
    timeout or the overall deadline passes, and re-raises the helper's errors.
    """
    items: queue.Queue[Any] = queue.Queue()
    stop = threading.Event()
    holder: dict[str, httpx.Response] = {}
    lock = threading.Lock()

    def register(response: httpx.Response) -> None:
        with lock:
            holder["response"] = response
            closing = stop.is_set()
        if closing:
            _shutdown_socket(response)

    def close() -> None:
        stop.set()
        with lock:
            response = holder.get("response")
        if response is not None:
            _shutdown_socket(response)

    def reader() -> None:
        try:
            with contextlib.closing(open_events(register)) as events:   # type: ignore[type-var]
                for item in events:
                    if stop.is_set():
                        return
                    items.put(item)
            items.put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, which decides
            if not stop.is_set():
                items.put(_Failure(exc))

    thread = threading.Thread(target=reader, name=f"llm-stream-{vendor}", daemon=True)
    thread.start()
    started = time.monotonic()
    last = started
    try:
        while True:
            if cancel is not None and cancel.is_cancelled():
                raise ProviderCancelled("Cancelled")
            try:
                item = items.get(timeout=limits.check_interval_s)
            except queue.Empty:
                now = time.monotonic()
                if now - last >= limits.chunk_timeout_s:
                    raise ProviderTimeoutError(
                        f"{vendor} stream stalled: no data for {limits.chunk_timeout_s:g} s"
                    ) from None
                if now - started >= limits.overall_timeout_s:
                    raise ProviderTimeoutError(
                        f"{vendor} call exceeded {limits.overall_timeout_s:g} s") from None
                continue
            last = time.monotonic()
            if last - started >= limits.overall_timeout_s:
                raise ProviderTimeoutError(
                    f"{vendor} call exceeded {limits.overall_timeout_s:g} s")
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        close()


def incomplete_stream(vendor: str) -> ProviderError:
    """A stream that ended without its completion event is a transient server failure."""
    return ServerError(f"{vendor} stream ended before the response was complete")
