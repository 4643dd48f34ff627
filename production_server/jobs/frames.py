"""Task documents as API views and SSE frames (wire-api.md §4 payloads, §6.7 task routes).

A task stores the engine's `SubActionOutcome` as builtins; the terminal frame of a job stream is
rebuilt from it with the same function the direct sub-action stream uses, so both paths emit
identical `complete` / `error` / `cancelled` payloads.
"""

from __future__ import annotations

from typing import Any

import msgspec

from db.queries import TASK_FINAL_STATUSES
from engine import (
    EngineError,
    SubActionEvent,
    SubActionOutcome,
    TaskView,
    iso_z,
    sub_action_progress,
)
from production_server.frames import Frame, sub_action_terminal

Doc = dict[str, Any]


def is_final(doc: Doc) -> bool:
    return doc.get("status") in TASK_FINAL_STATUSES


def run_of(doc: Doc) -> str:
    return str((doc.get("payload") or {}).get("workflow_run_id") or "")


def task_view(doc: Doc) -> TaskView:
    """What a client may see of a task: no params, no worker internals, never any key."""
    payload = doc.get("payload") or {}
    return TaskView(
        task_id=doc["task_id"], actor=doc.get("actor"), status=doc.get("status"),
        workflow_run_id=payload.get("workflow_run_id"),
        interaction_id=payload.get("interaction_id"),
        sub_action_id=payload.get("sub_action_id"),
        provider=doc.get("concurrency_identifier"), progress=doc.get("progress"),
        result=doc.get("result"), error=doc.get("error"),
        created_at=iso_z(doc.get("created_at")), started_at=iso_z(doc.get("started_at")),
        completed_at=iso_z(doc.get("completed_at")))


def progress_payload(run_id: str, task_id: str, event: SubActionEvent) -> Doc:
    """The sub-action `progress` frame of wire-api §4 plus the job's `task_id`."""
    return {**sub_action_progress(run_id, event), "task_id": task_id}


def queued_frame(doc: Doc) -> Frame:
    """The first frame of a job stream: tells the client which task to follow."""
    data: Doc = {"elapsed_ms": 0, "message": "Queued" if doc.get("status") == "queued"
                 else "Processing...", "status": doc.get("status")}
    data.update(doc.get("progress") or {})
    data.update({"workflow_run_id": run_of(doc), "task_id": doc["task_id"]})
    return "progress", data


def cancelled_error(reason: str) -> Doc:
    return {"error_type": "cancelled", "message": "Sub-action cancelled", "details": {},
            "reason": reason}


def terminal_frame(doc: Doc) -> Frame:
    """The one terminal frame (SSE-3) for a finished task document."""
    error = doc.get("error") or {}
    result = doc.get("result")
    outcome: SubActionOutcome | EngineError
    if result is not None:
        outcome = msgspec.convert(result, SubActionOutcome)
    else:
        outcome = EngineError(str(error.get("message") or "Sub-action failed"),
                              error_type=str(error.get("error_type") or "execution_failed"),
                              details=dict(error.get("details") or {}))
    return sub_action_terminal(run_of(doc), outcome, str(error.get("reason") or "user_cancelled"))
