"""Refused bodies read at a bounded rate (issue 15 item 5), for uvicorn's httptools protocol.

A request refused before its body was read (admission.py) keeps its connection: uvicorn reads
the rest of the body and drops it, so the client is not reset. Left alone, the event loop reads
a readable connection up to 32 × 256 KiB in one go, so a burst of 200 refused 1 MB previews
gave loop iterations of 20–30 ms, and every `/health` poll and 503 behind them waited. Here a
connection draining such a body reads one chunk, pauses and queues; each loop iteration resumes
at most `PER_TICK` queued connections. Requests being answered are read as before.

Framework-free like the engine pool (GEN-1, GEN-4): each server binds `DrainPacing` to uvicorn's
protocol in its own `http_protocol.py`. It relies on that protocol's hooks (`on_body`,
`cycle.response_complete`); tests/e2e/test_drain_live.py fails if those change.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from typing import TYPE_CHECKING, Any, Protocol

#: draining connections resumed per loop iteration (1–16 measured alike; bench/storm_bench.py)
PER_TICK = 8


class Resumable(Protocol):
    def resume_drain(self) -> None: ...


class DrainQueue:
    """One loop's draining connections, resumed `per_tick` per iteration, oldest first. It is
    used from the loop's callbacks only, and schedules itself on the running loop."""

    def __init__(self, per_tick: int = PER_TICK) -> None:
        self._per_tick = per_tick
        self._waiting: deque[Resumable] = deque()
        self._scheduled = False

    def __len__(self) -> int:
        return len(self._waiting)

    def wait(self, connection: Resumable) -> None:
        self._waiting.append(connection)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._tick)

    def _tick(self) -> None:
        self._scheduled = False
        for _ in range(min(self._per_tick, len(self._waiting))):
            self._waiting.popleft().resume_drain()
        if self._waiting:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._tick)


#: a queue per event loop (a test process runs several, one after another or side by side)
_QUEUES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, DrainQueue] = weakref.WeakKeyDictionary()


def drain_queue(loop: asyncio.AbstractEventLoop) -> DrainQueue:
    """The queue of `loop`."""
    queue = _QUEUES.get(loop)
    if queue is None:
        queue = _QUEUES[loop] = DrainQueue()
    return queue


if TYPE_CHECKING:
    class _HttpToolsHooks:
        """What the mixin uses of uvicorn's httptools protocol (its next class in the MRO)."""

        transport: asyncio.Transport
        cycle: Any

        def on_message_begin(self) -> None: ...
        def on_body(self, body: bytes) -> None: ...
        def on_message_complete(self) -> None: ...
        def data_received(self, data: bytes) -> None: ...
else:
    _HttpToolsHooks = object


class DrainPacing(_HttpToolsHooks):
    """Mixed in before uvicorn's `HttpToolsProtocol` (each server's `http_protocol.py`): a
    request body that arrives after its answer went out is read one chunk per turn of the
    loop's drain queue."""

    _draining = False  # in a request body whose answer is already complete
    _queued = False

    def on_message_begin(self) -> None:
        self._draining = False
        super().on_message_begin()

    def on_body(self, body: bytes) -> None:
        if self.cycle.response_complete:
            self._draining = True
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._draining = False
        super().on_message_complete()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._draining and not self._queued and not self.transport.is_closing():
            self.transport.pause_reading()
            self._queued = True
            drain_queue(asyncio.get_running_loop()).wait(self)

    def resume_drain(self) -> None:
        self._queued = False
        if not self.transport.is_closing():
            self.transport.resume_reading()
