"""Listing routes (wire-api.md §6.5): templates (the user's and the global ones), versions and
active runs.

Read-only, so they await the adapter directly (the same query shapes as the store, ST-1) and
never take an engine-pool slot.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get
from litestar.params import FromPath, FromQuery

from engine import (
    GLOBAL_OWNER,
    ActiveRun,
    ActiveRunsView,
    TemplateDetail,
    TemplateHead,
    TemplateListItem,
    TemplatesPage,
    VersionDetail,
    VersionSummary,
    is_global,
    iso_z,
)
from production_server.auth.identity import CurrentUser, User, services_of
from production_server.errors import bad_request, not_found
from production_server.openapi import answers, bounds
from production_server.routes.common import USER
from production_server.services import Services

SOURCE_TYPES = ["raw", "unresolved"]
ALL_VERSIONS = 10_000


def _version_fields(v: dict[str, Any]) -> dict[str, Any]:
    return {"workflow_version_id": v["workflow_version_id"], "created_at": iso_z(v.get("created_at")),
            "content_hash": v.get("content_hash"), "source_type": v.get("source_type"),
            "version_type": v.get("version_type")}


def _version_summary(v: dict[str, Any]) -> VersionSummary:
    return VersionSummary(**_version_fields(v))


def _template_head(t: dict[str, Any], user: User) -> dict[str, Any]:
    """`TemplateHead` fields: the template plus the web UI's access flags (global templates:
    read-only to users)."""
    shared = is_global(t)
    return {"template_id": t["workflow_template_id"],
            "template_name": t["workflow_template_name"], "name": t.get("name"),
            "scope": t.get("scope", "user"), "visibility": t.get("visibility", "visible"),
            "is_owner": not shared, "is_global": shared,
            "can_edit": not shared or user.role == "admin"}


async def _owned_template(services: Services, user: User, template_id: str) -> dict[str, Any]:
    """The user's template or a global one (readable by everyone); else the fixed 404."""
    template = await services.reads.get_template(template_id)
    if template is None or (template.get("user_id") != user.user_id and not is_global(template)):
        raise not_found()
    return template


@get("/workflow-templates", dependencies=USER, **answers(400))
async def list_templates(request: Request[Any, Any, Any], user: CurrentUser,
                         version_limit: Annotated[int, bounds(minimum=1, maximum=100)] = 20,
                         ) -> TemplatesPage:
    if not 1 <= version_limit <= 100:
        raise bad_request("version_limit must be between 1 and 100", version_limit=version_limit)
    services = services_of(request)
    templates = await services.reads.list_templates(user.user_id)
    templates += await services.reads.list_templates(GLOBAL_OWNER)
    out = []
    for t in templates:
        versions = await services.reads.list_versions(t["workflow_template_id"], SOURCE_TYPES,
                                                      version_limit)
        out.append(TemplateListItem(**_template_head(t, user),
                                    created_at=iso_z(t.get("created_at")),
                                    updated_at=iso_z(t.get("updated_at")),
                                    versions=[_version_summary(v) for v in versions]))
    return TemplatesPage(templates=out, count=len(out))


@get("/workflow-templates/{template_id:str}", dependencies=USER, **answers(404))
async def get_template(request: Request[Any, Any, Any], user: CurrentUser,
                       template_id: FromPath[str]) -> TemplateDetail:
    services = services_of(request)
    template = await _owned_template(services, user, template_id)
    versions = await services.reads.list_versions(template_id, SOURCE_TYPES, ALL_VERSIONS)
    return TemplateDetail(**_template_head(template, user),
                          versions=[_version_summary(v) for v in versions])


def _version_detail(template: dict[str, Any], version: dict[str, Any],
                    user: User) -> VersionDetail:
    head = TemplateHead(**_template_head(template, user))
    return VersionDetail(template_id=head.template_id, template_name=head.template_name,
                         **_version_fields(version), definition=version.get("resolved_workflow"),
                         is_owner=head.is_owner, is_global=head.is_global,
                         can_edit=head.can_edit, redirect_to=None)


@get("/workflow-templates/{template_id:str}/versions/latest", dependencies=USER, **answers(404))
async def latest_version(request: Request[Any, Any, Any], user: CurrentUser,
                         template_id: FromPath[str]) -> VersionDetail:
    services = services_of(request)
    template = await _owned_template(services, user, template_id)
    versions = await services.reads.list_versions(template_id, SOURCE_TYPES, 1)
    if not versions:
        raise not_found()
    return _version_detail(template, versions[0], user)


@get("/workflow-templates/{template_id:str}/versions/{workflow_version_id:str}",
     dependencies=USER, **answers(404))
async def get_version(request: Request[Any, Any, Any], user: CurrentUser, template_id: FromPath[str],
                      workflow_version_id: FromPath[str]) -> VersionDetail:
    services = services_of(request)
    template = await _owned_template(services, user, template_id)
    version = await services.reads.get_version(workflow_version_id)
    if version is None or version.get("workflow_template_id") != template_id:
        raise not_found()
    return _version_detail(template, version, user)


@get("/workflows/active", dependencies=USER, **answers(400))
async def active_runs(request: Request[Any, Any, Any], user: CurrentUser,
                      include_mock: FromQuery[bool] = False) -> ActiveRunsView:
    services = services_of(request)
    runs = await services.reads.list_runs(user.user_id, True, include_mock, 1000, 0)
    out = [ActiveRun(
        workflow_run_id=r["workflow_run_id"], project_name=r.get("project_name"),
        workflow_template_name=r.get("workflow_template_name"),
        workflow_template_id=r.get("workflow_template_id"), status=r.get("status"),
        current_step=r.get("current_step"), current_step_name=r.get("current_step_name"),
        current_module=r.get("current_module"),
        completed_steps=list(r.get("completed_steps") or []), mock=bool(r.get("mock")),
        created_at=iso_z(r.get("created_at")), updated_at=iso_z(r.get("updated_at")),
        completed_at=iso_z(r.get("completed_at")),
        current_workflow_version_id=r.get("current_workflow_version_id")) for r in runs]
    return ActiveRunsView(workflows=out, count=len(out))


LISTING_ROUTES = [list_templates, get_template, latest_version, get_version, active_runs]
