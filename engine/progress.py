"""Progress, run projection and response builders derived from the cursor (engine.md §7.3, ENG-9).

The run document is a projection: it is recomputed from the lineage after every operation, so
it can never drift from the events for longer than one operation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

import engine.cursor as cur
from engine.cursor import Cursor
from engine.wire import InteractionRequest, WorkflowProgress, WorkflowResponse
from engine.workflow_index import ModuleRef, WorkflowIndex


def completed_steps(events: list[dict[str, Any]]) -> list[str]:
    """Distinct step ids with a `step_completed` after their latest `step_started` (ENG-23);
    a session has them in its cursor already (`Cursor.completed_steps`)."""
    return cur.fold(events).completed_steps()


def next_module(index: WorkflowIndex, cursor: Cursor) -> ModuleRef | None:
    """The module the cursor names or will run next; None when the workflow is completed."""
    phase = cursor.phase
    if phase == cur.COMPLETED:
        return None
    if phase == cur.START:
        return index.flat[0] if index.flat else None
    if phase == cur.AFTER_MODULE:
        ref = index.find(cursor.step_id or "", cursor.module_name or "")
        if ref is None:
            return None
        return index.flat[ref.flat_index + 1] if ref.flat_index + 1 < len(index.flat) else None
    if phase == cur.AFTER_STEP:
        pos = index.step_pos.get(cursor.step_id or "")
        if pos is None:
            return None
        for step in index.steps[pos + 1:]:
            mods = index.step_modules(str(step.get("step_id")))
            if mods:
                return mods[0]
        return None
    return index.find(cursor.step_id or "", cursor.module_name or "")


def flat_position(index: WorkflowIndex, cursor: Cursor) -> int:
    """Current flat index `c` of engine.md §14.1 step 2."""
    phase = cursor.phase
    if phase == cur.START:
        return 0
    if phase == cur.COMPLETED:
        return len(index.flat)
    if phase == cur.AFTER_MODULE:
        ref = index.require_position(cursor.step_id, cursor.module_name)
        return ref.flat_index + 1
    if phase == cur.AFTER_STEP:
        pos = index.step_pos.get(cursor.step_id or "")
        if pos is None:
            index.require_position(cursor.step_id, None)
        count = 0
        for step in index.steps[: (pos or 0) + 1]:
            count += len(step.get("modules") or [])
        return count
    return index.require_position(cursor.step_id, cursor.module_name).flat_index


def build_progress(index: WorkflowIndex, cursor: Cursor) -> WorkflowProgress:
    """The progress of a run whose lineage `cursor` is folded over."""
    ref = next_module(index, cursor)
    done = cursor.completed_steps()
    if ref is None:
        if cursor.phase == cur.COMPLETED:
            return WorkflowProgress(completed_steps=done, total_steps=index.total_steps,
                                    step_index=max(index.total_steps - 1, 0))
        step_id = cursor.step_id
        pos = index.step_pos.get(step_id or "", 0)
        return WorkflowProgress(current_step=step_id,
                                current_step_name=index.step_name(step_id) if step_id else None,
                                completed_steps=done, total_steps=index.total_steps,
                                step_index=pos)
    return WorkflowProgress(
        current_step=ref.step_id,
        current_step_name=index.step_name(ref.step_id),
        current_module=ref.module_name,
        completed_steps=done,
        total_steps=index.total_steps,
        step_index=ref.step_index,
        module_index=ref.module_index,
    )


def run_status(cursor: Cursor) -> str:
    phase = cursor.phase
    if phase == cur.START:
        return "created"
    if phase == cur.AWAITING:
        return "awaiting_input"
    if phase == cur.FAILED:
        return "error"
    if phase == cur.COMPLETED:
        return "completed"
    return "processing"


def run_projection(index: WorkflowIndex, cursor: Cursor, events: list[dict[str, Any]],
                   now: datetime) -> dict[str, Any]:
    """Fields of the run document recomputed after every operation (ENG-9)."""
    progress = build_progress(index, cursor)
    status = run_status(cursor)
    completed_at = None
    if status == "completed":
        for event in reversed(events):
            if event["event_type"] == "workflow_completed":
                completed_at = event["timestamp"]
                break
    error = cursor.error if status == "error" else None
    return {
        "status": status,
        "current_step": progress.current_step,
        "current_step_name": progress.current_step_name,
        "current_module": progress.current_module,
        "completed_steps": progress.completed_steps,
        "error_type": (error or {}).get("error_type"),
        "error_message": (error or {}).get("error"),
        "updated_at": now,
        "completed_at": completed_at,
    }


def request_from_event(event: dict[str, Any]) -> InteractionRequest:
    return msgspec.convert(event["data"]["request"], InteractionRequest)


def awaiting_response(run_id: str, progress: WorkflowProgress, request: InteractionRequest,
                      module_name: str, result: dict[str, Any] | None = None) -> WorkflowResponse:
    return WorkflowResponse(workflow_run_id=run_id, status="awaiting_input",
                            message="Awaiting input for " + module_name, progress=progress,
                            interaction_request=request, result=result)


def error_response(run_id: str, error_type: str, message: str, details: dict[str, Any],
                   progress: WorkflowProgress | None = None,
                   extra: dict[str, Any] | None = None) -> WorkflowResponse:
    result: dict[str, Any] = {"error_type": error_type, "details": details}
    if extra:
        result.update(extra)
    return WorkflowResponse(workflow_run_id=run_id, status="error", message=message,
                            progress=progress, result=result, error=message)
