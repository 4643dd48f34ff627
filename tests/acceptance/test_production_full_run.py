"""Production scenario P7: the whole of script A, from a dict and from a zip upload."""

from __future__ import annotations

from typing import Any

from tests.acceptance.production_client import cuddle_zip, production
from tests.acceptance.script_a import EVENT_SEQUENCE_A


async def test_p7_full_run_to_completion(secantus_uri: str, cuddle_workflow: dict[str, Any]) -> None:
    """[ACC-P7-1]…[ACC-P7-5]."""
    async with production(secantus_uri) as prod:
        r = await prod.start(cuddle_workflow)
        run = r["workflow_run_id"]
        final = await prod.answer_script(run, r)
        # [ACC-P7-1]
        assert final["status"] == "completed"
        state = await prod.state(run)
        assert final["result"] == state
        doc = prod.db.workflow_runs.find_one({"workflow_run_id": run})
        assert doc["status"] == "completed" and doc["completed_at"] is not None
        assert (await prod.ok("GET", f"/workflow/{run}/status"))["status"] == "completed"
        # [ACC-P7-2]
        assert [e["event_type"] for e in await prod.events(run)] == EVENT_SEQUENCE_A
        # [ACC-P7-3]
        history = await prod.ok("GET", f"/workflow/{run}/interaction-history")
        summary = next(h for h in history["interactions"] if h["module_name"] == "write_summary_file")
        request = summary["request"]
        assert request["interaction_type"] == "file_download"
        assert request["file_name"] == "cuddle_crew_summary.txt"
        assert request["file_content_type"] == "text"
        assert request["file_content"] == state["workflow_summary_text"]
        # [ACC-P7-4]
        text = state["workflow_summary_text"]
        assert text.split("\n")[0] == "=" * 80
        assert "\r" not in text
        for needle in ("Pet Type: Cat", "Story Aesthetic: Playful Chaos",
                       "Generated: 2026-01-01 00:00:", "Video Duration: 30 seconds"):
            assert needle in text
        assert state["summary_file_path"] == "cuddle_crew_summary.txt"
        assert state["summary_filename"] == "cuddle_crew_summary.txt"
        # [ACC-P7-5] mock mode: no token usage (the provider set raises on any live construction)
        assert prod.db.tokens.count_documents({}) == 0
        # the run is no longer active
        active = await prod.ok("GET", "/workflows/active?include_mock=true")
        assert run not in [w["workflow_run_id"] for w in active["workflows"]]


async def test_p7_zip_upload_same_content_hash(secantus_uri: str,
                                               cuddle_workflow: dict[str, Any]) -> None:
    """[ACC-P7-6] a zip upload stores a version with the dict upload's content hash."""
    async with production(secantus_uri) as prod:
        by_dict = await prod.start(cuddle_workflow, project="dict")
        by_zip = await prod.ok("POST", "/workflow/start", {
            "project_name": "zip", "workflow_content": cuddle_zip(),
            "workflow_entry_point": "workflow_v3.json", "mock": True})
        assert by_zip["status"] == "awaiting_input"
        versions = {}
        for r in (by_dict, by_zip):
            run = prod.db.workflow_runs.find_one({"workflow_run_id": r["workflow_run_id"]})
            version = prod.db.workflow_versions.find_one(
                {"workflow_version_id": run["current_workflow_version_id"]})
            versions[r["workflow_run_id"]] = version["content_hash"]
        assert len(set(versions.values())) == 1
        templates = await prod.ok("GET", "/workflow-templates")
        assert templates["count"] == 1
        assert templates["templates"][0]["template_name"] == cuddle_workflow["workflow_id"]
