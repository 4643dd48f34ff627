"""Running engine operations from handlers: admission, cancel tokens, outcome tasks, SSE frames.

Every executing request registers a cancel token under its run (PS-4) and runs as a task whose
result other requests can await (a stream opened while another execution of the run is in
progress reports that execution's outcome, wire-api.md §6.3). Engine progress is turned into the
SSE payloads of wire-api.md §4 here, so the route modules stay small.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

import msgspec
from litestar import Request, Response

from engine import (
    BUSY_MESSAGE,
    CancelToken,
    EngineError,
    ExecutionError,
    Overloaded,
    ProgressEvent,
    SubActionEvent,
    SubActionOutcome,
    WorkflowResponse,
    cancel_on_disconnect,
    error_response,
)
from production_server.cancellation import Execution
from production_server.errors import ApiError
from production_server.frames import run_frame_data
from production_server.services import Services
from production_server.sse import Frame, FrameQueue

JSON = "application/json"


def json_response(value: Any, status: int = 200) -> Response[bytes]:
    """Encode once with msgspec so equal structs give byte-identical bodies (PS-1)."""
    return Response(content=msgspec.json.encode(value), status_code=status, media_type=JSON)


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


# ---------------------------------------------------------------------- progress payloads


def _compact(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def progress_sink(frames: FrameQueue, run_id: str) -> Callable[[ProgressEvent], None]:
    """Engine `ProgressSink` (called on engine threads): modules started and ticks."""

    def sink(event: ProgressEvent) -> None:
        if event.kind not in ("module_started", "tick"):
            return
        frames.put_threadsafe("progress", _compact({
            "workflow_run_id": run_id, "elapsed_ms": event.elapsed_ms, "message": event.message,
            "step_id": event.step_id, "module_name": event.module_name}))

    return sink


def sub_action_progress(run_id: str, event: SubActionEvent) -> dict[str, Any]:
    """The `progress` payload of a sub-action event (wire-api.md §4)."""
    return _compact({
        "workflow_run_id": run_id, "elapsed_ms": event.elapsed_ms, "message": event.message,
        "execution_id": event.execution_id or None, "status": event.status,
        "progress": event.progress})


def sub_action_emit(frames: FrameQueue, run_id: str) -> Callable[[SubActionEvent], None]:
    def emit(event: SubActionEvent) -> None:
        frames.put_threadsafe("progress", sub_action_progress(run_id, event))

    return emit


# ---------------------------------------------------------------------- terminal frames

_RUN_EVENTS = {"awaiting_input": "interaction", "completed": "complete", "error": "error",
               "validation_failed": "validation_failed"}


def run_terminal(run_id: str, outcome: "asyncio.Future[Any]", token: CancelToken | None) -> Frame:
    """The one terminal frame of a run stream (SSE-3); `cancelled` never appears as `error`."""
    try:
        response = outcome.result()
    except EngineError as exc:
        if exc.error_type == "cancelled":
            return cancelled_frame(run_id, token)
        response = error_response(run_id, exc.error_type, exc.message, dict(exc.details))
    except ApiError as exc:
        response = error_response(run_id, exc.error_type, exc.message, exc.details)
    except Exception:  # noqa: BLE001 - logged by the task; the stream still ends properly
        response = error_response(run_id, "internal_error", "Internal server error", {})
    assert isinstance(response, WorkflowResponse)
    if response.status == "error" and (response.result or {}).get("error_type") == "cancelled":
        return cancelled_frame(run_id, token)
    return _RUN_EVENTS.get(response.status, "complete"), run_frame_data(response)


def cancelled_frame(run_id: str, token: CancelToken | None,
                    execution_id: str | None = None) -> Frame:
    reason = (token.reason if token is not None else None) or "user_cancelled"
    return "cancelled", _compact({"workflow_run_id": run_id, "reason": reason,
                                  "execution_id": execution_id})


def response_frame(response: WorkflowResponse) -> Frame:
    return _RUN_EVENTS.get(response.status, "complete"), run_frame_data(response)


def sub_action_terminal(run_id: str, outcome: "asyncio.Future[Any]", token: CancelToken) -> Frame:
    try:
        result: SubActionOutcome = outcome.result()
    except EngineError as exc:
        if exc.error_type == "cancelled":
            return cancelled_frame(run_id, token)
        return "error", {"workflow_run_id": run_id, "execution_id": None, "message": exc.message,
                         "error_type": exc.error_type, "details": dict(exc.details)}
    except Exception:  # noqa: BLE001
        return "error", {"workflow_run_id": run_id, "execution_id": None,
                         "message": "Internal server error", "error_type": "internal_error",
                         "details": {}}
    if result.status == "cancelled":
        return cancelled_frame(run_id, token, result.execution_id)
    if result.status == "error":
        return "error", {"workflow_run_id": run_id, "execution_id": result.execution_id,
                         "message": result.message or "", "error_type": result.error_type,
                         "details": dict(result.details)}
    return "complete", {"workflow_run_id": run_id, "execution_id": result.execution_id,
                        "sub_action_id": result.sub_action_id,
                        "interaction_id": result.interaction_id,
                        "updated_state": result.updated_state,
                        "sub_action_result": result.sub_action_result,
                        "applied": result.applied,
                        "interaction_refreshed": result.interaction_refreshed}


def execution_error_response(run_id: str, exc: ExecutionError) -> Response[bytes]:
    return json_response(error_response(run_id, exc.error_type, exc.message, dict(exc.details)))
