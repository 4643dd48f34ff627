"""Production scenarios P1–P3 (acceptance.md §2) over HTTP against the secantusdb server."""

from __future__ import annotations

from typing import Any

import jsonschema

from engine.mock_data import MOCK_PLACEHOLDER_URL
from tests.acceptance.production_client import Prod, production
from tests.acceptance.script_a import ANSWERS, IMAGE_PARAMS, image_answer

I = ["module_started", "interaction_requested", "interaction_response", "module_completed"]
E = ["module_started", "module_completed"]


def _module(workflow: dict[str, Any], name: str) -> dict[str, Any]:
    return next(m for s in workflow["steps"] for m in s["modules"] if m["name"] == name)


async def _p1(prod: Prod, workflow: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    r = await prod.start(workflow)
    # [ACC-P1-1]
    assert r["status"] == "awaiting_input"
    req = r["interaction_request"]
    assert req["interaction_type"] == "select_from_structured"
    assert req["interaction_id"].startswith("select_")
    assert len(req["display_data"]["data"]) == 3
    assert req["display_data"]["schema"]["type"] == "array"
    assert req["max_selections"] == 1
    p = r["progress"]
    assert (p["current_step"], p["current_module"], p["total_steps"], p["step_index"],
            p["module_index"]) == ("user_input", "select_pet_type", 10, 0, 0)
    run = r["workflow_run_id"]
    assert (await prod.ok("GET", f"/workflow/{run}/status"))["mock"] is True
    # [ACC-P1-2]
    r = await prod.respond(run, req["interaction_id"], ANSWERS["select_pet_type"])
    assert r["progress"]["current_module"] == "select_aesthetic"
    assert len(r["interaction_request"]["display_data"]["data"]) == 11
    state = await prod.state(run)
    assert state["pet_type_selection"] == {
        "id": "cat", "label": "Cat",
        "description": "Feline friends - independent, curious, and endlessly entertaining"}
    assert state["pet_type_indices"] == [0]
    assert state["select_pet_type"]["selected_data"]["id"] == "cat"
    # [ACC-P1-3]
    r = await prod.respond(run, r["interaction_request"]["interaction_id"],
                           ANSWERS["select_aesthetic"])
    assert (r["progress"]["current_step"], r["progress"]["current_module"]) == \
        ("scene_generation", "select_scene")
    dd = r["interaction_request"]["display_data"]
    assert len(dd["data"]["scenes"]) == 3
    assert dd["sub_actions"][0]["id"] == "regenerate_scenes"
    authored = _module(workflow, "select_scene")["inputs"]["schema"]
    assert dd["schema"] == authored
    assert "{{ value | join(' → ') }}" in str(dd["schema"])
    state = await prod.state(run)
    assert state["aesthetic_selection"]["id"] == "playful"
    assert state["keyword_exclusions_selected"] == []
    assert state["keyword_exclusions_generated"] == []
    assert state["keyword_count"] == 0
    assert len(state["flattened_keywords"]) == state["keywords_saved_count"]
    assert 9 <= state["keywords_saved_count"] <= 18
    for item in state["flattened_keywords"]:
        assert item["source"] == "generated"
        assert {"keyword", "category", "weight", "source"} <= set(item)
    return run, r


async def test_p1_to_p3_steps_sub_actions_media(secantus_uri: str, cuddle_workflow: dict[str, Any]) -> None:
    """[ACC-P1-1]…[ACC-P1-6], [ACC-P2-1]…[ACC-P2-5], [ACC-P3-1]…[ACC-P3-5]."""
    async with production(secantus_uri) as prod:
        run, r = await _p1(prod, cuddle_workflow)
        state = await prod.state(run)
        status = await prod.ok("GET", f"/workflow/{run}/status")
        template_id = status["workflow_template_id"]
        # [ACC-P1-4] one weighted keyword per distinct normalised keyword, template- and mock-scoped
        docs = list(prod.db.weighted_keywords.find({}, {"_id": 0}))
        distinct = {k["keyword"].strip().lower() for k in state["flattened_keywords"]}
        assert sorted(d["keyword"] for d in docs) == sorted(distinct)
        assert all(d["workflow_template_id"] == template_id and d["scope"] == "mock" for d in docs)
        # [ACC-P1-5]
        events = await prod.events(run)
        assert [e["event_type"] for e in events] == (
            ["workflow_created", "step_started", *I, *I, "step_completed", "step_started",
             *E * 5, "module_started", "interaction_requested"])
        assert [e["sequence"] for e in events] == list(range(1, 25))
        assert all(e["provenance"] == "mock" for e in events)
        for e in events:
            if e["event_type"] == "module_completed":
                assert "outputs" in e["data"] and "state_mapped" in e["data"]
        started = [e["step_id"] for e in events if e["event_type"] == "step_started"]
        assert len(started) == len(set(started))
        # [ACC-P1-6]
        scene_iid = r["interaction_request"]["interaction_id"]
        assert status["status"] == "awaiting_input"
        assert status["interaction_request"]["interaction_id"] == scene_iid
        history = await prod.ok("GET", f"/workflow/{run}/interaction-history")
        assert [h["module_name"] for h in history["interactions"]] == \
            ["select_pet_type", "select_aesthetic"]
        assert history["pending_interaction"]["interaction_id"] == scene_iid

        # [ACC-P2-1] regenerate scenes: progress frames, then one complete
        original = state["scene_concepts"]["scenes"]
        frames = await prod.sub_action(run, scene_iid, "regenerate_scenes", {"feedback": "beach"})
        progress = [d for e, d in frames if e == "progress"]
        assert progress and progress[0]["execution_id"].startswith("regenerate_scenes_")
        assert progress[0]["message"] == "Generating new scenes..."
        kind, done = frames[-1]
        assert kind == "complete"
        scenes = done["updated_state"]["scene_concepts"]["scenes"]
        assert len(scenes) == 6 and scenes[:3] == original
        assert done["applied"] is True and done["interaction_refreshed"] is True
        # [ACC-P2-2] the child run
        child = prod.db.workflow_runs.find_one({"parent_workflow_run_id": run}, {"_id": 0})
        assert child["workflow_run_id"].startswith("wf_sub_")
        assert child["visible_in_ui"] is False and child["mock"] is True
        assert child["status"] == "completed"
        child_types = [e["event_type"] for e in prod.db.events.find(
            {"workflow_run_id": child["workflow_run_id"]}, {"_id": 0}).sort("sequence", 1)]
        assert child_types == ["workflow_created", "step_started", *E * 3, "step_completed",
                               "workflow_completed"]
        tail = [e["event_type"] for e in await prod.events(run)][-3:]
        assert tail == ["sub_action_started", "sub_action_completed", "interaction_refreshed"]
        assert scenes[3:] != original
        # [ACC-P2-3]
        data = await prod.ok("GET", f"/workflow/{run}/interaction/{scene_iid}/data")
        assert len(data["display_data"]["data"]["scenes"]) == 6
        assert len((await prod.state(run))["scene_concepts"]["scenes"]) == 6
        status = await prod.ok("GET", f"/workflow/{run}/status")
        assert status["interaction_request"]["interaction_id"] == scene_iid
        # [ACC-P2-4] variant A (unwrapped)
        r = await prod.respond(run, scene_iid, {"selected_indices": ["scenes", 4]})
        state = await prod.state(run)
        assert state["select_scene"]["selected_data"] == scenes[4] == state["selected_scene"]
        assert state["selected_scene_indices"] == ["scenes", 4]
        expected_kw = [{**k, "source": "selected"} for k in scenes[4]["scene_keywords"]]
        assert state["selected_keywords"] == expected_kw
        assert state["keywords_updated_count"] == len(expected_kw)
        for kw in scenes[4]["scene_keywords"]:
            doc = prod.db.weighted_keywords.find_one(
                {"workflow_template_id": template_id, "scope": "mock",
                 "keyword": kw["keyword"].strip().lower()})
            last = [k for k in scenes[4]["scene_keywords"]
                    if k["keyword"].strip().lower() == kw["keyword"].strip().lower()][-1]
            assert doc["source"] == "selected" and doc["weight"] == last["weight"]
        # [ACC-P2-5] the image interaction
        req = r["interaction_request"]
        assert (r["progress"]["current_step"], r["progress"]["current_module"]) == \
            ("image_prompts", "generate_and_select_images_v2")
        assert req["interaction_type"] == "media_generation"
        assert req["interaction_id"].startswith("media_")
        prompts = req["display_data"]["data"]["prompts"]
        assert set(prompts) == {"midjourney", "leonardo", "openai", "stable_diffusion"}
        for key, value in prompts.items():
            assert "_provider_metadata" in value and value["_generations"] == []
            bare = {k: v for k, v in value.items() if k not in ("_provider_metadata", "_generations")}
            assert req["display_data"]["data"]["_generated_prompts"]["prompts"][key] == bare
        assert "scene_title" in req["display_data"]["data"]
        assert "key_moment" in req["display_data"]["data"]
        assert req["display_data"]["retryable"]["options"][0]["id"] == "continue"
        media_iid = req["interaction_id"]

        # [ACC-P3-1] missing selection: validation_failed, nothing written
        before = len(await prod.events(run, "all"))
        r = await prod.respond(run, media_iid, {"action_id": "continue"})
        assert r["status"] == "validation_failed"
        assert r["validation_errors"] == [{
            "id": "require_image_selection", "field": "selected_content_id",
            "rule": "response_field_required",
            "message": "Please select an image before continuing", "severity": "error"}]
        assert r["validation_warnings"] == []
        assert len(await prod.events(run, "all")) == before
        status = await prod.ok("GET", f"/workflow/{run}/status")
        assert status["status"] == "awaiting_input"
        assert status["interaction_request"]["interaction_id"] == media_iid
        assert prod.db.interaction_answers.count_documents(
            {"workflow_run_id": run, "interaction_id": media_iid}) == 0
        # [ACC-P3-2] mock image generation
        frames = await prod.sub_action(run, media_iid, "image_generation", IMAGE_PARAMS)
        assert frames[0][0] == "progress" and frames[-1][0] == "complete"
        result = frames[-1][1]["sub_action_result"]
        assert result["metadata_id"].startswith("mock-cgm_")
        assert len(result["content_ids"]) == 1 and result["content_ids"][0].startswith("mock-gc_")
        assert result["urls"] == [MOCK_PLACEHOLDER_URL]
        assert MOCK_PLACEHOLDER_URL.startswith("data:image/svg+xml;base64,")
        assert (result["prompt_id"], result["provider"], result["mock"]) == ("default", "leonardo", True)
        assert frames[-1][1]["updated_state"] == {}
        assert frames[-1][1]["interaction_refreshed"] is False
        gens = await prod.ok("GET", f"/workflow/{run}/interaction/{media_iid}/generations"
                                    "?content_type=image")
        assert [g["metadata_id"] for g in gens["generations"]] == [result["metadata_id"]]
        # [ACC-P3-3] A4 → vision step → motion elements
        r = await prod.respond(run, media_iid, image_answer(result))
        assert r["progress"]["current_module"] == "select_motion_elements"
        assert r["interaction_request"]["max_selections"] == -1
        state = await prod.state(run)
        assert state["selected_image_id"] == result["content_ids"][0]
        assert state["selected_image_data"] == {
            "content_id": result["content_ids"][0], "url": MOCK_PLACEHOLDER_URL,
            "metadata_id": result["metadata_id"], "prompt_key": "prompts.leonardo"}
        assert set(state["image_prompts"]["prompts"]) == set(prompts)
        analysis_schema = _module(cuddle_workflow, "analyze_image")["inputs"].get("output_schema")
        if isinstance(analysis_schema, dict):
            jsonschema.validate(state["image_analysis"], analysis_schema)
        detected = state["image_analysis"]["motion_elements"]["detected_elements"]
        assert 3 <= len(detected) <= 8
        assert r["interaction_request"]["display_data"]["data"]["detected"] == detected
        # [ACC-P3-4]
        r = await prod.respond(run, r["interaction_request"]["interaction_id"],
                               ANSWERS["select_motion_elements"])
        state = await prod.state(run)
        assert state["selected_motion_elements"] == detected[:2]
        assert r["progress"]["current_module"] == "generate_and_select_videos_v2"
        video_data = r["interaction_request"]["display_data"]["data"]
        assert video_data["_source_image"] == state["selected_image_data"]
        assert set(video_data["prompts"]) == {"leonardo", "openai"}
        # [ACC-P3-5] warning, then confirmed
        video_iid = r["interaction_request"]["interaction_id"]
        r = await prod.respond(run, video_iid, {"action_id": "continue"})
        assert r["status"] == "validation_failed" and r["validation_errors"] == []
        assert r["validation_warnings"] == [{
            "id": "warn_no_video_generation", "field": "generations",
            "rule": "response_field_not_empty",
            "message": "You haven't generated any videos yet. Continue without generating?",
            "severity": "warning"}]
        r = await prod.respond(run, video_iid, ANSWERS["generate_and_select_videos_v2"])
        assert (r["progress"]["current_step"], r["progress"]["current_module"]) == \
            ("duration_selection", "select_duration")
        state = await prod.state(run)
        assert state["selected_video_id"] is None and state["selected_video_data"] is None
        assert state["video_generations"] == {}
        assert set(state["video_prompts"]["prompts"]) == {"leonardo", "openai"}
        assert isinstance(state["video_prompts"]["motion_summary"], str)


async def test_p2_variant_b_and_invalid_selection(secantus_uri: str,
                                                  cuddle_workflow: dict[str, Any]) -> None:
    """[ACC-P2-6] wrapped scene selection; [ACC-P2-7] an out-of-range selection writes nothing."""
    async with production(secantus_uri) as prod:
        run, r = await _p1(prod, cuddle_workflow)
        scene_iid = r["interaction_request"]["interaction_id"]
        before = len(await prod.events(run, "all"))
        bad = await prod.respond(run, scene_iid, {"selected_indices": [7]})
        assert bad["status"] == "validation_failed"
        assert len(bad["validation_errors"]) == 1
        err = bad["validation_errors"][0]
        assert (err["id"], err["field"], err["rule"]) == \
            ("selection_invalid", "selected_indices", "selection_exists")
        assert len(await prod.events(run, "all")) == before
        status = await prod.ok("GET", f"/workflow/{run}/status")
        assert status["interaction_request"]["interaction_id"] == scene_iid

        scenes = (await prod.state(run))["scene_concepts"]["scenes"]
        r = await prod.respond(run, scene_iid, {"selected_indices": [["scenes", 1]]})
        state = await prod.state(run)
        assert state["select_scene"]["selected_data"] == scenes[1]
        assert state["selected_scene_indices"] == [["scenes", 1]]
        assert state["selected_scene"] is None
        assert state["selected_keywords"] == []
        assert state["keywords_updated_count"] == 0
        assert r["progress"]["current_module"] == "generate_and_select_images_v2"
