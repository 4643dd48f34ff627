"""The issue's "Must show": cuddle_crew from start to its last module through `WorkflowEngine`
on the mongomock VirtualStore in mock mode, with the answers of acceptance.md script A.

Engine-level versions of ACC-P1-1…6, ACC-P2-1…7, ACC-P3-1…5 and ACC-P7-1…5: what the HTTP
scenarios check through routes is checked here on the engine's return values and views.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from engine.mock_data import MOCK_PLACEHOLDER_URL
from engine.validation import validate_schema
from tests.acceptance.script_a import ANSWERS, EVENT_SEQUENCE_A, IMAGE_PARAMS, image_answer
from tests.conftest import CUDDLE_DIR, make_engine
from tests.fakes_engine import USER, RecordingProviders, Walk, request_text

PROVIDER_METADATA_KEYS = {
    "midjourney": {"aspect_ratio", "speed", "versions"},
    "leonardo": {"models", "aspect_ratio", "size", "generation_mode", "num_images", "contrast",
                 "scheduler"},
    "openai": {"models", "aspect_ratio", "quality", "num_images", "background", "output_format"},
    "stable_diffusion": {"categories"},
}


def _schema(relative: str) -> Any:
    return msgspec.json.decode((CUDDLE_DIR / relative).read_bytes())


def _keywords(w: Walk) -> list[dict[str, Any]]:
    return list(w.snapshot().get("weighted_keywords", []))


@pytest.fixture(scope="module")
def p(cuddle_workflow: dict[str, Any]) -> Walk:
    """P1 → P2 (variant A) → P3 on one run, with snapshots taken between the steps."""
    providers = RecordingProviders()
    w = Walk(cuddle_workflow, eng=make_engine(providers=providers))
    w.providers = providers  # type: ignore[attr-defined]
    snap: dict[str, Any] = {"status_start": w.eng.get_status(USER, w.run_id)}
    w.snap = snap  # type: ignore[attr-defined]
    snap["a1"] = w.answer(ANSWERS["select_pet_type"])
    snap["state_a1"] = w.state()
    snap["a2"] = w.answer(ANSWERS["select_aesthetic"])
    snap["state_a2"] = w.state()
    snap["keywords_a2"] = _keywords(w)
    snap["events_a2"] = w.events()
    snap["status_a2"] = w.eng.get_status(USER, w.run_id)
    snap["history_a2"] = w.eng.get_interaction_history(USER, w.run_id)
    # P2-1…3: regenerate_scenes with feedback
    snap["llm_before_sub"] = len(providers.requests)
    snap["sub"] = w.sub_action("regenerate_scenes", {"feedback": "beach"})
    snap["sub_progress"] = list(w.progress)
    snap["llm_sub"] = providers.requests[snap["llm_before_sub"]:]
    snap["events_sub"] = w.events()
    snap["data_sub"] = w.eng.get_interaction_data(USER, w.run_id, w.iid)
    snap["state_sub"] = w.state()
    snap["scene_iid"] = w.iid
    # P2-4 (variant A) and P2-5
    snap["a3"] = w.answer({"selected_indices": ["scenes", 4]})
    snap["state_a3"] = w.state()
    snap["keywords_a3"] = _keywords(w)
    # P3-1
    snap["before_p3_1"] = w.snapshot()
    snap["p3_1"] = w.eng.respond(USER, w.run_id, w.iid, msgspec.convert(
        {"action_id": "continue"}, type=_resp_type()))
    snap["after_p3_1"] = w.snapshot()
    snap["status_p3_1"] = w.eng.get_status(USER, w.run_id)
    # P3-2
    w.progress.clear()
    snap["image_iid"] = w.iid
    snap["image"] = w.sub_action("image_generation", IMAGE_PARAMS)
    snap["image_progress"] = list(w.progress)
    snap["generations"] = w.eng.list_generations(USER, w.run_id, w.iid, "image")
    # P3-3, P3-4
    snap["a4"] = w.answer(image_answer(snap["image"].sub_action_result))
    snap["state_a4"] = w.state()
    snap["a5"] = w.answer(ANSWERS["select_motion_elements"])
    snap["state_a5"] = w.state()
    # P3-5
    snap["p3_5"] = w.eng.respond(USER, w.run_id, w.iid, msgspec.convert(
        {"action_id": "continue"}, type=_resp_type()))
    snap["a6"] = w.answer(ANSWERS["generate_and_select_videos_v2"])
    snap["state_a6"] = w.state()
    return w


def _resp_type() -> type:
    from engine.wire import InteractionResponseData

    return InteractionResponseData


def test_acc_p1_1_start_awaits_pet_type(p: Walk) -> None:
    r = p.first
    assert r.status == "awaiting_input"
    req = r.interaction_request
    assert req is not None and req.interaction_type == "select_from_structured"
    assert req.interaction_id.startswith("select_")
    assert len(req.display_data["data"]) == 3
    assert req.display_data["schema"]["type"] == "array"
    assert req.max_selections == 1
    pr = r.progress
    assert pr is not None
    assert (pr.current_step, pr.current_module, pr.total_steps, pr.step_index,
            pr.module_index) == ("user_input", "select_pet_type", 10, 0, 0)
    assert p.snap["status_start"].mock is True  # type: ignore[attr-defined]


def test_acc_p1_2_pet_type_answer(p: Walk) -> None:
    snap = p.snap  # type: ignore[attr-defined]
    req = snap["a1"].interaction_request
    assert req.context["module_name"] == "select_aesthetic"
    assert len(req.display_data["data"]) == 11
    state = snap["state_a1"]
    assert state["pet_type_selection"] == {
        "id": "cat", "label": "Cat",
        "description": "Feline friends - independent, curious, and endlessly entertaining"}
    assert state["pet_type_indices"] == [0]
    assert state["select_pet_type"]["selected_data"]["id"] == "cat"


def test_acc_p1_3_scene_request_and_state(p: Walk) -> None:
    snap = p.snap  # type: ignore[attr-defined]
    req = snap["a2"].interaction_request
    assert (req.context["step_id"], req.context["module_name"]) == ("scene_generation",
                                                                    "select_scene")
    assert len(req.display_data["data"]["scenes"]) == 3
    assert req.display_data["sub_actions"][0]["id"] == "regenerate_scenes"
    authored_text = (CUDDLE_DIR / "steps/2_scene_generation/schemas/scene_display_schema.json")
    assert req.display_data["schema"] == msgspec.json.decode(authored_text.read_bytes())
    assert "{{ value | join(' → ') }}" in msgspec.json.encode(req.display_data["schema"]).decode()
    state = snap["state_a2"]
    assert state["aesthetic_selection"]["id"] == "playful"
    assert state["keyword_exclusions_selected"] == []
    assert state["keyword_exclusions_generated"] == []
    assert state["keyword_count"] == 0
    assert len(state["flattened_keywords"]) == state["keywords_saved_count"]
    assert 9 <= state["keywords_saved_count"] <= 18
    for item in state["flattened_keywords"]:
        assert item["source"] == "generated"
        assert {"keyword", "category", "weight", "source"} <= set(item)


def test_acc_p1_4_one_keyword_document_per_distinct_keyword(p: Walk) -> None:
    snap = p.snap  # type: ignore[attr-defined]
    distinct = {k["keyword"].strip().lower() for k in snap["state_a2"]["flattened_keywords"]}
    docs = snap["keywords_a2"]
    assert sorted(d["keyword"] for d in docs) == sorted(distinct)
    template_id = snap["status_start"].workflow_template_id
    assert all(d["workflow_template_id"] == template_id and d["scope"] == "mock" for d in docs)


def test_acc_p1_5_first_24_events(p: Walk) -> None:
    events = p.snap["events_a2"]  # type: ignore[attr-defined]
    assert len(events) == 24
    assert [e.event_type for e in events] == EVENT_SEQUENCE_A[:23] + ["interaction_requested"]
    assert all(e.provenance == "mock" for e in events)
    assert [e.sequence for e in events] == list(range(1, 25))
    for e in events:
        if e.event_type == "module_completed":
            assert "outputs" in e.data and "state_mapped" in e.data
    started = [e.step_id for e in events if e.event_type == "step_started"]
    assert started == ["user_input", "scene_generation"]


def test_acc_p1_6_status_and_history(p: Walk) -> None:
    snap = p.snap  # type: ignore[attr-defined]
    scene_id = snap["a2"].interaction_request.interaction_id
    status = snap["status_a2"]
    assert status.status == "awaiting_input"
    assert status.interaction_request.interaction_id == scene_id
    assert status.interaction_request.context["module_name"] == "select_scene"
    history = snap["history_a2"]
    assert [i.module_name for i in history.interactions] == ["select_pet_type", "select_aesthetic"]
    assert history.pending_interaction.interaction_id == scene_id


def test_acc_p2_1_regenerate_scenes_merges(p: Walk) -> None:
    snap = p.snap  # type: ignore[attr-defined]
    outcome, progress = snap["sub"], snap["sub_progress"]
    assert outcome.status == "completed"
    assert progress and progress[0].execution_id.startswith("regenerate_scenes_")
    assert progress[0].message == "Generating new scenes..."
    scenes = outcome.updated_state["scene_concepts"]["scenes"]
    original = snap["state_a2"]["scene_concepts"]["scenes"]
    assert len(scenes) == 6 and scenes[:3] == original
    assert outcome.applied is True and outcome.interaction_refreshed is True


def test_acc_p2_2_child_run_and_feedback(p: Walk) -> None:
    snap = p.snap  # type: ignore[attr-defined]
    children = p.eng.store.list_child_runs(p.run_id)
    assert len(children) == 1
    child = children[0]
    assert child["workflow_run_id"].startswith("wf_sub_")
    assert child["parent_workflow_run_id"] == p.run_id
    assert (child["visible_in_ui"], child["mock"], child["status"]) == (False, True, "completed")
    child_events = p.eng.list_events(USER, child["workflow_run_id"]).events
    assert [e.event_type for e in child_events] == [
        "workflow_created", "step_started", "module_started", "module_completed",
        "module_started", "module_completed", "module_started", "module_completed",
        "step_completed", "workflow_completed"]
    assert [e.module_name for e in child_events if e.event_type == "module_completed"] == [
        "generate_scenes", "flatten_keywords", "save_keywords"]
    assert child_events[0].data["parent_workflow_run_id"] == p.run_id
    assert child_events[0].data["execution_id"] == snap["sub"].execution_id
    tail = [e.event_type for e in snap["events_sub"][len(snap["events_a2"]):]]
    assert tail == ["sub_action_started", "sub_action_completed", "interaction_refreshed"]
    (request,) = snap["llm_sub"]
    assert request_text(request)[-1] == ("user", "FEEDBACK FROM USER: beach")
    new = snap["sub"].updated_state["scene_concepts"]["scenes"][3:]
    assert new != snap["state_a2"]["scene_concepts"]["scenes"]


def test_acc_p2_3_interaction_data_shows_six_scenes(p: Walk) -> None:
    snap = p.snap  # type: ignore[attr-defined]
    assert len(snap["data_sub"].display_data["data"]["scenes"]) == 6
    assert len(snap["state_sub"]["scene_concepts"]["scenes"]) == 6
    assert snap["scene_iid"] == snap["a2"].interaction_request.interaction_id


def test_acc_p2_4_variant_a_unwrapped_selection(p: Walk) -> None:
    snap = p.snap  # type: ignore[attr-defined]
    merged = snap["sub"].updated_state["scene_concepts"]["scenes"]
    state = snap["state_a3"]
    assert state["select_scene"]["selected_data"] == merged[4] == state["selected_scene"]
    assert state["selected_scene_indices"] == ["scenes", 4]
    keywords = merged[4]["scene_keywords"]
    assert [k["keyword"] for k in state["selected_keywords"]] == [k["keyword"] for k in keywords]
    assert all(k["source"] == "selected" for k in state["selected_keywords"])
    assert state["keywords_updated_count"] == len(keywords)
    last_weight = {k["keyword"].strip().lower(): k["weight"] for k in keywords}
    docs = {d["keyword"]: d for d in snap["keywords_a3"]}
    for keyword, weight in last_weight.items():
        assert docs[keyword]["source"] == "selected"
        assert docs[keyword]["weight"] == weight


def test_acc_p2_5_image_request_shape(p: Walk) -> None:
    req = p.snap["a3"].interaction_request  # type: ignore[attr-defined]
    assert req.context["module_name"] == "generate_and_select_images_v2"
    assert req.interaction_type == "media_generation"
    assert req.interaction_id.startswith("media_")
    prompts = req.display_data["data"]["prompts"]
    assert set(prompts) == set(PROVIDER_METADATA_KEYS)
    generated = req.display_data["data"]["_generated_prompts"]["prompts"]
    for name, node in prompts.items():
        assert node["_generations"] == []
        assert set(node["_provider_metadata"]) == PROVIDER_METADATA_KEYS[name]
        assert {k: v for k, v in node.items()
                if k not in ("_provider_metadata", "_generations")} == generated[name]
    assert {"scene_title", "key_moment"} <= set(req.display_data["data"])
    assert req.display_data["retryable"]["options"][0]["id"] == "continue"


def test_acc_p2_6_p2_7_variant_b_and_invalid_path(cuddle_workflow: dict[str, Any]) -> None:
    w = Walk(cuddle_workflow)
    w.answer_script(until="select_scene")
    scene = w.iid
    before = w.snapshot()
    bad = w.eng.respond(USER, w.run_id, scene, msgspec.convert({"selected_indices": [7]},
                                                              type=_resp_type()))
    assert bad.status == "validation_failed"
    assert [(e.id, e.field, e.rule) for e in bad.validation_errors] == [
        ("selection_invalid", "selected_indices", "selection_exists")]
    assert w.snapshot() == before
    assert w.eng.get_status(USER, w.run_id).interaction_request.interaction_id == scene
    r = w.answer({"selected_indices": [["scenes", 1]]})
    assert r.status == "awaiting_input"
    assert w.pending_module == "generate_and_select_images_v2"
    state = w.state()
    assert state["select_scene"]["selected_data"] == state["scene_concepts"]["scenes"][1]
    assert state["selected_scene_indices"] == [["scenes", 1]]
    assert state["selected_scene"] is None
    assert state["selected_keywords"] == [] and state["keywords_updated_count"] == 0


def test_acc_p3_1_image_without_selection_writes_nothing(p: Walk) -> None:
    snap = p.snap  # type: ignore[attr-defined]
    r = snap["p3_1"]
    assert r.status == "validation_failed"
    assert [msgspec.to_builtins(e) for e in r.validation_errors] == [{
        "id": "require_image_selection", "field": "selected_content_id",
        "rule": "response_field_required", "message": "Please select an image before continuing",
        "severity": "error"}]
    assert r.validation_warnings == []
    assert snap["after_p3_1"] == snap["before_p3_1"]
    status = snap["status_p3_1"]
    assert status.status == "awaiting_input"
    assert status.interaction_request.interaction_id == snap["image_iid"]
    answers = snap["after_p3_1"]["interaction_answers"]
    assert [a for a in answers if a["interaction_id"] == snap["image_iid"]] == []


def test_acc_p3_2_mock_image_generation(p: Walk) -> None:
    snap = p.snap  # type: ignore[attr-defined]
    outcome = snap["image"]
    assert outcome.status == "completed" and snap["image_progress"]
    result = outcome.sub_action_result
    assert result["metadata_id"].startswith("mock-cgm_")
    assert len(result["content_ids"]) == 1 and result["content_ids"][0].startswith("mock-gc_")
    assert result["urls"] == [MOCK_PLACEHOLDER_URL]
    assert MOCK_PLACEHOLDER_URL.startswith("data:image/svg+xml;base64,")
    assert (result["prompt_id"], result["provider"], result["mock"]) == ("default", "leonardo", True)
    assert outcome.updated_state == {} and outcome.interaction_refreshed is False
    assert [g.metadata_id for g in snap["generations"].generations] == [result["metadata_id"]]


def test_acc_p3_3_vision_step(p: Walk) -> None:
    snap = p.snap  # type: ignore[attr-defined]
    result = snap["image"].sub_action_result
    content_id = result["content_ids"][0]
    state = snap["state_a4"]
    assert snap["a4"].interaction_request.context["module_name"] == "select_motion_elements"
    assert snap["a4"].interaction_request.max_selections == -1
    assert state["selected_image_id"] == content_id
    assert state["selected_image_data"] == {"content_id": content_id, "url": MOCK_PLACEHOLDER_URL,
                                            "metadata_id": result["metadata_id"],
                                            "prompt_key": "prompts.leonardo"}
    assert set(state["image_prompts"]["prompts"]) == set(PROVIDER_METADATA_KEYS)
    schema = _schema("steps/4_image_analysis/schemas/cc_image_analysis_schema.json")
    assert validate_schema(state["image_analysis"], schema) == []
    detected = state["image_analysis"]["motion_elements"]["detected_elements"]
    assert 3 <= len(detected) <= 8
    assert snap["a4"].interaction_request.display_data["data"]["detected"] == detected


def test_acc_p3_4_motion_elements_and_video_request(p: Walk) -> None:
    snap = p.snap  # type: ignore[attr-defined]
    detected = snap["state_a4"]["image_analysis"]["motion_elements"]["detected_elements"]
    assert snap["state_a5"]["selected_motion_elements"] == detected[:2]
    req = snap["a5"].interaction_request
    assert req.context["module_name"] == "generate_and_select_videos_v2"
    assert req.display_data["data"]["_source_image"] == snap["state_a5"]["selected_image_data"]
    assert set(req.display_data["data"]["prompts"]) == {"leonardo", "openai"}


def test_acc_p3_5_warning_then_confirmed(p: Walk) -> None:
    snap = p.snap  # type: ignore[attr-defined]
    r = snap["p3_5"]
    assert r.status == "validation_failed" and r.validation_errors == []
    assert [msgspec.to_builtins(w) for w in r.validation_warnings] == [{
        "id": "warn_no_video_generation", "field": "generations",
        "rule": "response_field_not_empty",
        "message": "You haven't generated any videos yet. Continue without generating?",
        "severity": "warning"}]
    assert snap["a6"].interaction_request.context["module_name"] == "select_duration"
    state = snap["state_a6"]
    assert state["selected_video_id"] is None and state["selected_video_data"] is None
    assert state["video_generations"] == {}
    assert set(state["video_prompts"]["prompts"]) == {"leonardo", "openai"}
    assert isinstance(state["video_prompts"]["motion_summary"], str)


# ---------------------------------------------------------------------- P7: full run


@pytest.fixture(scope="module")
def full(cuddle_workflow: dict[str, Any]) -> Walk:
    providers = RecordingProviders()
    w = Walk(cuddle_workflow, eng=make_engine(providers=providers))
    w.providers = providers  # type: ignore[attr-defined]
    w.answer_script(until="write_summary_file")
    w.summary_request = w.request  # type: ignore[attr-defined]
    w.answer(ANSWERS["write_summary_file"])
    return w


def test_acc_p7_1_completed_with_flat_state(full: Walk) -> None:
    r = full.last
    assert r.status == "completed"
    assert r.result == full.state()
    run = full.run_doc()
    assert run["status"] == "completed" and run["completed_at"] is not None
    status = full.eng.get_status(USER, full.run_id)
    assert status.status == "completed" and status.completed_at is not None


def test_acc_p7_2_event_sequence_of_script_a(full: Walk) -> None:
    events = full.events()
    assert [e.event_type for e in events] == EVENT_SEQUENCE_A
    assert [e.sequence for e in events] == list(range(1, 93))


def test_acc_p7_3_summary_file_request(full: Walk) -> None:
    history = full.eng.get_interaction_history(USER, full.run_id)
    (item,) = [i for i in history.interactions if i.module_name == "write_summary_file"]
    req = item.request
    assert req is not None and req.interaction_type == "file_download"
    assert req.file_name == "cuddle_crew_summary.txt"
    assert req.file_content_type == "text"
    assert req.file_content == full.state()["workflow_summary_text"]
    assert history.pending_interaction is None


def test_acc_p7_4_summary_text(full: Walk) -> None:
    state = full.state()
    text = state["workflow_summary_text"]
    assert text.split("\n")[0] == "=" * 80
    assert "\r" not in text and "\n" in text
    for needle in ("Pet Type: Cat", "Story Aesthetic: Playful Chaos",
                   "Generated: 2026-01-01 00:00:", "Video Duration: 30 seconds"):
        assert needle in text
    assert state["summary_file_path"] == "cuddle_crew_summary.txt"
    assert state["summary_filename"] == "cuddle_crew_summary.txt"


def test_acc_p7_5_no_tokens_and_no_live_provider(full: Walk) -> None:
    assert full.eng.store.list_token_usage(full.run_id) == []
    assert "tokens" not in full.snapshot()
    providers = full.providers  # type: ignore[attr-defined]
    assert providers.views and all(providers.views)  # every provider view was the mock one
    assert providers.requests  # the LLM modules did call (mock) providers
    assert all(e.provenance == "mock" for e in full.events())
