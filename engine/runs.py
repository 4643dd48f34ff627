"""Storing workflows as versions; creating, pointing and deleting runs (engine.md §15)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from engine.context import EngineContext
from engine.errors import WorkflowInvalid
from engine.loading import require_run
from engine.sanitize import strip_keys
from engine.versions import content_hash, expand_execution_groups, select_variant
from engine.wire import StoredWorkflow
from engine.workflow_cache import checked_content_hash

Doc = dict[str, Any]


def store_workflow(ctx: EngineContext, user_id: str, workflow: Doc,
                   source_type: str) -> StoredWorkflow:
    """Validate, hash and store a workflow as a source version of the user's template (§15.1).

    Content already stored for the template writes nothing (VS-3).
    """
    digest = checked_content_hash(workflow, ctx.settings, ctx.workflow_checks)
    name = str(workflow["workflow_id"])
    store, ids = ctx.store, ctx.ids
    now = ctx.clock.now()
    template = store.get_or_create_template(user_id, name, str(workflow.get("name") or name),
                                            ids.new_id("tpl_"), now)
    template_id = str(template["workflow_template_id"])
    existing = store.find_source_version(template_id, digest)
    if existing is not None:
        return StoredWorkflow(template_id=template_id,
                              source_version_id=str(existing["workflow_version_id"]),
                              content_hash=digest, created=False)
    variants = expand_execution_groups(workflow)
    source = store.insert_version({
        "workflow_version_id": ids.new_id("ver_"), "workflow_template_id": template_id,
        "content_hash": digest, "source_type": source_type,
        "version_type": "unresolved" if variants else "raw",
        "resolved_workflow": copy.deepcopy(workflow), "parent_workflow_version_id": None,
        "requires": [], "expansion_index": None, "created_at": now})
    source_id = str(source["workflow_version_id"])
    for variant in variants:
        store.insert_version({
            "workflow_version_id": ids.new_id("ver_"), "workflow_template_id": template_id,
            "content_hash": content_hash(variant.workflow), "source_type": source_type,
            "version_type": "resolved", "resolved_workflow": variant.workflow,
            "parent_workflow_version_id": source_id, "requires": variant.requires,
            "expansion_index": variant.index, "created_at": now})
    store.touch_template(template_id, now)
    return StoredWorkflow(template_id=template_id, source_version_id=source_id,
                          content_hash=digest, created=True)


def select_version(ctx: EngineContext, source_version_id: str, capabilities: list[str]) -> Doc:
    """The executable version for a source and the client's capabilities (WF-21)."""
    source = ctx.store.get_version(source_version_id)
    if source is None:
        raise WorkflowInvalid("Workflow version not found",
                              details={"reason": "version not found",
                                       "workflow_version_id": source_version_id})
    if source.get("version_type") != "unresolved":
        return source
    children = ctx.store.list_child_versions(source_version_id)
    return select_variant(children, list(capabilities))


def version_history_row(ctx: EngineContext, run_id: str, version: Doc, source_version_id: str,
                        capabilities: list[str]) -> Doc:
    return {"workflow_run_id": run_id, "workflow_version_id": version["workflow_version_id"],
            "source_workflow_version_id": source_version_id,
            "client_capabilities": list(capabilities),
            "workflow_version_requirements": list(version.get("requires") or []),
            "created_at": ctx.clock.now()}


@dataclass(frozen=True)
class NewRun:
    """Who and what a new run is for: the fields of its run document (§15.2)."""

    user_id: str
    project_name: str
    template_id: str
    template_name: str
    version: Doc
    mock: bool
    ai_config: Doc | None
    parent_run_id: str | None = None
    execution_id: str | None = None


