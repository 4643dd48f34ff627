"""Running engine operations from handlers: admission, cancel tokens, outcome tasks.

Every executing request registers a cancel token under its run (PS-4) and runs as a task whose
result other requests can await (a stream opened while another execution of the run is in
progress reports that execution's outcome, wire-api.md §6.3). Engine progress reaches the
stream's queue through the sinks here; payloads and terminal frames are built in frames.py.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, TypeVar, cast

import msgspec
from litestar import Request, Response

from engine import (
    BUSY_MESSAGE,
    CancelToken,
    ExecutionError,
    Overloaded,
    ProgressEvent,
    SubActionEvent,
    WorkflowResponse,
    cancel_on_disconnect,
    error_response,
    run_progress,
    sub_action_progress,
)
from production_server.cancellation import Execution
from production_server.services import Services
from production_server.sse import FrameQueue

JSON = "application/json"
T = TypeVar("T")


def json_response(value: T, status: int = 200) -> Response[T]:
    """Encode once with msgspec so equal structs give byte-identical bodies (PS-1). The body is
    bytes; the declared type is the struct's, which is what `/schema` shows for the route."""
    return cast("Response[T]", Response(content=msgspec.json.encode(value), status_code=status,
                                        media_type=JSON))


def admit(services: Services) -> None:
    """Take an engine-pool slot now or answer 503 `overloaded` (WIRE-5, SSE-4)."""
    if not services.pool.try_admit():
        raise Overloaded(BUSY_MESSAGE)


def launch(services: Services, run_id: str, kind: str,
           work: Callable[[CancelToken], Any], *, admitted: bool = False) -> Execution:
    """Run `work(token)` in the pool as a task registered under the run until it finishes."""
    if not admitted:
        admit(services)
    execution = services.registry.register(run_id, kind)
    try:
        task = asyncio.ensure_future(services.pool.run_admitted(work, execution.token))
    except BaseException:
        services.pool.release()
        services.registry.unregister(execution)
        raise

    def finished(_: "asyncio.Future[Any]") -> None:
        services.pool.release()
        services.registry.unregister(execution)

    task.add_done_callback(finished)
    execution.task = task
    return execution


async def execute(services: Services, run_id: str, work: Callable[[CancelToken], Any],
                  request: Request[Any, Any, Any] | None = None) -> Any:
    """A non-streaming executing request: admitted, registered, awaited (shielded).

    With the `request` (its body already read), a client disconnect cancels the execution's
    token, so abandoned work stops at the next module boundary (issue 15).
    """
    execution = launch(services, run_id, "run", work)
    assert execution.task is not None
    if request is None:
        return await asyncio.shield(execution.task)
    return await cancel_on_disconnect(asyncio.shield(execution.task), request.receive,
                                      execution.token)


# ---------------------------------------------------------------------- progress sinks


def progress_sink(frames: FrameQueue, run_id: str) -> Callable[[ProgressEvent], None]:
    """Engine `ProgressSink` (called on engine threads): modules started and ticks."""

    def sink(event: ProgressEvent) -> None:
        if event.kind in ("module_started", "tick"):
            frames.put_threadsafe("progress", run_progress(run_id, event))

    return sink


def sub_action_emit(frames: FrameQueue, run_id: str) -> Callable[[SubActionEvent], None]:
    def emit(event: SubActionEvent) -> None:
        frames.put_threadsafe("progress", sub_action_progress(run_id, event))

    return emit


def execution_error_response(run_id: str, exc: ExecutionError) -> Response[WorkflowResponse]:
    return json_response(error_response(run_id, exc.error_type, exc.message, dict(exc.details)))
