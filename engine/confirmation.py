"""When a start or a resume with new content must ask before switching versions.

engine.md §15.2 as amended by issue 10: like the web UI's server, a start asks for confirmation
when the uploaded content differs from the **latest source version of the user's template**
(whether or not the project has a run), and also when it differs from the source version of the
project's active run. A resume with new content asks when the content differs from the run's
source version. Nothing is stored or executed before the client confirms.
"""

from __future__ import annotations

from typing import Any

from engine.commands import StartCommand
from engine.context import EngineContext
from engine.versions import content_hash, version_diff
from engine.wire import WorkflowResponse

Doc = dict[str, Any]

SOURCE_TYPES = ["raw", "unresolved"]
CONFIRM_MESSAGE = "Workflow version changed - confirmation required"


def run_source_version(ctx: EngineContext, run: Doc) -> Doc | None:
    """The source (raw/unresolved) version behind the run's current, possibly resolved, one."""
    current = ctx.store.get_version(str(run.get("current_workflow_version_id"))) or {}
    source_id = current.get("parent_workflow_version_id")
    if source_id:
        return ctx.store.get_version(str(source_id)) or current or None
    return current or None


def latest_source_version(ctx: EngineContext, user_id: str,
                          name: str) -> tuple[Doc | None, Doc | None]:
    """The user's template for `name` (without creating it) and the id and content hash of its
    newest source version."""
    template = next((t for t in ctx.store.list_templates(user_id)
                     if t.get("workflow_template_name") == name), None)
    if template is None:
        return None, None
    return template, ctx.store.newest_version_head(str(template["workflow_template_id"]),
                                                   SOURCE_TYPES)


def confirmation(run_id: str, old: Doc, workflow: Doc) -> WorkflowResponse:
    """Status `created` with `{requires_confirmation, old_hash, new_hash, version_diff}`."""
    return WorkflowResponse(
        workflow_run_id=run_id, status="created", message=CONFIRM_MESSAGE,
        result={"requires_confirmation": True, "old_hash": old.get("content_hash"),
                "new_hash": content_hash(workflow),
                "version_diff": version_diff(old.get("resolved_workflow") or {}, workflow)})


def start_confirmation(ctx: EngineContext, cmd: StartCommand) -> WorkflowResponse | None:
    """The confirmation a start must return, or None when it may go ahead."""
    new_hash = content_hash(cmd.workflow)
    template, latest = latest_source_version(ctx, cmd.user_id, str(cmd.workflow["workflow_id"]))
    if template is None:
        return None
    active = None if cmd.force_new else ctx.store.find_active_run(
        cmd.user_id, cmd.project_name, str(template["workflow_template_id"]), cmd.mock)
    run_id = str(active["workflow_run_id"]) if active is not None else ""
    if active is not None:
        source = run_source_version(ctx, active)
        if source is not None and source.get("content_hash") != new_hash:
            return confirmation(run_id, source, cmd.workflow)
    if latest is not None and latest.get("content_hash") != new_hash:
        full = ctx.store.get_version(str(latest["workflow_version_id"]))
        return confirmation(run_id, full or latest, cmd.workflow)
    return None


def resume_confirmation(ctx: EngineContext, run: Doc, workflow: Doc) -> WorkflowResponse | None:
    source = run_source_version(ctx, run)
    if source is not None and source.get("content_hash") != content_hash(workflow):
        return confirmation(str(run["workflow_run_id"]), source, workflow)
    return None
