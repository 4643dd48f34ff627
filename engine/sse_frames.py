"""SSE framing and the frame payloads both servers send, framework-free (wire-api.md §4, SSE-1).

Each payload is built here once: the production run and sub-action streams, its media job
streams and the virtual sub-action stream all call these, so the same event carries the same
fields whichever server sends it (the virtual server only adds its blob and state).
"""

from __future__ import annotations

from typing import Any

import msgspec

from engine.wire import ProgressEvent, SubActionEvent, SubActionOutcome

_encoder = msgspec.json.Encoder()

SSE_PING = b": ping\n\n"
Payload = dict[str, Any]
#: (event name, data) of one frame before it is numbered and encoded
Frame = tuple[str, Payload]


def sse_frame(event: str, data: Any, frame_id: int | None = None) -> bytes:
    """Encode one SSE frame: `id`, `event` and a single-line JSON `data` (SSE-1)."""
    head = b"" if frame_id is None else b"id: %d\n" % frame_id
    return head + b"event: " + event.encode() + b"\ndata: " + _encoder.encode(data) + b"\n\n"


class FrameCounter:
    """`id:` numbering of one stream's frames, starting at 1 (SSE-1)."""

    def __init__(self) -> None:
        self._next = 1

    def frame(self, event: str, data: Any) -> bytes:
        frame_id, self._next = self._next, self._next + 1
        return sse_frame(event, data, frame_id)


def _compact(data: Payload) -> Payload:
    return {k: v for k, v in data.items() if v is not None}


def run_progress(run_id: str, event: ProgressEvent) -> Payload:
    """The `progress` payload of a run stream (module started, or a module's tick)."""
    return _compact({"workflow_run_id": run_id, "elapsed_ms": event.elapsed_ms,
                     "message": event.message, "step_id": event.step_id,
                     "module_name": event.module_name})


def sub_action_progress(run_id: str, event: SubActionEvent) -> Payload:
    """The `progress` payload of a sub-action."""
    return _compact({"workflow_run_id": run_id, "elapsed_ms": event.elapsed_ms,
                     "message": event.message, "execution_id": event.execution_id or None,
                     "status": event.status, "progress": event.progress})


def cancelled_frame(run_id: str, reason: str | None, execution_id: str | None = None) -> Frame:
    """`cancelled`: the terminal frame of a cancelled run or sub-action, never an `error`."""
    return "cancelled", _compact({"workflow_run_id": run_id, "reason": reason or "user_cancelled",
                                  "execution_id": execution_id})


def sub_action_error_frame(run_id: str, error_type: str, message: str, details: Payload,
                           execution_id: str | None = None) -> Frame:
    return "error", {"workflow_run_id": run_id, "execution_id": execution_id,
                     "message": message, "error_type": error_type, "details": dict(details)}


def sub_action_frame(run_id: str, outcome: SubActionOutcome, reason: str | None) -> Frame:
    """The one terminal frame (SSE-3) for a sub-action's outcome; `reason` names who cancelled."""
    if outcome.status == "cancelled":
        return cancelled_frame(run_id, reason, outcome.execution_id)
    if outcome.status == "error":
        return sub_action_error_frame(run_id, outcome.error_type or "execution_failed",
                                      outcome.message or "Sub-action failed", outcome.details,
                                      outcome.execution_id)
    return "complete", {"workflow_run_id": run_id, "execution_id": outcome.execution_id,
                        "sub_action_id": outcome.sub_action_id,
                        "interaction_id": outcome.interaction_id,
                        "updated_state": outcome.updated_state,
                        "sub_action_result": outcome.sub_action_result,
                        "applied": outcome.applied,
                        "interaction_refreshed": outcome.interaction_refreshed}