def new_run_documents(ctx: EngineContext, run_id: str, new: NewRun) -> tuple[Doc, Doc, Doc]:
    """The run document, its root branch and its `workflow_created` event data."""
    now = ctx.clock.now()
    branch_id = ctx.ids.new_id("br_")
    version_id = new.version["workflow_version_id"]
    run = {
        "workflow_run_id": run_id, "user_id": new.user_id, "project_name": new.project_name,
        "workflow_template_name": new.template_name, "workflow_template_id": new.template_id,
        "current_workflow_version_id": version_id,
        "current_branch_id": branch_id, "status": "created", "current_step": None,
        "current_step_name": None, "current_module": None, "completed_steps": [],
        "mock": bool(new.mock), "mode": ctx.mode, "parent_workflow_run_id": new.parent_run_id,
        "execution_id": new.execution_id, "visible_in_ui": new.parent_run_id is None,
        "ai_config": strip_keys(new.ai_config or {}), "error_type": None, "error_message": None,
        "created_at": now, "updated_at": now, "completed_at": None,
    }
    branch = {"branch_id": branch_id, "workflow_run_id": run_id,
              "lineage": [{"branch_id": branch_id, "cutoff_sequence": None,
                           "cutoff_event_id": None}],
              "parent_branch_id": None, "fork_reason": "root", "created_at": now}
    created = {"project_name": new.project_name, "workflow_template_name": new.template_name,
               "workflow_template_id": new.template_id, "workflow_version_id": version_id,
               "mock": bool(new.mock), "reset": False,
               "parent_workflow_run_id": new.parent_run_id, "execution_id": new.execution_id}
    return run, branch, created


def create_run(ctx: EngineContext, *, user_id: str, project_name: str, stored: StoredWorkflow,
               workflow_name: str, capabilities: list[str], mock: bool,
               ai_config: Doc | None, run_prefix: str) -> str:
    """Create a run on the selected variant: event first, then branch, run, history."""
    version = select_version(ctx, stored.source_version_id, capabilities)
    run_id = ctx.ids.new_id(run_prefix)
    run, branch, created = new_run_documents(ctx, run_id, NewRun(
        user_id=user_id, project_name=project_name, template_id=stored.template_id,
        template_name=workflow_name, version=version, mock=mock, ai_config=ai_config))
    ctx.store.append_event({
        "event_id": ctx.ids.new_id("evt_"), "workflow_run_id": run_id,
        "branch_id": branch["branch_id"], "sequence": 1,
        "workflow_version_id": version["workflow_version_id"],
        "event_type": "workflow_created", "timestamp": ctx.clock.now(),
        "provenance": "mock" if mock else "live", "step_id": None, "module_name": None,
        "data": created})
    ctx.store.insert_branch(branch)
    ctx.store.insert_run(run)
    ctx.store.insert_version_history(version_history_row(
        ctx, run_id, version, stored.source_version_id, capabilities))
    return run_id


def point_run_at_version(ctx: EngineContext, user_id: str, run_id: str, source_version_id: str,
                         capabilities: list[str]) -> bool:
    """Select the variant for the run and switch to it when it differs (§15.3, ENG-42)."""
    run = require_run(ctx, user_id, run_id)
    if run.get("current_workflow_version_id") == source_version_id:
        kind = ctx.store.get_version_kind(source_version_id)
        if kind is not None and kind.get("version_type") != "unresolved":
            return False  # the source is its own variant: what select_version would say
    version = select_version(ctx, source_version_id, capabilities)
    if version["workflow_version_id"] == run.get("current_workflow_version_id"):
        return False
    with ctx.locks.hold(run_id):
        ctx.store.update_run(run_id, {"current_workflow_version_id": version["workflow_version_id"],
                                      "updated_at": ctx.clock.now()})
        ctx.store.insert_version_history(version_history_row(
            ctx, run_id, version, source_version_id, capabilities))
    return True


def delete_run(ctx: EngineContext, user_id: str, run_id: str) -> None:
    require_run(ctx, user_id, run_id)
    with ctx.locks.hold(run_id):
        ctx.store.delete_run_cascade(run_id)
