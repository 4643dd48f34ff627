"""Resume with new content (engine.md §15.2 applied to `POST /workflow/{id}/resume`, issue 10).

Without confirmation the content is only compared with the run's source version: a difference
returns the confirmation question (nothing stored), equal content is an ordinary resume. With
confirmation the content is stored as a version of the user's template, the run is pointed at it
(§15.3) and execution continues from the cursor with the new definition (ENG-21 applies).
"""

from __future__ import annotations

from typing import Any

import msgspec

from engine.confirmation import resume_confirmation
from engine.context import EngineContext
from engine.errors import WorkflowInvalid
from engine.loading import require_run
from engine.moves import continue_run
from engine.outcomes import ExecOptions
from engine.runs import point_run_at_version, store_workflow
from engine.starts import resume_status
from engine.validation import validate_workflow
from engine.wire import WorkflowResponse


def resume_with_content(ctx: EngineContext, user_id: str, run_id: str,
                        workflow: dict[str, Any], source_type: str, capabilities: list[str],
                        confirm: bool, opts: ExecOptions) -> WorkflowResponse:
    run = require_run(ctx, user_id, run_id)
    validate_workflow(workflow, ctx.settings)
    if workflow.get("workflow_id") != run.get("workflow_template_name"):
        raise WorkflowInvalid(
            "The uploaded workflow is not the workflow of this run",
            details={"reason": "workflow_id differs from the run's workflow",
                     "workflow_id": workflow.get("workflow_id"),
                     "expected": run.get("workflow_template_name")})
    if not confirm:
        asked = resume_confirmation(ctx, run, workflow)
        response = asked or resume_status(ctx, user_id, run_id, opts.ai_config)
    else:
        stored = store_workflow(ctx, user_id, workflow, source_type)
        point_run_at_version(ctx, user_id, run_id, stored.source_version_id, capabilities)
        response = continue_run(ctx, user_id, run_id, opts)
    return with_project_name(response, str(run.get("project_name") or ""))


def with_project_name(response: WorkflowResponse, project_name: str) -> WorkflowResponse:
    """The web UI takes a resumed run's project name from `result.project_name`; a completed
    run's `result` is its flat state and stays untouched."""
    if response.status == "completed":
        return response
    result = dict(response.result or {})
    result.setdefault("project_name", project_name)
    return msgspec.structs.replace(response, result=result)
