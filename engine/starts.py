"""Starting runs in production, resetting them and reporting where they stand (engine.md §15)."""

from __future__ import annotations

from engine.commands import StartCommand
from engine.confirmation import run_source_version, start_confirmation
from engine.context import EngineContext
from engine.errors import MockNotAllowed
from engine.execution import Runner
from engine.moves import continue_run
from engine.operation import run_operation
from engine.outcomes import ExecOptions, Stop, arm_deadline
from engine.runs import create_run, point_run_at_version, store_workflow
from engine.validation import validate_workflow
from engine.wire import WorkflowResponse


def production_start(ctx: EngineContext, cmd: StartCommand) -> WorkflowResponse:
    if cmd.mock and not cmd.allow_mock:
        raise MockNotAllowed("Mock runs are not allowed on this server")
    validate_workflow(cmd.workflow, ctx.settings)  # invalid content is refused before asking
    if not cmd.confirm:
        asked = start_confirmation(ctx, cmd)
        if asked is not None:
            return asked
    opts = cmd.options
    arm_deadline(opts, ctx.settings.operation_deadline_s)
    stored = store_workflow(ctx, cmd.user_id, cmd.workflow, cmd.source_type)
    name = str(cmd.workflow["workflow_id"])
    opts.ai_config = cmd.ai_config
    active = ctx.store.find_active_run(cmd.user_id, cmd.project_name, stored.template_id, cmd.mock)
    if active is None:
        run_id = create_run(ctx, user_id=cmd.user_id, project_name=cmd.project_name,
                            stored=stored, workflow_name=name, capabilities=cmd.capabilities,
                            mock=cmd.mock, ai_config=cmd.ai_config, run_prefix="wf_")
        return continue_run(ctx, cmd.user_id, run_id, opts)
    run_id = str(active["workflow_run_id"])
    if cmd.force_new:
        reset_run(ctx, cmd.user_id, run_id, stored.source_version_id, cmd.capabilities)
        return continue_run(ctx, cmd.user_id, run_id, opts)
    source = run_source_version(ctx, active) or {}
    if source.get("content_hash") != stored.content_hash:  # confirmed (or nothing to ask)
        point_run_at_version(ctx, cmd.user_id, run_id, stored.source_version_id, cmd.capabilities)
    return continue_run(ctx, cmd.user_id, run_id, opts)


def reset_run(ctx: EngineContext, user_id: str, run_id: str,
              source_version_id: str | None = None,
              capabilities: list[str] | None = None) -> WorkflowResponse:
    """New root branch without inheritance; old branches and events stay (§15.5)."""
    if source_version_id is not None:
        point_run_at_version(ctx, user_id, run_id, source_version_id, capabilities or [])

    def body(runner: Runner) -> Stop:
        session = runner.s
        run = session.run
        branch_id = ctx.ids.new_id("br_")
        branch = {"branch_id": branch_id, "workflow_run_id": run_id,
                  "lineage": [{"branch_id": branch_id, "cutoff_sequence": None,
                               "cutoff_event_id": None}],
                  "parent_branch_id": session.branch_id, "fork_reason": "reset",
                  "created_at": ctx.clock.now()}
        session.switch_branch(branch, [])
        session.append("workflow_created", None, None, {
            "project_name": run["project_name"],
            "workflow_template_name": run["workflow_template_name"],
            "workflow_template_id": run["workflow_template_id"],
            "workflow_version_id": run["current_workflow_version_id"],
            "mock": bool(run.get("mock")), "reset": True,
            "parent_workflow_run_id": run.get("parent_workflow_run_id"),
            "execution_id": run.get("execution_id")})
        ctx.store.insert_branch(branch)
        ctx.store.update_run(run_id, {"current_branch_id": branch_id})
        run["current_branch_id"] = branch_id
        return Stop("created")

    return run_operation(ctx, user_id, run_id, ExecOptions(), body)


def resume_status(ctx: EngineContext, user_id: str, run_id: str,
                  ai_config: dict[str, object] | None = None) -> WorkflowResponse:
    """Report where a run stands without executing anything (§15.4)."""
    return run_operation(ctx, user_id, run_id, ExecOptions(ai_config=ai_config), position_stop)


def position_stop(runner: Runner) -> Stop:
    cursor = runner.s.cursor
    if cursor.phase == "awaiting_input":
        return Stop("awaiting", None, interaction_id=cursor.interaction_id)
    if cursor.phase == "completed":
        return Stop("workflow_completed")
    if cursor.phase == "failed":
        error = cursor.error or {}
        return Stop("error", None, error.get("error_type"), error.get("error"))
    return Stop("created" if cursor.phase == "start" else "processing")
