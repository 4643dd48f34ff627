"""Storing workflows as versions and creating, pointing and resetting runs (engine.md §15)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from engine.errors import WorkflowInvalid
from engine.versions import content_hash, expand_execution_groups, select_variant
from engine.validation import validate_workflow
from engine.wire import StoredWorkflow

if TYPE_CHECKING:
    from engine.processor import WorkflowEngine

WORKFLOW_ID_FIELDS = ("workflow_id",)


def strip_keys(value: Any) -> Any:
    """Remove every key named `api_key` or ending in `_api_key`, at any depth (ENG-10)."""
    if isinstance(value, dict):
        return {k: strip_keys(v) for k, v in value.items()
                if not (k == "api_key" or str(k).endswith("_api_key"))}
    if isinstance(value, list):
        return [strip_keys(v) for v in value]
    return value


def store_workflow(eng: "WorkflowEngine", user_id: str, workflow: dict[str, Any],
                   source_type: str) -> StoredWorkflow:
    """Validate, hash and store a workflow as a source version of the user's template (§15.1).

    Content already stored for the template writes nothing (VS-3).
    """
    validate_workflow(workflow, eng.settings)
    digest = content_hash(workflow)
    name = str(workflow["workflow_id"])
    store = eng.store
    now = eng.clock.now()
    template = store.get_or_create_template(user_id, name, str(workflow.get("name") or name),
                                            eng.ids.new_id("tpl_"), now)
    template_id = str(template["workflow_template_id"])
    existing = store.find_source_version(template_id, digest)
    if existing is not None:
        return StoredWorkflow(template_id=template_id,
                              source_version_id=str(existing["workflow_version_id"]),
                              content_hash=digest, created=False)
    variants = expand_execution_groups(workflow)
    source = store.insert_version({
        "workflow_version_id": eng.ids.new_id("ver_"), "workflow_template_id": template_id,
        "content_hash": digest, "source_type": source_type,
        "version_type": "unresolved" if variants else "raw",
        "resolved_workflow": copy.deepcopy(workflow), "parent_workflow_version_id": None,
        "requires": [], "expansion_index": None, "created_at": now})
    source_id = str(source["workflow_version_id"])
    for variant in variants:
        store.insert_version({
            "workflow_version_id": eng.ids.new_id("ver_"), "workflow_template_id": template_id,
            "content_hash": content_hash(variant.workflow), "source_type": source_type,
            "version_type": "resolved", "resolved_workflow": variant.workflow,
            "parent_workflow_version_id": source_id, "requires": variant.requires,
            "expansion_index": variant.index, "created_at": now})
    store.touch_template(template_id, now)
    return StoredWorkflow(template_id=template_id, source_version_id=source_id,
                          content_hash=digest, created=True)


def select_version(eng: "WorkflowEngine", source_version_id: str,
                   capabilities: list[str]) -> dict[str, Any]:
    """The executable version for a source and the client's capabilities (WF-21)."""
    source = eng.store.get_version(source_version_id)
    if source is None:
        raise WorkflowInvalid("Workflow version not found",
                              details={"reason": "version not found",
                                       "workflow_version_id": source_version_id})
    if source.get("version_type") != "unresolved":
        return source
    children = eng.store.list_child_versions(source_version_id)
    return select_variant(children, list(capabilities))


def version_history_row(eng: "WorkflowEngine", run_id: str, version: dict[str, Any],
                        source_version_id: str, capabilities: list[str]) -> dict[str, Any]:
    return {"workflow_run_id": run_id, "workflow_version_id": version["workflow_version_id"],
            "source_workflow_version_id": source_version_id,
            "client_capabilities": list(capabilities),
            "workflow_version_requirements": list(version.get("requires") or []),
            "created_at": eng.clock.now()}


def new_run_documents(eng: "WorkflowEngine", *, run_id: str, user_id: str, project_name: str,
                      template_id: str, template_name: str, version: dict[str, Any],
                      mock: bool, ai_config: dict[str, Any] | None,
                      parent_run_id: str | None = None, execution_id: str | None = None
                      ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The run document, its root branch and its `workflow_created` event data."""
    now = eng.clock.now()
    branch_id = eng.ids.new_id("br_")
    run = {
        "workflow_run_id": run_id, "user_id": user_id, "project_name": project_name,
        "workflow_template_name": template_name, "workflow_template_id": template_id,
        "current_workflow_version_id": version["workflow_version_id"],
        "current_branch_id": branch_id, "status": "created", "current_step": None,
        "current_step_name": None, "current_module": None, "completed_steps": [],
        "mock": bool(mock), "mode": eng.mode, "parent_workflow_run_id": parent_run_id,
        "execution_id": execution_id, "visible_in_ui": parent_run_id is None,
        "ai_config": strip_keys(ai_config or {}), "error_type": None, "error_message": None,
        "created_at": now, "updated_at": now, "completed_at": None,
    }
    branch = {"branch_id": branch_id, "workflow_run_id": run_id,
              "lineage": [{"branch_id": branch_id, "cutoff_sequence": None,
                           "cutoff_event_id": None}],
              "parent_branch_id": None, "fork_reason": "root", "created_at": now}
    created = {"project_name": project_name, "workflow_template_name": template_name,
               "workflow_template_id": template_id,
               "workflow_version_id": version["workflow_version_id"], "mock": bool(mock),
               "reset": False, "parent_workflow_run_id": parent_run_id,
               "execution_id": execution_id}
    return run, branch, created


def version_diff_paths(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    from engine.versions import version_diff

    return version_diff(old, new)
