"""Lists the web UI shows, global templates and the model picker, on a live production server
(issue 10)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.compat.test_webui_runner import NOTES
from tests.compat.webui_protocol import (
    ApiError,
    ExecutionHook,
    LiveServer,
    browsers,
    require,
    server,
    vendors,
)

__all__ = ["browsers", "server", "vendors"]
RUN_FIELDS = {"workflow_run_id": str, "project_name": str, "workflow_template_name": str,
              "status": str, "created_at": str, "updated_at": str}


async def test_runs_list_pages_and_active_runs(server: LiveServer, browsers: Any) -> None:
    """WorkflowRunsList.tsx (`listWorkflowRuns(PAGE_SIZE, runs.length)`: `workflows`, `total`)
    and WorkflowStartPage's last project hint (`listWorkflowRuns(1, 0)`); GET /workflows/active."""
    ui = await browsers("alice")
    for project in ("one", "two", "three"):
        await ExecutionHook(ui).start({"project_name": project, "workflow_content": NOTES})
    page = await ui.get("/workflows/all?limit=2&offset=0")
    assert (page["count"], page["total"]) == (2, 3)
    assert [r["project_name"] for r in page["workflows"]] == ["three", "two"]
    for row in page["workflows"]:
        for key, kind in RUN_FIELDS.items():
            require(row, key, kind)
        assert "current_step" in row and "current_step_name" in row and "completed_at" in row
        assert row["current_step_name"] == "Ask" and row["mock"] is False
    more = await ui.get("/workflows/all?limit=2&offset=2")
    assert [r["project_name"] for r in more["workflows"]] == ["one"] and more["total"] == 3
    assert (await ui.get("/workflows/all?limit=1&offset=0"))["workflows"][0]["project_name"] == "three"
    other = await browsers("bob")
    assert (await other.get("/workflows/all?limit=10&offset=0"))["total"] == 0
    active = await ui.get("/workflows/active")
    assert active["count"] == 3 and {r["status"] for r in active["workflows"]} == {"awaiting_input"}
    with pytest.raises(ApiError) as bad:
        await ui.get("/workflows/all?limit=0&offset=0")
    assert bad.value.status == 400 and "limit" in bad.value.message


async def test_global_templates_publish_list_start_and_clone(server: LiveServer,
                                                             browsers: Any) -> None:
    """WorkflowStartPage.tsx admin tab `handlePublishGlobal` → `publishGlobalTemplate` (admins
    only: others get 403, the UI's access-denied path); TemplateSelector shows `(Global)`
    templates and starts their versions; `cloneGlobalVersionToUser`."""
    alice, root, bob = await browsers("alice"), await browsers("root"), await browsers("bob")
    shared = copy.deepcopy(NOTES)
    shared["workflow_id"] = "shared_notes"
    await ExecutionHook(root).start({"project_name": "admin", "workflow_content": shared})
    version = (await root.get("/workflow-templates"))["templates"][0]["versions"][0]
    with pytest.raises(ApiError) as forbidden:
        await alice.request("POST", "/workflow-templates/global/publish",
                            {"source_version_id": version["workflow_version_id"]})
    assert (forbidden.value.status, forbidden.value.message) == (403, "Access denied")
    assert forbidden.value.body["error_type"] == "forbidden"
    published = await root.request("POST", "/workflow-templates/global/publish",
                                   {"source_version_id": version["workflow_version_id"]})
    assert require(published, "global_template_id", str).startswith("tpl_")
    assert (published["inserted"], published["existing"]) == (1, 0)
    again = await root.request("POST", "/workflow-templates/global/publish",
                               {"source_version_id": version["workflow_version_id"]})
    assert (again["inserted"], again["existing"]) == (0, 1)

    listing = (await alice.get("/workflow-templates"))["templates"]
    glob = next(t for t in listing if t["template_id"] == published["global_template_id"])
    assert (glob["scope"], glob["visibility"], glob["is_global"]) == ("global", "public", True)
    assert glob["can_edit"] is False and glob["template_name"] == "shared_notes"
    global_version = glob["versions"][0]["workflow_version_id"]
    hook = ExecutionHook(alice)
    data = await hook.start({"project_name": "from-global", "force_new": False},
                            by_version=global_version)
    assert data["status"] == "awaiting_input"
    assert (await alice.get(f"/workflow/{hook.run_id}/status"))["workflow_template_id"] != \
        published["global_template_id"]  # stored into alice's own template

    clone = await bob.request("POST", f"/workflow-templates/{glob['template_id']}/versions/"
                                      f"{global_version}/clone")
    assert clone["template_name"] == "shared_notes"
    assert clone["is_new_template"] is True and clone["is_new_version"] is True
    mine = {t["template_id"] for t in (await bob.get("/workflow-templates"))["templates"]}
    assert clone["template_id"] in mine
    again_clone = await alice.request("POST", f"/workflow-templates/{glob['template_id']}/"
                                              f"versions/{global_version}/clone")
    assert again_clone["is_new_template"] is False and again_clone["is_new_version"] is False
    with pytest.raises(ApiError) as not_global:
        await bob.request("POST", f"/workflow-templates/{clone['template_id']}/versions/"
                                  f"{clone['version_id']}/clone")
    assert not_global.value.status == 404  # not a global template: none to clone (issue 15)


async def test_models_for_the_model_picker(server: LiveServer, browsers: Any) -> None:
    """WorkflowSidebar.tsx `getModels` (`default_provider`, `default_model`,
    `providers[id].name/default/models[{id, name}]`)."""
    models = await (await browsers()).get("/models")
    providers = require(models, "providers", dict)
    default = providers[require(models, "default_provider", str)]
    assert any(m["id"] == require(models, "default_model", str) for m in default["models"])
    for provider in providers.values():
        require(provider, "name", str), require(provider, "default", str)
        for model in require(provider, "models", list):
            require(model, "id", str), require(model, "name", str)
