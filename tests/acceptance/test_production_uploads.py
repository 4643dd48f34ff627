"""Production scenario P10: upload errors and version changes (PS-3, engine.md §15.2)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.acceptance.production_client import production, zip_of

ENTRY = "workflow.json"


def _entry(ref: str) -> str:
    return json.dumps({"workflow_id": "zip_refs", "steps": [{"$ref": ref, "type": "json"}]})


CASES = [
    ({ENTRY: _entry("../outside.json")}, "path escapes the workflow root"),
    ({ENTRY: _entry("a.json"), "a.json": json.dumps({"$ref": "b.json", "type": "json"}),
      "b.json": json.dumps({"$ref": "a.json", "type": "json"})}, "circular reference"),
    ({ENTRY: _entry("missing.json")}, "file not found"),
]


@pytest.mark.parametrize(("files", "reason"), CASES, ids=["escape", "cycle", "missing"])
async def test_p10_zip_upload_errors(secantus_uri: str, files: dict[str, str], reason: str) -> None:
    """[ACC-P10-1] / [PS-3]: 400 `workflow_invalid` with the reason; nothing is stored."""
    async with production(secantus_uri) as prod:
        response = await prod.post("/workflow/start", {
            "project_name": "p1", "workflow_content": zip_of(files),
            "workflow_entry_point": ENTRY, "mock": True})
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["error_type"] == "workflow_invalid"
        assert body["details"]["reason"] == reason
        for coll in ("workflow_templates", "workflow_versions", "workflow_runs", "events"):
            assert prod.db[coll].count_documents({}) == 0


async def test_p10_missing_workflow_id_and_entry_point(secantus_uri: str) -> None:
    """[PS-3] a missing `workflow_id` or entry point is 400 `workflow_invalid`."""
    async with production(secantus_uri) as prod:
        no_id = await prod.post("/workflow/start", {
            "project_name": "p1", "workflow_content": zip_of({ENTRY: json.dumps({"steps": []})}),
            "workflow_entry_point": ENTRY, "mock": True})
        assert no_id.status_code == 400 and no_id.json()["error_type"] == "workflow_invalid"
        no_entry = await prod.post("/workflow/start", {
            "project_name": "p1", "workflow_content": zip_of({ENTRY: "{}"}), "mock": True})
        assert no_entry.status_code == 400 and no_entry.json()["error_type"] == "workflow_invalid"
        as_dict = await prod.post("/workflow/start", {
            "project_name": "p1", "workflow_content": {"steps": []}, "mock": True})
        assert as_dict.status_code == 400 and as_dict.json()["error_type"] == "workflow_invalid"


async def test_p10_version_change_needs_confirmation(secantus_uri: str,
                                                     cuddle_workflow: dict[str, Any]) -> None:
    """[ACC-P10-2]: an edited workflow asks for confirmation, then `/start/confirm` switches."""
    async with production(secantus_uri) as prod:
        first = await prod.start(cuddle_workflow)
        run = first["workflow_run_id"]
        edited = copy.deepcopy(cuddle_workflow)
        module = next(m for s in edited["steps"] for m in s["modules"] if m["name"] == "select_scene")
        module["inputs"]["prompt"] = "Pick the scene you like best"
        body = {"project_name": "p1", "workflow_content": edited, "mock": True}
        r = await prod.ok("POST", "/workflow/start", body)
        assert r["status"] == "created" and r["workflow_run_id"] == run
        assert r["result"]["requires_confirmation"] is True
        assert r["result"]["old_hash"] != r["result"]["new_hash"]
        assert {"type": "changed", "path": "steps.scene_generation.modules.select_scene"} in \
            [{"type": c["type"], "path": c["path"]} for c in r["result"]["version_diff"]["changes"]]
        rows = prod.db.workflow_run_version_history.count_documents({"workflow_run_id": run})
        confirmed = await prod.ok("POST", "/workflow/start/confirm", body)
        assert confirmed["workflow_run_id"] == run
        assert confirmed["status"] == "awaiting_input"
        assert confirmed["interaction_request"]["interaction_id"] == \
            first["interaction_request"]["interaction_id"]
        assert prod.db.workflow_run_version_history.count_documents(
            {"workflow_run_id": run}) == rows + 1
        doc = prod.db.workflow_runs.find_one({"workflow_run_id": run})
        version = prod.db.workflow_versions.find_one(
            {"workflow_version_id": doc["current_workflow_version_id"]})
        assert version["content_hash"] == r["result"]["new_hash"]
        # [PS-6] the literal /start/confirm never reaches /start/{workflow_version_id}; and a
        # start by version of the user's template works while another user's is 404
        template = (await prod.ok("GET", "/workflow-templates"))["templates"][0]
        latest = await prod.ok("GET", f"/workflow-templates/{template['template_id']}/versions/latest")
        assert latest["content_hash"] == r["result"]["new_hash"]
        assert latest["definition"] == edited
        again = await prod.ok("POST", f"/workflow/start/{latest['workflow_version_id']}",
                              {"project_name": "p2", "mock": True})
        assert again["status"] == "awaiting_input" and again["workflow_run_id"] != run
        bob = await prod.post(f"/workflow/start/{latest['workflow_version_id']}",
                              {"project_name": "p2", "mock": True}, user="bob")
        assert bob.status_code == 404
