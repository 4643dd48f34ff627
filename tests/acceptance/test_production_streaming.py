"""Production scenario P8 (streaming) in-process: SSE-1…SSE-4 on every stream read.

Cancellation and client disconnects need a live server (SSE-5); they are in
tests/e2e/test_production_sse_live.py.
"""

from __future__ import annotations

from typing import Any

from tests.acceptance.production_client import production
from tests.acceptance.script_a import ANSWERS


async def test_p8_streams(secantus_uri: str, cuddle_workflow: dict[str, Any]) -> None:
    """[ACC-P8-1]…[ACC-P8-5], [SSE-1]…[SSE-4], [PS-1] for stream/respond."""
    async with production(secantus_uri) as prod:
        r = await prod.start(cuddle_workflow)
        run = r["workflow_run_id"]
        r = await prod.respond(run, r["interaction_request"]["interaction_id"],
                               ANSWERS["select_pet_type"])
        # [ACC-P8-1] pending interaction: exactly one `interaction` frame
        frames = await prod.sse("GET", f"/workflow/{run}/stream")
        assert [e for e, _ in frames] == ["interaction"]
        assert frames[0][1]["status"] == "awaiting_input"
        assert frames[0][1]["interaction_request"]["interaction_id"] == \
            r["interaction_request"]["interaction_id"]
        # [ACC-P8-2] stream/respond with A2
        aesthetic_iid = r["interaction_request"]["interaction_id"]
        body = {"interaction_id": aesthetic_iid, "response": ANSWERS["select_aesthetic"]}
        frames = await prod.sse("POST", f"/workflow/{run}/stream/respond", body)
        kinds = [e for e, _ in frames]
        assert kinds[0] == "progress" and frames[0][1]["message"] == "Processing response..."
        assert kinds[1] == "started"
        assert set(kinds[2:-1]) <= {"progress"}
        assert kinds[-1] == "interaction"
        assert frames[-1][1]["progress"]["current_module"] == "select_scene"
        running = [d["message"] for e, d in frames if e == "progress"]
        assert "Running generate_scenes" in running
        # replay through the stream: one terminal frame carrying the stored outcome
        replay = await prod.sse("POST", f"/workflow/{run}/stream/respond", body)
        assert [e for e, _ in replay] == ["interaction"]
        assert replay[0][1] == frames[-1][1]
        # a body naming another run → the fixed 404 before the stream (issue 15: a
        # schema-valid body, so not a 400)
        mismatch = await prod.post(f"/workflow/{run}/stream/respond",
                                   {**body, "workflow_run_id": "wf_other"})
        assert mismatch.status_code == 404 and mismatch.json()["error_type"] == "not_found"
        # [ACC-P8-3] stale id → JSON 409 before any stream; invalid answer → validation_failed
        stale = await prod.post(f"/workflow/{run}/stream/respond",
                                {"interaction_id": aesthetic_iid,
                                 "response": {"selected_indices": [3]}})
        assert stale.status_code == 409
        assert stale.headers["content-type"].startswith("application/json")
        assert stale.json()["error_type"] == "interaction_already_answered"
        scene_iid = frames[-1][1]["interaction_request"]["interaction_id"]
        r = await prod.respond(run, scene_iid, ANSWERS["select_scene"])
        media_iid = r["interaction_request"]["interaction_id"]
        frames = await prod.sse("POST", f"/workflow/{run}/stream/respond",
                                {"interaction_id": media_iid, "response": {"action_id": "continue"}})
        assert frames[-1][0] == "validation_failed"
        assert frames[-1][1]["validation_errors"][0]["id"] == "require_image_selection"
        # [ACC-P8-4] reset, then the stream executes from the start
        reset = await prod.ok("POST", f"/workflow/{run}/reset")
        assert reset["status"] == "created"
        frames = await prod.sse("GET", f"/workflow/{run}/stream")
        kinds = [e for e, _ in frames]
        assert kinds[0] == "started" and frames[0][1]["workflow_run_id"] == run
        assert kinds[1] == "progress" and frames[1][1]["message"] == "Starting execution..."
        assert kinds[-1] == "interaction"
        assert frames[-1][1]["progress"]["current_module"] == "select_pet_type"
        branch = prod.db.workflow_runs.find_one({"workflow_run_id": run})["current_branch_id"]
        lineage = [e for e in await prod.events(run) if e["branch_id"] == branch]
        assert lineage[0]["event_type"] == "workflow_created"
        assert lineage[0]["data"]["reset"] is True
        # resume never executes (engine.md §15.4)
        resumed = await prod.ok("POST", f"/workflow/{run}/resume")
        assert resumed["status"] == "awaiting_input"


async def test_p8_completed_run_stream(secantus_uri: str, cuddle_workflow: dict[str, Any]) -> None:
    """[ACC-P8-5] a completed run streams exactly one `complete` frame."""
    async with production(secantus_uri) as prod:
        r = await prod.start(cuddle_workflow)
        run = r["workflow_run_id"]
        final = await prod.answer_script(run, r)
        assert final["status"] == "completed"
        frames = await prod.sse("GET", f"/workflow/{run}/stream")
        assert [e for e, _ in frames] == ["complete"]
        assert frames[0][1]["result"] == final["result"]
        cancel = await prod.ok("POST", f"/workflow/{run}/cancel")
        assert cancel == {"message": "No active execution found", "workflow_run_id": run,
                          "cancelled": 0}


async def test_stream_limit_per_user(secantus_uri: str, cuddle_workflow: dict[str, Any]) -> None:
    """[PS-5] one stream more than `WFE_SSE_MAX_PER_USER` → 429 before the stream starts."""
    async with production(secantus_uri, WFE_SSE_MAX_PER_USER="1") as prod:
        r = await prod.start(cuddle_workflow)
        run = r["workflow_run_id"]
        services = prod.services
        services.streams.try_open(prod.user_ids["alice"])  # one stream already open
        limited = await prod.get(f"/workflow/{run}/stream")
        assert limited.status_code == 429
        assert limited.json()["error_type"] == "too_many_streams"
        services.streams.close(prod.user_ids["alice"])
        frames = await prod.sse("GET", f"/workflow/{run}/stream")
        assert [e for e, _ in frames] == ["interaction"]
        assert services.streams.open_count(prod.user_ids["alice"]) == 0
