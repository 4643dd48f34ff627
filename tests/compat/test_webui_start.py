"""Starting runs the way the web UI's start page does, on a live production server (issue 10)."""

from __future__ import annotations

import copy
from typing import Any

from tests.acceptance.production_client import cuddle_zip
from tests.compat.webui_protocol import (
    ExecutionHook,
    LiveServer,
    browsers,
    event_source,
    require,
    server,
    vendors,
)

__all__ = ["browsers", "server", "vendors"]


def _request_fields(request: dict[str, Any]) -> None:
    """What the interaction panel reads of an `InteractionRequest`."""
    require(request, "interaction_id", str)
    require(request, "interaction_type", str)
    require(request, "options", list), require(request, "display_data", dict)
    require(request, "context", dict), require(request, "title", str)


async def test_start_upload_json_then_zip(server: LiveServer, browsers: Any,
                                          cuddle_workflow: dict[str, Any]) -> None:
    """WorkflowStartPage.tsx `handleStart` (upload tab) → useWorkflowExecution `startWorkflow`:
    a JSON file is sent parsed, a zip as base64 with `workflow_entry_point`; the runner page
    then reads `getStatus` (`workflow_template_id`, `workflow_version_id`)."""
    hook = ExecutionHook(await browsers("alice"))
    data = await hook.start({"project_name": "json", "workflow_content": cuddle_workflow,
                             "force_new": False})
    assert data["status"] == "awaiting_input" and hook.status == "awaiting_input"
    require(data, "progress", dict)
    _request_fields(hook.interaction or {})
    status = await hook.api.get(f"/workflow/{hook.run_id}/status")
    require(status, "workflow_template_id", str), require(status, "workflow_version_id", str)
    assert status["mock"] is False  # the UI's bodies never say `mock`: a live run

    zipped = ExecutionHook(hook.api)
    data = await zipped.start({"project_name": "zip", "workflow_content": cuddle_zip(),
                               "workflow_entry_point": "workflow_v3.json", "force_new": False})
    # a zip of the same workflow has the same content hash: no confirmation question
    assert data["status"] == "awaiting_input" and zipped.confirmation is None
    assert zipped.run_id != hook.run_id


async def test_start_by_version_from_the_template_selector(server: LiveServer, browsers: Any,
                                                           cuddle_workflow: dict[str, Any]) -> None:
    """TemplateSelector.tsx `listWorkflowTemplates` (template → versions) and
    WorkflowStartPage `handleStart` (template tab) → `startWorkflowByVersion`."""
    ui = await browsers("alice")
    await ExecutionHook(ui).start({"project_name": "first", "workflow_content": cuddle_workflow})
    listing = await ui.get("/workflow-templates")
    require(listing, "count", int)
    template = require(listing, "templates", list)[0]
    require(template, "template_id", str), require(template, "template_name", str)
    assert template["scope"] == "user" and template["visibility"] == "visible"
    assert "name" in template and template["is_owner"] is True
    version = require(template, "versions", list)[0]
    require(version, "workflow_version_id", str), require(version, "created_at", str)
    hook = ExecutionHook(ui)
    data = await hook.start({"project_name": "by-version", "force_new": False},
                            by_version=version["workflow_version_id"])
    assert data["status"] == "awaiting_input" and hook.interaction is not None


async def test_version_change_asks_then_confirm_starts(server: LiveServer, browsers: Any,
                                                       cuddle_workflow: dict[str, Any]) -> None:
    """useWorkflowExecution `startWorkflow` → `result.requires_confirmation` →
    VersionDiffDialog.tsx (`changes[].type/path/old_value/new_value`, `oldHash`, `newHash`) →
    `confirmVersionAndStart` (POST /workflow/start/confirm). Asked against the template's
    latest version even for a new project, as the reference does."""
    ui = await browsers("alice")
    await ExecutionHook(ui).start({"project_name": "v1", "workflow_content": cuddle_workflow})
    edited = copy.deepcopy(cuddle_workflow)
    edited["steps"][1]["modules"][5]["inputs"]["prompt"] = "Pick the scene you like best"
    hook = ExecutionHook(ui)
    data = await hook.start({"project_name": "new-project", "workflow_content": edited})
    assert data["status"] == "created" and hook.run_id is None  # the page does not navigate
    confirmation = hook.confirmation or {}
    diff = require(confirmation, "version_diff", dict)
    assert require(diff, "has_changes", bool) and require(diff, "summary", str)
    change = require(diff, "changes", list)[0]
    assert change["type"] == "changed" and require(change, "path", str).startswith("steps.")
    assert change["old_value"]["inputs"]["prompt"] != change["new_value"]["inputs"]["prompt"]
    assert require(confirmation, "old_hash", str) != require(confirmation, "new_hash", str)

    started = await hook.confirm_version_and_start()
    assert started["status"] == "awaiting_input" and hook.run_id == started["workflow_run_id"]
    status = await ui.get(f"/workflow/{hook.run_id}/status")
    definition = await ui.get(f"/workflow/{hook.run_id}/definition")
    assert definition["version_id"] == status["workflow_version_id"]
    assert definition["definition"]["steps"][1]["modules"][5]["inputs"]["prompt"] == \
        "Pick the scene you like best"


async def test_stream_to_the_first_interaction(server: LiveServer, browsers: Any,
                                               cuddle_workflow: dict[str, Any]) -> None:
    """api.ts `streamWorkflow` / the hook's `connectToStream` (EventSource on GET
    /workflow/{id}/stream): `started`, `progress` (`elapsed_ms`, `message`), then the
    `interaction` frame read as the `InteractionRequest` itself."""
    hook = ExecutionHook(await browsers("alice"))
    await hook.start({"project_name": "stream", "workflow_content": cuddle_workflow})
    first = hook.interaction or {}
    # a pending interaction: the stream answers with it at once
    assert await hook.connect_to_stream() == ["interaction"]
    assert hook.interaction is not None
    assert hook.interaction["interaction_id"] == first["interaction_id"]
    # a reset run executes forward on the stream until its first interaction
    reset = await hook.api.request("POST", f"/workflow/{hook.run_id}/reset")
    assert reset["status"] == "created"
    kinds = await hook.connect_to_stream()
    assert kinds[0] == "started" and "progress" in kinds and kinds[-1] == "interaction"
    _request_fields(hook.interaction or {})
    assert (hook.interaction or {})["interaction_id"] != first["interaction_id"]
    assert hook.status == "awaiting_input"
    # the raw frame: request fields at the top level and the WorkflowResponse kept whole
    async with hook.api.http.stream("GET", f"/workflow/{hook.run_id}/stream") as response:
        frames = [f async for f in event_source(response)]
    kind, frame = frames[-1]
    assert kind == "interaction" and frame["workflow_run_id"] == hook.run_id
    assert frame["interaction_request"]["interaction_id"] == frame["interaction_id"]
    assert frame["status"] == "awaiting_input" and frame["progress"]["current_module"]
