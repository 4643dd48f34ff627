"""Global templates: an admin publishes a version, every user sees and starts it (issue 10).

A global template is an ordinary template whose owner is the reserved id `GLOBAL_OWNER`, with
`scope: "global"` and `visibility: "public"`; the unique key `(user_id, workflow_template_name)`
therefore allows one global template per name. Publishing stores the source version's workflow
under it (its execution-group children are derived again from the same content, so the copy is
the same version tree, de-duplicated by content hash). Users never write to it: cloning or
starting a global version stores that workflow as a version of the user's own template.
"""

from __future__ import annotations

from typing import Any

from engine.context import EngineContext
from engine.errors import Conflict, NotFound
from engine.runs import store_workflow
from engine.wire_web import CloneVersionResponse, PublishGlobalResponse

#: owner id of global templates; no user can have it (user ids are `usr_<32 hex>`)
GLOBAL_OWNER = "global"


def is_global(template: dict[str, Any]) -> bool:
    return template.get("user_id") == GLOBAL_OWNER


def readable_template(ctx: EngineContext, user_id: str, template_id: str) -> dict[str, Any]:
    """The user's own template or a global one; anything else looks missing (AUTH-5)."""
    template = ctx.store.get_template(template_id)
    if template is None or (template.get("user_id") != user_id and not is_global(template)):
        raise NotFound("Template not found", details={"template_id": template_id})
    return template


def _version_of(ctx: EngineContext, template: dict[str, Any], version_id: str) -> dict[str, Any]:
    version = ctx.store.get_version(version_id)
    if version is None or version.get("workflow_template_id") != template["workflow_template_id"]:
        raise NotFound("Version not found", details={"workflow_version_id": version_id})
    if version.get("version_type") == "resolved":
        raise Conflict("Use the source version, not a resolved child version",
                       details={"workflow_version_id": version_id})
    return version


def publish_global(ctx: EngineContext, admin_id: str,
                   source_version_id: str) -> PublishGlobalResponse:
    version = ctx.store.get_version(source_version_id)
    template = ctx.store.get_template(str(version.get("workflow_template_id"))) if version else None
    if template is not None and is_global(template):
        raise Conflict("Source version is already global",
                       details={"source_version_id": source_version_id})
    if template is None or template.get("user_id") != admin_id:
        raise NotFound("Workflow version not found",
                       details={"source_version_id": source_version_id})
    version = _version_of(ctx, template, source_version_id)
    stored = store_workflow(ctx, GLOBAL_OWNER, version["resolved_workflow"],
                                str(version.get("source_type") or "json"))
    size = 1 + len(ctx.store.list_child_versions(stored.source_version_id))
    return PublishGlobalResponse(global_template_id=stored.template_id,
                                 inserted=size if stored.created else 0,
                                 existing=0 if stored.created else size)


def clone_global_version(ctx: EngineContext, user_id: str, template_id: str,
                         version_id: str) -> CloneVersionResponse:
    template = readable_template(ctx, user_id, template_id)
    if not is_global(template):
        # not a global template: as unknown as a missing one (a schema-valid id, issue 15)
        raise NotFound("Only versions of global templates can be cloned",
                       details={"template_id": template_id})
    version = _version_of(ctx, template, version_id)
    name = str(template["workflow_template_name"])
    had = any(t.get("workflow_template_name") == name for t in ctx.store.list_templates(user_id))
    stored = store_workflow(ctx, user_id, version["resolved_workflow"],
                                str(version.get("source_type") or "json"))
    return CloneVersionResponse(template_id=stored.template_id,
                                version_id=stored.source_version_id, template_name=name,
                                is_new_template=not had, is_new_version=stored.created)
