"""The `data` of a run stream's terminal frame: our `WorkflowResponse` plus what the web UI reads.

The web UI's execution hook (`useWorkflowExecution.ts`) keeps an `interaction` frame's data as
the `InteractionRequest` itself (it reads `interaction_id`, `interaction_type`, `display_data`
at the top level), shows `message` of an `error` frame, and the first `errors[].message` of a
`validation_failed` frame. So the payload is a superset: every `WorkflowResponse` field stays
(nested `interaction_request`, `validation_errors`, ...), and the request's fields are copied to
the top level. The two structs share no field name, so nothing is overwritten.
"""

from __future__ import annotations

from typing import Any

import msgspec

from engine import WorkflowResponse


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
