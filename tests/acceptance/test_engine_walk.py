"""Issue 2 acceptance: cuddle_crew walked start to finish through `WorkflowEngine` in mock mode.

The engine runs on the mongomock `VirtualStore` with the answers of acceptance.md script A
(A4 through the `image_generation` self sub-action), and the state and event sequence the
spec gives are asserted (ACC-P1, P2-1/3/4, P3-2/3/4/5, P7-1…5; the 92-event sequence of §1).
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
import pytest

from engine.mock_data import MOCK_PLACEHOLDER_URL
from engine.validation import validate_schema
from tests.acceptance.script_a import ANSWERS, EVENT_SEQUENCE_A, IMAGE_PARAMS, image_answer
from tests.conftest import CUDDLE_DIR
from tests.fakes_engine import USER, Walk, resp


@pytest.fixture(scope="module")
def walk(cuddle_workflow: dict[str, Any]) -> Walk:
    """Script A answered up to the end, with snapshots taken on the way."""
    w = Walk(cuddle_workflow)
    w.snap: dict[str, Any] = {}  # type: ignore[attr-defined]
    w.answer(ANSWERS["select_pet_type"])
    w.snap["after_a1"] = w.state()  # type: ignore[attr-defined]
    w.answer(ANSWERS["select_aesthetic"])
    w.snap["scene_request"] = w.last.interaction_request  # type: ignore[attr-defined]
    w.snap["after_a2"] = w.state()  # type: ignore[attr-defined]
    w.snap["p1_events"] = w.event_types()  # type: ignore[attr-defined]
    w.snap["keywords"] = w.eng.store.aggregate_keywords([  # type: ignore[attr-defined]
        {"$match": {"workflow_template_id": w.eng.get_status(USER, w.run_id).workflow_template_id,
                    "scope": "mock"}}])
    w.answer(ANSWERS["select_scene"])
    w.snap["image_request"] = w.last.interaction_request  # type: ignore[attr-defined]
    w.snap["p3_1"] = w.answer({"action_id": "continue"})  # type: ignore[attr-defined]
    outcome = w.sub_action("image_generation", IMAGE_PARAMS)
    w.snap["image_outcome"] = outcome  # type: ignore[attr-defined]
    w.answer(image_answer(outcome.sub_action_result))
    w.snap["motion_request"] = w.last.interaction_request  # type: ignore[attr-defined]
    w.snap["after_a4"] = w.state()  # type: ignore[attr-defined]
    w.answer(ANSWERS["select_motion_elements"])
    w.snap["video_request"] = w.last.interaction_request  # type: ignore[attr-defined]
    w.snap["p3_5"] = w.answer({"action_id": "continue"})  # type: ignore[attr-defined]
    for module in ("generate_and_select_videos_v2", "select_duration",
                   "generate_and_select_music_v2", "select_text_overlay",
                   "select_title_description"):
        assert w.pending_module == module
        w.answer(ANSWERS[module])
    assert w.pending_module == "write_summary_file"
    w.snap["summary_request"] = w.last.interaction_request  # type: ignore[attr-defined]
    w.answer(ANSWERS["write_summary_file"])
    return w


def test_acc_p1_1_start_awaits_pet_type(walk: Walk) -> None:
    r = walk.first
    assert r.status == "awaiting_input"
    req = r.interaction_request
    assert req is not None and req.interaction_type == "select_from_structured"
    assert req.interaction_id.startswith("select_")
    assert len(req.display_data["data"]) == 3
    assert req.display_data["schema"]["type"] == "array"
    assert req.max_selections == 1
    p = r.progress
    assert p is not None
    assert (p.current_step, p.current_module, p.total_steps, p.step_index, p.module_index) == \
        ("user_input", "select_pet_type", 10, 0, 0)


def test_acc_p1_2_pet_type_state(walk: Walk) -> None:
    state = walk.snap["after_a1"]  # type: ignore[attr-defined]
    assert state["pet_type_selection"] == {
        "id": "cat", "label": "Cat",
        "description": "Feline friends - independent, curious, and endlessly entertaining"}
    assert state["pet_type_indices"] == [0]
    assert state["select_pet_type"]["selected_data"]["id"] == "cat"


def test_acc_p1_3_scene_step_state(walk: Walk) -> None:
    req = walk.snap["scene_request"]  # type: ignore[attr-defined]
    assert req.context["module_name"] == "select_scene"
    assert len(req.display_data["data"]["scenes"]) == 3
    assert req.display_data["sub_actions"][0]["id"] == "regenerate_scenes"
    authored = msgspec.json.decode(
        (CUDDLE_DIR / "steps/2_scene_generation/schemas/scene_display_schema.json").read_bytes())
    assert req.display_data["schema"] == authored
    state = walk.snap["after_a2"]  # type: ignore[attr-defined]
    assert state["aesthetic_selection"]["id"] == "playful"
    assert state["keyword_exclusions_selected"] == []
    assert state["keyword_exclusions_generated"] == []
    assert state["keyword_count"] == 0
    assert len(state["flattened_keywords"]) == state["keywords_saved_count"]
    assert 9 <= state["keywords_saved_count"] <= 18
    for item in state["flattened_keywords"]:
        assert item["source"] == "generated"
        assert {"keyword", "category", "weight", "source"} <= set(item)


def test_acc_p1_4_one_keyword_document_per_distinct_keyword(walk: Walk) -> None:
    state = walk.snap["after_a2"]  # type: ignore[attr-defined]
    distinct = {k["keyword"].strip().lower() for k in state["flattened_keywords"]}
    docs = walk.snap["keywords"]  # type: ignore[attr-defined]
    assert sorted(d["keyword"] for d in docs) == sorted(distinct)


def test_acc_p1_5_first_24_events(walk: Walk) -> None:
    types = walk.snap["p1_events"]  # type: ignore[attr-defined]
    assert types == EVENT_SEQUENCE_A[:24]


def test_acc_p3_1_image_without_selection_is_rejected(walk: Walk) -> None:
    r = walk.snap["p3_1"]  # type: ignore[attr-defined]
    assert r.status == "validation_failed"
    assert [msgspec.to_builtins(e) for e in r.validation_errors] == [{
        "id": "require_image_selection", "field": "selected_content_id",
        "rule": "response_field_required",
        "message": "Please select an image before continuing", "severity": "error"}]
    assert r.validation_warnings == []


def test_acc_p2_5_image_request_shape(walk: Walk) -> None:
    req = walk.snap["image_request"]  # type: ignore[attr-defined]
    assert req.interaction_type == "media_generation"
    assert req.interaction_id.startswith("media_")
    prompts = req.display_data["data"]["prompts"]
    assert list(prompts) == ["midjourney", "leonardo", "openai", "stable_diffusion"]
    generated = req.display_data["data"]["_generated_prompts"]["prompts"]
    for name, node in prompts.items():
        assert node["_generations"] == []
        assert "_provider_metadata" in node
        assert {k: v for k, v in node.items()
                if k not in ("_provider_metadata", "_generations")} == generated[name]
    assert {"scene_title", "key_moment"} <= set(req.display_data["data"])
    assert req.display_data["retryable"]["options"][0]["id"] == "continue"


def test_acc_p3_2_mock_image_generation(walk: Walk) -> None:
    outcome = walk.snap["image_outcome"]  # type: ignore[attr-defined]
    assert outcome.status == "completed"
    result = outcome.sub_action_result
    assert result["metadata_id"].startswith("mock-cgm_")
    assert len(result["content_ids"]) == 1 and result["content_ids"][0].startswith("mock-gc_")
    assert result["urls"] == [MOCK_PLACEHOLDER_URL]
    assert MOCK_PLACEHOLDER_URL.startswith("data:image/svg+xml;base64,")
    assert (result["prompt_id"], result["provider"], result["mock"]) == ("default", "leonardo", True)
    assert outcome.updated_state == {} and outcome.interaction_refreshed is False
    gens = walk.eng.list_generations(USER, walk.run_id,
                                     walk.snap["image_request"].interaction_id,  # type: ignore[attr-defined]
                                     "image")
    assert [g.metadata_id for g in gens.generations] == [result["metadata_id"]]


def test_acc_p3_3_vision_step_and_motion_request(walk: Walk) -> None:
    state = walk.snap["after_a4"]  # type: ignore[attr-defined]
    result = walk.snap["image_outcome"].sub_action_result  # type: ignore[attr-defined]
    content_id = result["content_ids"][0]
    assert state["selected_image_id"] == content_id
    assert state["selected_image_data"] == {"content_id": content_id, "url": MOCK_PLACEHOLDER_URL,
                                            "metadata_id": result["metadata_id"],
                                            "prompt_key": "prompts.leonardo"}
    assert sorted(state["image_prompts"]["prompts"]) == sorted(
        ["midjourney", "leonardo", "openai", "stable_diffusion"])
    schema = msgspec.json.decode(
        (CUDDLE_DIR / "steps/4_image_analysis/schemas/cc_image_analysis_schema.json").read_bytes())
    assert validate_schema(state["image_analysis"], schema) == []
    detected = state["image_analysis"]["motion_elements"]["detected_elements"]
    assert 3 <= len(detected) <= 8
    req = walk.snap["motion_request"]  # type: ignore[attr-defined]
    assert req.max_selections == -1
    assert req.display_data["data"]["detected"] == detected


def test_acc_p3_4_p3_5_video_step(walk: Walk) -> None:
    req = walk.snap["video_request"]  # type: ignore[attr-defined]
    state = walk.snap["after_a4"]  # type: ignore[attr-defined]
    assert req.display_data["data"]["_source_image"] == state["selected_image_data"]
    assert list(req.display_data["data"]["prompts"]) == ["leonardo", "openai"]
    r = walk.snap["p3_5"]  # type: ignore[attr-defined]
    assert r.status == "validation_failed"
    assert r.validation_errors == []
    assert [msgspec.to_builtins(w) for w in r.validation_warnings] == [{
        "id": "warn_no_video_generation", "field": "generations",
        "rule": "response_field_not_empty",
        "message": "You haven't generated any videos yet. Continue without generating?",
        "severity": "warning"}]
    final = walk.state()
    assert final["selected_video_id"] is None and final["selected_video_data"] is None
    assert final["video_generations"] == {}
    assert sorted(final["video_prompts"]["prompts"]) == ["leonardo", "openai"]
    assert isinstance(final["video_prompts"]["motion_summary"], str)


def test_acc_p7_1_p7_2_completed_with_92_events(walk: Walk) -> None:
    r = walk.last
    assert r.status == "completed"
    assert r.result == walk.state()
    run = walk.eng.store.get_run(walk.run_id)
    assert run["status"] == "completed" and run["completed_at"] is not None
    assert walk.eng.get_status(USER, walk.run_id).status == "completed"
    assert walk.event_types() == EVENT_SEQUENCE_A
    events = walk.eng.list_events(USER, walk.run_id).events
    assert [e.sequence for e in events] == list(range(1, 93))
    assert all(e.provenance == "mock" for e in events)


def test_acc_p7_3_p7_4_summary(walk: Walk) -> None:
    req = walk.snap["summary_request"]  # type: ignore[attr-defined]
    state = walk.state()
    assert req.interaction_type == "file_download"
    assert req.file_name == "cuddle_crew_summary.txt"
    assert req.file_content_type == "text"
    assert req.file_content == state["workflow_summary_text"]
    text = state["workflow_summary_text"]
    assert text.startswith("=" * 80)
    assert "\r" not in text
    for needle in ("Pet Type: Cat", "Story Aesthetic: Playful Chaos",
                   "Generated: 2026-01-01 00:00:", "Video Duration: 30 seconds"):
        assert needle in text
    assert state["summary_file_path"] == "cuddle_crew_summary.txt"
    assert state["summary_filename"] == "cuddle_crew_summary.txt"


def test_acc_p7_5_no_tokens_in_mock_mode(walk: Walk) -> None:
    assert walk.eng.store.list_token_usage(walk.run_id) == []


def test_acc_p6_idempotent_replay_after_completion(walk: Walk) -> None:
    """ENG-50 / ACC-P6-5: replaying an early answer after the run moved on returns its outcome."""
    history = walk.eng.get_interaction_history(USER, walk.run_id)
    first = history.interactions[0]
    assert first.module_name == "select_pet_type"
    before = len(walk.event_types())
    replay = walk.eng.respond(USER, walk.run_id, first.interaction_id,
                              resp(ANSWERS["select_pet_type"]))
    assert msgspec.json.encode(replay) == msgspec.json.encode(walk.responses["select_pet_type"])
    assert len(walk.event_types()) == before


def test_acc_p2_sub_action_merge_and_refresh(cuddle_workflow: dict[str, Any]) -> None:
    """ACC-P2-1…4, ENG-35/36: regenerate_scenes merges 6 scenes and refreshes the request."""
    w = Walk(cuddle_workflow)
    w.answer(ANSWERS["select_pet_type"])
    w.answer(ANSWERS["select_aesthetic"])
    scene_id = w.last.interaction_request.interaction_id  # type: ignore[union-attr]
    original = w.state()["scene_concepts"]["scenes"]
    outcome = w.sub_action("regenerate_scenes", {"feedback": "beach"})
    assert outcome.status == "completed" and outcome.applied and outcome.interaction_refreshed
    assert w.progress[0].execution_id.startswith("regenerate_scenes_")
    assert w.progress[0].message == "Generating new scenes..."
    merged = outcome.updated_state["scene_concepts"]["scenes"]
    assert len(merged) == 6 and merged[:3] == original and merged[3:] != original
    data = w.eng.get_interaction_data(USER, w.run_id, scene_id)
    assert len(data.display_data["data"]["scenes"]) == 6
    assert w.eng.get_status(USER, w.run_id).interaction_request.interaction_id == scene_id  # type: ignore[union-attr]
    child = [r for r in w.eng.store.list_child_runs(w.run_id)]
    assert len(child) == 1 and child[0]["workflow_run_id"].startswith("wf_sub_")
    assert child[0]["visible_in_ui"] is False and child[0]["status"] == "completed"
    tail = w.event_types()[-3:]
    assert tail == ["sub_action_started", "sub_action_completed", "interaction_refreshed"]
    r = w.answer({"selected_indices": ["scenes", 4]})
    assert r.status == "awaiting_input"
    state = w.state()
    assert state["select_scene"]["selected_data"] == merged[4] == state["selected_scene"]
    assert state["selected_scene_indices"] == ["scenes", 4]
    assert [k["keyword"] for k in state["selected_keywords"]] == \
        [k["keyword"] for k in merged[4]["scene_keywords"]]
    assert all(k["source"] == "selected" for k in state["selected_keywords"])
    assert state["keywords_updated_count"] == len(merged[4]["scene_keywords"])


def test_ids_have_spec_prefixes(walk: Walk) -> None:
    """engine.md §19: run, branch, event, interaction ids carry their prefixes and 32 hex."""
    assert re.fullmatch(r"wf_[0-9a-f]{32}", walk.run_id)
    events = walk.eng.list_events(USER, walk.run_id).events
    assert all(re.fullmatch(r"evt_[0-9a-f]{32}", e.event_id) for e in events)
    assert all(re.fullmatch(r"br_[0-9a-f]{32}", e.branch_id) for e in events)
