"""The virtual server's operations on the run a blob holds (wire-api.md §5, VS-3, VS-4).

The server locates the blob's run once (`locate_virtual_run`, which also maps its failures to
the right error with the right blob) and hands the located id to `virtual_start` or
`virtual_respond`: store the submitted workflow, point the run at it, then run to the target.
"""

from __future__ import annotations

from typing import Any

from engine.context import EngineContext
from engine.errors import EngineError, ExecutionError, InvalidVirtualDb, NotFound
from engine.loading import load_session
from engine.moves import run_to_target
from engine.outcomes import ExecOptions, arm_deadline
from engine.progress import build_progress, error_response
from engine.respond import respond
from engine.runs import create_run, point_run_at_version, store_workflow
from engine.wire import InteractionResponseData, Target, WorkflowResponse
from engine.workflow_cache import checked_content_hash
from engine.workflow_index import WorkflowIndex

VIRTUAL_USER = "virtual_user_001"
VIRTUAL_PROJECT = "virtual_project"
Doc = dict[str, Any]


def locate_virtual_run(ctx: EngineContext, workflow: Doc | None, run_id: str | None) -> str:
    """The run a blob holds: the given id or its single top-level run (VS-4)."""
    if run_id:
        run = ctx.store.get_run(run_id)
        if run is None or run.get("parent_workflow_run_id") is not None:
            raise NotFound("Workflow run not found in virtual_db",
                           details={"workflow_run_id": run_id})
    else:
        runs = ctx.store.top_level_runs()
        if not runs:
            raise InvalidVirtualDb("virtual_db holds no run", details={"reason": "no run in blob"})
        run = runs[0]
    if workflow is not None and run.get("workflow_template_name") != workflow.get("workflow_id"):
        raise InvalidVirtualDb("virtual_db belongs to a different workflow",
                               details={"reason": "blob belongs to a different workflow",
                                        "workflow_id": run.get("workflow_template_name")})
    return str(run["workflow_run_id"])


def virtual_prepare(ctx: EngineContext, workflow: Doc, run_id: str,
                    capabilities: list[str]) -> None:
    """Store the submitted workflow and point the run at it when it changed (ENG-42)."""
    stored = store_workflow(ctx, VIRTUAL_USER, workflow, "json")
    point_run_at_version(ctx, VIRTUAL_USER, run_id, stored.source_version_id, capabilities)


def virtual_start(ctx: EngineContext, *, workflow: Doc, run_id: str | None, target: Target,
                  capabilities: list[str], opts: ExecOptions) -> WorkflowResponse:
    """`/workflow/start`: a new run (no blob, `run_id` None) or the blob's located run, then run
    to the target (VS-3, VS-4)."""
    arm_deadline(opts, ctx.settings.operation_deadline_s)
    if run_id is None:
        try:
            checked_content_hash(workflow, ctx.settings, ctx.workflow_checks)
            WorkflowIndex(workflow).require_target(target.step_id, target.module_name)
            stored = store_workflow(ctx, VIRTUAL_USER, workflow, "json")
            new_run = create_run(ctx, user_id=VIRTUAL_USER, project_name=VIRTUAL_PROJECT,
                                 stored=stored, workflow_name=str(workflow["workflow_id"]),
                                 capabilities=capabilities, mock=bool(opts.mock),
                                 ai_config=opts.ai_config, run_prefix="virtual_")
        except ExecutionError as exc:
            return error_response("", exc.error_type, exc.message, dict(exc.details))
        return run_to_target(ctx, VIRTUAL_USER, new_run, target, opts)
    try:
        virtual_prepare(ctx, workflow, run_id, capabilities)
    except ExecutionError as exc:
        return _error_for_run(ctx, run_id, exc)
    return run_to_target(ctx, VIRTUAL_USER, run_id, target, opts)


def virtual_respond(ctx: EngineContext, *, workflow: Doc, run_id: str, interaction_id: str,
                    response: InteractionResponseData, target: Target, capabilities: list[str],
                    opts: ExecOptions) -> WorkflowResponse:
    """`/workflow/respond` on the blob's located run."""
    arm_deadline(opts, ctx.settings.operation_deadline_s)
    try:
        virtual_prepare(ctx, workflow, run_id, capabilities)
    except ExecutionError as exc:
        return _error_for_run(ctx, run_id, exc)
    opts.target = target
    return respond(ctx, VIRTUAL_USER, run_id, interaction_id, response, opts)


def _error_for_run(ctx: EngineContext, run_id: str, exc: EngineError) -> WorkflowResponse:
    session = load_session(ctx, VIRTUAL_USER, run_id)
    progress = build_progress(session.index, session.cursor)
    return error_response(run_id, exc.error_type, exc.message, dict(exc.details), progress)
