"""Terminal frames of the production streams, built from values (SSE-3), never from tasks.

The `data` of a run stream's terminal frame is our `WorkflowResponse` plus what the web UI reads.

The web UI's execution hook (`useWorkflowExecution.ts`) keeps an `interaction` frame's data as
the `InteractionRequest` itself (it reads `interaction_id`, `interaction_type`, `display_data`
at the top level), shows `message` of an `error` frame, and the first `errors[].message` of a
`validation_failed` frame. So the payload is a superset: every `WorkflowResponse` field stays
(nested `interaction_request`, `validation_errors`, ...), and the request's fields are copied to
the top level. The two structs share no field name, so nothing is overwritten.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec

from engine import (
    EngineError,
    SubActionOutcome,
    WorkflowResponse,
    cancelled_frame,
    error_response,
    sub_action_error_frame,
    sub_action_frame,
)
from production_server.errors import ApiError

Frame = tuple[str, dict[str, Any]]
#: what an execution ended with: its result, or the exception it raised
Outcome = object

_RUN_EVENTS = {"awaiting_input": "interaction", "completed": "complete", "error": "error",
               "validation_failed": "validation_failed"}


def run_frame_data(response: WorkflowResponse) -> dict[str, Any]:
    """`WorkflowResponse` as builtins, widened for the web UI (issue 10, wire-api.md §4)."""
    data: dict[str, Any] = msgspec.to_builtins(response)
    request = data.get("interaction_request")
    if response.status == "awaiting_input" and isinstance(request, dict):
        for key, value in request.items():
            data.setdefault(key, value)
    if response.status == "validation_failed":
        data["errors"] = data.get("validation_errors") or []
        data["warnings"] = data.get("validation_warnings") or []
    if response.status == "error" and not data.get("message"):
        data["message"] = response.error or "Workflow failed"
    return data


def outcome_of(task: asyncio.Future[Any]) -> Outcome:
    """A finished task's result, or the exception it raised (as a value)."""
    try:
        return task.result()
    except BaseException as exc:  # noqa: BLE001 - the stream reports it as its terminal frame
        return exc


def response_frame(response: WorkflowResponse) -> Frame:
    return _RUN_EVENTS.get(response.status, "complete"), run_frame_data(response)


def run_terminal(run_id: str, outcome: Outcome, reason: str | None) -> Frame:
    """The one terminal frame of a run stream (SSE-3); `cancelled` never appears as `error`."""
    if isinstance(outcome, EngineError):
        if outcome.error_type == "cancelled":
            return cancelled_frame(run_id, reason)
        outcome = error_response(run_id, outcome.error_type, outcome.message,
                                 dict(outcome.details))
    elif isinstance(outcome, ApiError):
        outcome = error_response(run_id, outcome.error_type, outcome.message, outcome.details)
    elif isinstance(outcome, BaseException):  # logged by the task; the stream still ends
        outcome = error_response(run_id, "internal_error", "Internal server error", {})
    assert isinstance(outcome, WorkflowResponse)
    if outcome.status == "error" and (outcome.result or {}).get("error_type") == "cancelled":
        return cancelled_frame(run_id, reason)
    return response_frame(outcome)


def sub_action_terminal(run_id: str, outcome: Outcome, reason: str | None) -> Frame:
    """The one terminal frame of a sub-action stream, direct or run as a media job."""
    if isinstance(outcome, EngineError):
        if outcome.error_type == "cancelled":
            return cancelled_frame(run_id, reason)
        return sub_action_error_frame(run_id, outcome.error_type, outcome.message,
                                      outcome.details)
    if isinstance(outcome, BaseException):
        return sub_action_error_frame(run_id, "internal_error", "Internal server error", {})
    assert isinstance(outcome, SubActionOutcome)
    return sub_action_frame(run_id, outcome, reason)
