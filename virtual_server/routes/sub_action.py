"""`POST /workflow/sub-action` (§5.4): pre-stream checks as JSON errors, then an SSE stream.

One engine-pool slot is taken before anything else (admission 503 happens before the stream,
SSE-4) and is held through both phases — the checks and the sub-action itself — until the work
finishes in its thread, so a client that disconnects cannot make room for more work than the
pool admits while its cancelled sub-action is still winding down.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, AsyncIterator, Callable, TypeVar

from litestar import Request, post
from litestar.di import NamedDependency

from engine import (
    BUSY_MESSAGE,
    CancelToken,
    EnginePool,
    Overloaded,
    VirtualSubActionRequest,
)
from virtual_server.bodies import body_of
from virtual_server.errors import ApiError
from virtual_server.gcpause import without_gc
from virtual_server.openapi import streams
from virtual_server.runtime import runtime
from virtual_server.service import (
    prepare_sub_action,
    run_sub_action,
    sub_action_failure,
)
from virtual_server.sse import SSEProducer, SSEResponse

T = TypeVar("T")


class _Slot:
    """One admitted pool slot, released exactly once."""

    def __init__(self, pool: EnginePool) -> None:
        self._pool = pool
        self._lock = threading.Lock()
        self._held = True

    def release(self) -> None:
        with self._lock:
            if self._held:
                self._held = False
                self._pool.release()

    def releasing(self, fn: Callable[..., T]) -> Callable[..., T]:
        """`fn` wrapped so the slot is freed when it finishes in its worker thread."""
        def call(*args: Any) -> T:
            try:
                return fn(*args)
            finally:
                self.release()
        return call


@post("/workflow/sub-action", status_code=200, summary="Run a sub-action (SSE stream)",
      media_type="text/event-stream", dependencies=body_of(VirtualSubActionRequest),
      **streams(404, 409, 413, frames="`progress` frames, then one terminal frame: `complete`, "
                "`error` or `cancelled` (wire-api.md §4)"))
async def sub_action(request: Request[Any, Any, Any],
                     payload: NamedDependency[VirtualSubActionRequest]) -> SSEResponse:
    rt = runtime(request)
    if not rt.pool.try_admit():
        raise ApiError.from_engine(Overloaded(BUSY_MESSAGE), virtual_db=payload.virtual_db)
    slot = _Slot(rt.pool)
    try:
        prepared = await rt.pool.run_admitted(without_gc(prepare_sub_action), rt.service, payload)
    except BaseException:
        slot.release()
        raise
    cancel = CancelToken()
    producer = SSEProducer(asyncio.get_running_loop(), rt.settings.sse_heartbeat_s, rt.stats)
    work = asyncio.ensure_future(rt.pool.run_admitted(
        slot.releasing(without_gc(run_sub_action)), rt.service, prepared,
        lambda frame: producer.emit("progress", frame), cancel))
    run_id = prepared.run_id

    async def frames() -> AsyncIterator[bytes]:
        async for frame in producer.frames(
                work, cancel, lambda exc: sub_action_failure(run_id, payload.virtual_db, exc)):
            yield frame

    return SSEResponse(frames(), cancel=cancel, send_timeout_s=rt.settings.sse_send_timeout_s,
                       stats=rt.stats)
