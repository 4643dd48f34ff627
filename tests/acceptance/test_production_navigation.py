"""Production scenarios P4 (retry, jump back) and P5 (jump to a historical interaction)."""

from __future__ import annotations

from typing import Any

from tests.acceptance.production_client import Prod, production
from tests.acceptance.script_a import ANSWERS


def _ids(events: list[dict[str, Any]], event_type: str, module: str | None = None) -> list[dict[str, Any]]:
    return [e for e in events if e["event_type"] == event_type
            and (module is None or e["module_name"] == module)]


async def _run_to(prod: Prod, workflow: dict[str, Any], project: str,
                  stop_before: str) -> tuple[str, dict[str, Any]]:
    r = await prod.start(workflow, project=project)
    run = r["workflow_run_id"]
    r = await prod.answer_script(run, r, stop_before=stop_before)
    assert r["progress"]["current_module"] == stop_before
    return run, r


async def test_p4_retry_same_branch(secantus_uri: str, cuddle_workflow: dict[str, Any]) -> None:
    """[ACC-P4-1]…[ACC-P4-4]."""
    async with production(secantus_uri) as prod:
        run, r = await _run_to(prod, cuddle_workflow, "p4", "select_text_overlay")
        old_iid = r["interaction_request"]["interaction_id"]
        branch = prod.db.workflow_runs.find_one({"workflow_run_id": run})["current_branch_id"]
        retry_answer = {"retry_requested": True, "retry_feedback": "more playful"}
        r = await prod.respond(run, old_iid, retry_answer)
        events = await prod.events(run)
        retry = _ids(events, "retry_requested")[-1]
        assert retry["data"] == {
            "target_step": "text_overlays", "target_module": "generate_text_overlays",
            "feedback": "more playful", "retry_groups": [], "source": "response",
            "interaction_id": old_iid, "option_id": "retry"}
        assert _ids(events, "interaction_response")[-1]["data"]["intent"] == "retry"
        done = _ids(events, "module_completed", "generate_text_overlays")
        assert len(done) == 2 and done[0]["data"]["outputs"] != done[1]["data"]["outputs"]
        assert r["status"] == "awaiting_input"
        assert r["progress"]["current_module"] == "select_text_overlay"
        new_iid = r["interaction_request"]["interaction_id"]
        assert new_iid != old_iid
        assert prod.db.workflow_runs.find_one({"workflow_run_id": run})["current_branch_id"] == branch
        # [ACC-P4-2] replay of the retry answer; a different answer conflicts
        again = await prod.post("/workflow/respond", {"workflow_run_id": run,
                                                      "interaction_id": old_iid,
                                                      "response": retry_answer})
        assert again.status_code == 200
        other = await prod.post("/workflow/respond", {"workflow_run_id": run,
                                                      "interaction_id": old_iid,
                                                      "response": {"selected_indices": [0]}})
        assert other.status_code == 409
        assert other.json()["error_type"] == "interaction_already_answered"
        # [ACC-P4-3] empty feedback uses the option's default message
        r = await prod.respond(run, new_iid, {"retry_requested": True})
        retry = _ids(await prod.events(run), "retry_requested")[-1]
        assert retry["data"]["feedback"] == ("Please generate different text overlays with a "
                                             "fresh approach to the emotional narrative.")
        # [ACC-P4-4] retry through the API
        r = await prod.ok("POST", "/workflow/retry", {"workflow_run_id": run,
                                                      "target_module": "generate_text_overlays"})
        retry = _ids(await prod.events(run), "retry_requested")[-1]
        assert retry["data"]["source"] == "api" and retry["data"]["interaction_id"] is None
        assert r["status"] == "awaiting_input"
        count = len(await prod.events(run, "all"))
        bad = await prod.ok("POST", "/workflow/retry", {"workflow_run_id": run,
                                                        "target_module": "generate_scenes"})
        assert bad["status"] == "error" and bad["result"]["error_type"] == "invalid_target"
        assert len(await prod.events(run, "all")) == count


