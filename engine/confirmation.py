"""When a start or a resume with new content must ask before switching versions.

engine.md §15.2 as amended by issue 10: like the web UI's server, a start asks for confirmation
when the uploaded content differs from the **latest source version of the user's template**
(whether or not the project has a run), and also when it differs from the source version of the
project's active run. A resume with new content asks when the content differs from the run's
source version. Nothing is stored or executed before the client confirms.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.versions import content_hash, version_diff
from engine.wire import WorkflowResponse

if TYPE_CHECKING:
    from engine.processor import StartCommand, WorkflowEngine

SOURCE_TYPES = ["raw", "unresolved"]
CONFIRM_MESSAGE = "Workflow version changed - confirmation required"


def run_source_version(eng: "WorkflowEngine", run: dict[str, Any]) -> dict[str, Any] | None:
    """The source (raw/unresolved) version behind the run's current, possibly resolved, one."""
    current = eng.store.get_version(str(run.get("current_workflow_version_id"))) or {}
    source_id = current.get("parent_workflow_version_id")
    if source_id:
        return eng.store.get_version(str(source_id)) or current or None
    return current or None


def latest_source_version(eng: "WorkflowEngine", user_id: str,
                          name: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The user's template for `name` (without creating it) and its newest source version."""
    template = next((t for t in eng.store.list_templates(user_id)
                     if t.get("workflow_template_name") == name), None)
    if template is None:
        return None, None
    versions = eng.store.list_versions(str(template["workflow_template_id"]), SOURCE_TYPES, 1)
    return template, versions[0] if versions else None


def confirmation(run_id: str, old: dict[str, Any], workflow: dict[str, Any]) -> WorkflowResponse:
    """Status `created` with `{requires_confirmation, old_hash, new_hash, version_diff}`."""
    return WorkflowResponse(
        workflow_run_id=run_id, status="created", message=CONFIRM_MESSAGE,
        result={"requires_confirmation": True, "old_hash": old.get("content_hash"),
                "new_hash": content_hash(workflow),
                "version_diff": version_diff(old.get("resolved_workflow") or {}, workflow)})


def start_confirmation(eng: "WorkflowEngine", cmd: "StartCommand") -> WorkflowResponse | None:
    """The confirmation a start must return, or None when it may go ahead."""
    new_hash = content_hash(cmd.workflow)
    template, latest = latest_source_version(eng, cmd.user_id, str(cmd.workflow["workflow_id"]))
    if template is None:
        return None
    active = None if cmd.force_new else eng.store.find_active_run(
        cmd.user_id, cmd.project_name, str(template["workflow_template_id"]), cmd.mock)
    run_id = str(active["workflow_run_id"]) if active is not None else ""
    if active is not None:
        source = run_source_version(eng, active)
        if source is not None and source.get("content_hash") != new_hash:
            return confirmation(run_id, source, cmd.workflow)
    if latest is not None and latest.get("content_hash") != new_hash:
        return confirmation(run_id, latest, cmd.workflow)
    return None


def resume_confirmation(eng: "WorkflowEngine", run: dict[str, Any],
                        workflow: dict[str, Any]) -> WorkflowResponse | None:
    source = run_source_version(eng, run)
    if source is not None and source.get("content_hash") != content_hash(workflow):
        return confirmation(str(run["workflow_run_id"]), source, workflow)
    return None
