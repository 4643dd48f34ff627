"""Turning a `Stop` into the `WorkflowResponse` of wire-api.md WIRE-9."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.progress import awaiting_response, build_progress, error_response, request_from_event
from engine.wire import WorkflowResponse

if TYPE_CHECKING:
    from engine.execution import Runner, Stop


def response_for_stop(runner: "Runner", stop: "Stop") -> WorkflowResponse:
    s = runner.s
    progress = build_progress(s.index, s.cursor)
    extra: dict[str, Any] = {}
    if runner.opts.auto_respond is not None:
        extra["auto_responses"] = list(runner.auto_responses)
    run_id = s.run_id
    if stop.kind == "awaiting":
        interaction_id = stop.interaction_id or s.cursor.interaction_id or ""
        event = s.latest_request_event(interaction_id)
        if event is None:
            return error_response(run_id, "execution_failed", "Pending interaction not found", {},
                                  progress, extra or None)
        request = request_from_event(event)
        module_name = str(event.get("module_name"))
        return awaiting_response(run_id, progress, request, module_name, extra or None)
    if stop.kind == "validation_failed":
        event = s.latest_request_event(stop.interaction_id or "")
        pending = request_from_event(event) if event is not None else None
        return WorkflowResponse(workflow_run_id=run_id, status="validation_failed",
                                message="Response validation failed", progress=progress,
                                interaction_request=pending, result=extra or None,
                                validation_errors=list(stop.validation_errors),
                                validation_warnings=list(stop.validation_warnings))
    if stop.kind == "target_completed":
        ref = stop.ref
        assert ref is not None
        outputs = None
        for event in reversed(s.events):
            if event["event_type"] == "module_completed" and event.get("module_name") == ref.module_name:
                outputs = event["data"].get("outputs")
                break
        result = {"module_outputs": outputs,
                  "target": {"step_id": ref.step_id, "module_name": ref.module_name},
                  "workflow_completed": s.cursor.phase == "completed"}
        result.update(extra)
        return WorkflowResponse(workflow_run_id=run_id, status="completed",
                                message="Target module executed", progress=progress, result=result)
    if stop.kind == "workflow_completed":
        result = dict(s.state)
        if runner.opts.target is not None:
            result = {"module_outputs": None, "target": {
                "step_id": runner.opts.target.step_id,
                "module_name": runner.opts.target.module_name}, "workflow_completed": True}
        result.update(extra)
        return WorkflowResponse(workflow_run_id=run_id, status="completed",
                                message="Workflow completed", progress=progress, result=result)
    if stop.kind in ("created", "processing"):
        message = "Workflow ready" if stop.kind == "created" else "Workflow is processing"
        return WorkflowResponse(workflow_run_id=run_id, status=stop.kind, message=message,
                                progress=progress, result=extra or None)
    if stop.kind == "cancelled":
        return error_response(run_id, "cancelled", "Execution cancelled", {}, progress,
                              extra or None)
    return error_response(run_id, stop.error_type or "execution_failed",
                          stop.message or "Execution failed", stop.details, progress,
                          extra or None)