async def test_p4_jump_back_new_branch(secantus_uri: str, cuddle_workflow: dict[str, Any]) -> None:
    """[ACC-P4-5]…[ACC-P4-7]."""
    async with production(secantus_uri) as prod:
        run, r = await _run_to(prod, cuddle_workflow, "p4b", "generate_and_select_videos_v2")
        video_iid = r["interaction_request"]["interaction_id"]
        old_branch = prod.db.workflow_runs.find_one({"workflow_run_id": run})["current_branch_id"]
        lineage_before = await prod.events(run)
        all_before = len(await prod.events(run, "all"))
        # [ACC-P4-6] unknown jump target: an execution error, nothing written
        bad = await prod.respond(run, video_iid, {"jump_back_requested": True,
                                                  "jump_back_target": "nowhere"})
        assert bad["status"] == "error" and bad["error"] == "Jump target 'nowhere' not found"
        assert bad["result"]["error_type"] == "module_not_found"
        assert len(await prod.events(run, "all")) == all_before
        status = await prod.ok("GET", f"/workflow/{run}/status")
        assert status["interaction_request"]["interaction_id"] == video_iid
        # [ACC-P4-5]
        r = await prod.respond(run, video_iid, {"jump_back_requested": True,
                                                "jump_back_target": "change_image"})
        run_doc = prod.db.workflow_runs.find_one({"workflow_run_id": run})
        new_branch = run_doc["current_branch_id"]
        assert new_branch != old_branch
        branch = prod.db.branches.find_one({"branch_id": new_branch})
        assert branch["fork_reason"] == "jump"
        last_start = [e for e in lineage_before if e["event_type"] == "module_started"
                      and e["module_name"] == "generate_and_select_images_v2"][-1]
        assert branch["lineage"][0]["branch_id"] == old_branch
        assert branch["lineage"][0]["cutoff_sequence"] == last_start["sequence"] - 1
        assert branch["lineage"][1]["branch_id"] == new_branch
        assert branch["lineage"][1]["cutoff_sequence"] is None
        on_new = [e for e in await prod.events(run) if e["branch_id"] == new_branch]
        first = on_new[0]
        assert first["event_type"] == "jump_requested"
        assert (first["data"]["target_step"], first["data"]["target_module"],
                first["data"]["source"], first["data"]["step_started"]) == \
            ("image_prompts", "generate_and_select_images_v2", "response", True)
        assert r["progress"]["current_module"] == "generate_and_select_images_v2"
        assert r["interaction_request"]["interaction_id"] != video_iid
        state = await prod.state(run)
        for key in ("image_analysis", "selected_motion_elements", "selected_image_id"):
            assert key not in state
        assert r["progress"]["completed_steps"] == ["user_input", "scene_generation"]
        everything = await prod.events(run, "all")
        written = [e for e in everything if e["sequence"] > all_before]
        assert len(everything) == all_before + len(written)  # nothing was removed
        assert [e["event_type"] for e in written][:2] == ["interaction_response", "jump_requested"]
        assert written[1:] == on_new
        # [ACC-P4-7] jump through the API
        r = await prod.ok("POST", "/workflow/jump", {"workflow_run_id": run,
                                                     "target_step_id": "scene_generation",
                                                     "target_module_name": "select_scene"})
        assert prod.db.workflow_runs.find_one({"workflow_run_id": run})["current_branch_id"] != new_branch
        assert r["progress"]["current_module"] == "select_scene"
        assert r["progress"]["completed_steps"] == ["user_input"]


async def test_p5_jump_to_interaction(secantus_uri: str, cuddle_workflow: dict[str, Any]) -> None:
    """[ACC-P5-1]…[ACC-P5-3]."""
    async with production(secantus_uri) as prod:
        run, r = await _run_to(prod, cuddle_workflow, "p5", "select_duration")
        duration_iid = r["interaction_request"]["interaction_id"]
        history = await prod.ok("GET", f"/workflow/{run}/interaction-history")
        aesthetic_iid = next(h["interaction_id"] for h in history["interactions"]
                             if h["module_name"] == "select_aesthetic")
        count = len(await prod.events(run, "all"))
        r = await prod.ok("POST", "/workflow/jump-to-interaction",
                          {"workflow_run_id": run, "interaction_id": aesthetic_iid})
        assert r["status"] == "awaiting_input"
        assert r["interaction_request"]["interaction_id"] == aesthetic_iid
        branch_id = prod.db.workflow_runs.find_one({"workflow_run_id": run})["current_branch_id"]
        assert prod.db.branches.find_one({"branch_id": branch_id})["fork_reason"] == \
            "jump_to_interaction"
        new_events = (await prod.events(run, "all"))[count:]
        assert [e["event_type"] for e in new_events] == ["jump_requested"]
        assert new_events[0]["data"]["source"] == "interaction"
        history = await prod.ok("GET", f"/workflow/{run}/interaction-history")
        assert [h["module_name"] for h in history["interactions"]] == ["select_pet_type"]
        assert history["pending_interaction"]["interaction_id"] == aesthetic_iid
        # [ACC-P5-2]
        r = await prod.respond(run, aesthetic_iid, {"selected_indices": [5]})
        state = await prod.state(run)
        assert state["aesthetic_selection"]["id"] == "quiet"
        assert r["progress"]["current_module"] == "select_scene"
        assert state["keyword_count"] > 0
        on_branch = [e for e in await prod.events(run) if e["branch_id"] == branch_id]
        executed = [e["module_name"] for e in on_branch if e["event_type"] == "module_completed"]
        assert executed[:6] == ["select_aesthetic", "load_selected_keywords", "load_keywords",
                                "generate_scenes", "flatten_keywords", "save_keywords"]
        # [ACC-P5-3]
        stale = await prod.post("/workflow/respond", {"workflow_run_id": run,
                                                      "interaction_id": duration_iid,
                                                      "response": ANSWERS["select_duration"]})
        assert stale.status_code == 409
        assert stale.json()["error_type"] == "interaction_not_pending"
