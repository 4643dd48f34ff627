"""Starting runs (production and virtual), reset and resume (engine.md §15, wire-api.md VS-3/VS-4)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.errors import (
    EngineError,
    ExecutionError,
    InvalidVirtualDb,
    MockNotAllowed,
    NotFound,
)
from engine.confirmation import run_source_version, start_confirmation
from engine.execution import ExecOptions, Stop, arm_deadline
from engine.progress import build_progress, error_response, request_from_event
from engine.session import RunSession
from engine.validation import validate_workflow
from engine.wire import InteractionResponseData, Target, WorkflowResponse
from engine.workflow_index import WorkflowIndex

if TYPE_CHECKING:
    from engine.processor import StartCommand, WorkflowEngine

VIRTUAL_USER = "virtual_user_001"
VIRTUAL_PROJECT = "virtual_project"


def production_start(eng: "WorkflowEngine", cmd: "StartCommand") -> WorkflowResponse:
    if cmd.mock and not cmd.allow_mock:
        raise MockNotAllowed("Mock runs are not allowed on this server")
    validate_workflow(cmd.workflow, eng.settings)  # invalid content is refused before asking
    if not cmd.confirm:
        asked = start_confirmation(eng, cmd)
        if asked is not None:
            return asked
    opts = cmd.options
    arm_deadline(opts, eng.settings.operation_deadline_s)
    stored = eng.store_workflow(cmd.user_id, cmd.workflow, cmd.source_type)
    name = str(cmd.workflow["workflow_id"])
    opts.ai_config = cmd.ai_config
    active = eng.store.find_active_run(cmd.user_id, cmd.project_name, stored.template_id, cmd.mock)
    if active is None:
        run_id = eng.create_run(user_id=cmd.user_id, project_name=cmd.project_name, stored=stored,
                                workflow_name=name, capabilities=cmd.capabilities, mock=cmd.mock,
                                ai_config=cmd.ai_config, run_prefix="wf_")
        return eng.continue_run(cmd.user_id, run_id, opts)
    run_id = str(active["workflow_run_id"])
    if cmd.force_new:
        reset_run(eng, cmd.user_id, run_id, stored.source_version_id, cmd.capabilities)
        return eng.continue_run(cmd.user_id, run_id, opts)
    source = run_source_version(eng, active) or {}
    if source.get("content_hash") != stored.content_hash:  # confirmed (or nothing to ask)
        eng.point_run_at_version(cmd.user_id, run_id, stored.source_version_id, cmd.capabilities)
    return eng.continue_run(cmd.user_id, run_id, opts)


def reset_run(eng: "WorkflowEngine", user_id: str, run_id: str,
              source_version_id: str | None = None,
              capabilities: list[str] | None = None) -> WorkflowResponse:
    """New root branch without inheritance; old branches and events stay (§15.5)."""
    if source_version_id is not None:
        eng.point_run_at_version(user_id, run_id, source_version_id, capabilities or [])
    with eng.locks.hold(run_id):
        session = eng.load(user_id, run_id)
        run = session.run
        branch_id = eng.ids.new_id("br_")
        now = eng.clock.now()
        branch = {"branch_id": branch_id, "workflow_run_id": run_id,
                  "lineage": [{"branch_id": branch_id, "cutoff_sequence": None,
                               "cutoff_event_id": None}],
                  "parent_branch_id": session.branch_id, "fork_reason": "reset",
                  "created_at": now}
        session.switch_branch(branch, [])
        session.append("workflow_created", None, None, {
            "project_name": run["project_name"], "workflow_template_name": run["workflow_template_name"],
            "workflow_template_id": run["workflow_template_id"],
            "workflow_version_id": run["current_workflow_version_id"], "mock": bool(run.get("mock")),
            "reset": True, "parent_workflow_run_id": run.get("parent_workflow_run_id"),
            "execution_id": run.get("execution_id")})
        eng.store.insert_branch(branch)
        eng.store.update_run(run_id, {"current_branch_id": branch_id})
        run["current_branch_id"] = branch_id
        runner = eng._runner(session, ExecOptions())
        response = eng.finish(runner, Stop("created"))
    return response


def resume_status(eng: "WorkflowEngine", user_id: str, run_id: str,
                  ai_config: dict[str, Any] | None) -> WorkflowResponse:
    """Report where a run stands without executing anything (§15.4)."""
    with eng.locks.hold(run_id):
        session = eng.load(user_id, run_id)
        runner = eng._runner(session, ExecOptions(ai_config=ai_config))
        phase = session.cursor.phase
        if phase == "awaiting_input":
            return eng.finish(runner, Stop("awaiting", None,
                                           interaction_id=session.cursor.interaction_id))
        if phase == "completed":
            return eng.finish(runner, Stop("workflow_completed"))
        if phase == "failed":
            error = session.cursor.error or {}
            return eng.finish(runner, Stop("error", None, error.get("error_type"),
                                           error.get("error")))
        return eng.finish(runner, Stop("created" if phase == "start" else "processing"))


# ---------------------------------------------------------------------- virtual server


def locate_virtual_run(eng: "WorkflowEngine", workflow: dict[str, Any] | None,
                       run_id: str | None) -> str:
    """The run a blob holds: the given id or its single top-level run (VS-4)."""
    if run_id:
        run = eng.store.get_run(run_id)
        if run is None or run.get("parent_workflow_run_id") is not None:
            raise NotFound("Workflow run not found in virtual_db",
                           details={"workflow_run_id": run_id})
    else:
        runs = eng.store.top_level_runs()
        if not runs:
            raise InvalidVirtualDb("virtual_db holds no run", details={"reason": "no run in blob"})
        run = runs[0]
    if workflow is not None and run.get("workflow_template_name") != workflow.get("workflow_id"):
        raise InvalidVirtualDb("virtual_db belongs to a different workflow",
                               details={"reason": "blob belongs to a different workflow",
                                        "workflow_id": run.get("workflow_template_name")})
    return str(run["workflow_run_id"])


def virtual_prepare(eng: "WorkflowEngine", workflow: dict[str, Any], run_id: str,
                    capabilities: list[str]) -> None:
    """Store the submitted workflow and point the run at it when it changed (ENG-42)."""
    stored = eng.store_workflow(VIRTUAL_USER, workflow, "json")
    eng.point_run_at_version(VIRTUAL_USER, run_id, stored.source_version_id, capabilities)


def virtual_start(eng: "WorkflowEngine", *, workflow: dict[str, Any], has_blob: bool,
                  run_id: str | None, target: Target, capabilities: list[str],
                  opts: ExecOptions) -> WorkflowResponse:
    """`/workflow/start`: create or locate the run, then run to the target (VS-3, VS-4)."""
    arm_deadline(opts, eng.settings.operation_deadline_s)
    if not has_blob:
        try:
            validate_workflow(workflow, eng.settings)
            WorkflowIndex(workflow).require_target(target.step_id, target.module_name)
        except ExecutionError as exc:
            return error_response("", exc.error_type, exc.message, dict(exc.details))
        try:
            stored = eng.store_workflow(VIRTUAL_USER, workflow, "json")
            new_run = eng.create_run(user_id=VIRTUAL_USER, project_name=VIRTUAL_PROJECT,
                                     stored=stored, workflow_name=str(workflow["workflow_id"]),
                                     capabilities=capabilities, mock=bool(opts.mock),
                                     ai_config=opts.ai_config, run_prefix="virtual_")
        except ExecutionError as exc:
            return error_response("", exc.error_type, exc.message, dict(exc.details))
        return eng.run_to_target(VIRTUAL_USER, new_run, target, opts)
    found = locate_virtual_run(eng, workflow, run_id)
    try:
        virtual_prepare(eng, workflow, found, capabilities)
    except ExecutionError as exc:
        return _error_for_run(eng, found, exc)
    return eng.run_to_target(VIRTUAL_USER, found, target, opts)


def virtual_respond(eng: "WorkflowEngine", *, workflow: dict[str, Any], run_id: str | None,
                    interaction_id: str, response: InteractionResponseData, target: Target,
                    capabilities: list[str], opts: ExecOptions) -> WorkflowResponse:
    arm_deadline(opts, eng.settings.operation_deadline_s)
    found = locate_virtual_run(eng, workflow, run_id)
    try:
        virtual_prepare(eng, workflow, found, capabilities)
    except ExecutionError as exc:
        return _error_for_run(eng, found, exc)
    opts.target = target
    return eng.respond(VIRTUAL_USER, found, interaction_id, response, opts)


def _error_for_run(eng: "WorkflowEngine", run_id: str, exc: EngineError) -> WorkflowResponse:
    session: RunSession = eng.load(VIRTUAL_USER, run_id)
    progress = build_progress(session.index, session.cursor, session.events)
    return error_response(run_id, exc.error_type, exc.message, dict(exc.details), progress)


__all__ = ["VIRTUAL_USER", "VIRTUAL_PROJECT", "locate_virtual_run", "production_start",
           "request_from_event", "reset_run", "resume_status", "virtual_respond", "virtual_start"]
