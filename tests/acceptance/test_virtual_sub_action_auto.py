"""ACC-V5 (sub-actions in the virtual server) and ACC-V6 (auto-respond and provenance)."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from engine.mock_data import MOCK_PLACEHOLDER_URL
from providers.provider_set import DefaultProviderSet
from tests.acceptance.script_a import IMAGE_PARAMS
from tests.acceptance.virtual_parity import normalise
from tests.acceptance.virtual_support import (  # noqa: F401
    ANSWERS,
    VirtualClient,
    decode_blob,
    make_app,
    vclient,
)

SCENE = ("scene_generation", "select_scene")
IMAGES = ("image_prompts", "generate_and_select_images_v2")
UP_TO_SCENE = {k: ANSWERS[k] for k in ("select_pet_type", "select_aesthetic")}


async def test_acc_v5_1_regenerate_scenes_then_select_merged(vclient: VirtualClient) -> None:
    """[ACC-V5-1][SSE-1][SSE-3] progress … complete with a new blob and 6 scenes; then select 4."""
    body = await vclient.drive(*SCENE, UP_TO_SCENE)
    iid = body["interaction_request"]["interaction_id"]
    original = body["interaction_request"]["display_data"]["data"]["scenes"]
    frames = await vclient.sub_action(body["result"]["virtual_db"], iid, "regenerate_scenes",
                                      {"feedback": "beach"})
    assert frames[0].event == "progress"
    assert frames[0].data["execution_id"].startswith("regenerate_scenes_")
    assert frames[0].data["message"] == "Generating new scenes..."
    done = frames[-1]
    assert done.event == "complete" and done.data["applied"] is True
    assert done.data["interaction_refreshed"] is True
    assert done.data["virtual_db"] != body["result"]["virtual_db"]
    scenes = done.data["state"]["scene_concepts"]["scenes"]
    assert len(scenes) == 6 and scenes[:3] == original
    assert len(done.data["updated_state"]["scene_concepts"]["scenes"]) == 6
    status, answered = await vclient.respond(*IMAGES, done.data["virtual_db"], iid,
                                             {"selected_indices": ["scenes", 4]})
    assert status == 200 and answered["status"] == "awaiting_input"
    view = await vclient.state(answered["result"]["virtual_db"])
    assert view["state"]["selected_scene"] == scenes[4]


async def test_acc_v5_2_image_generation_and_generations_view(vclient: VirtualClient) -> None:
    """[ACC-V5-2][ACC-P3-2] Mock image generation, listed by /workflow/generations."""
    body = await vclient.drive(*IMAGES, {**UP_TO_SCENE, "select_scene": ANSWERS["select_scene"]})
    iid = body["interaction_request"]["interaction_id"]
    frames = await vclient.sub_action(body["result"]["virtual_db"], iid, "image_generation",
                                      IMAGE_PARAMS)
    done = frames[-1]
    assert done.event == "complete", done.data
    result = done.data["sub_action_result"]
    assert result["metadata_id"].startswith("mock-cgm_")
    assert len(result["content_ids"]) == 1 and result["content_ids"][0].startswith("mock-gc_")
    assert result["urls"] == [MOCK_PLACEHOLDER_URL]
    assert MOCK_PLACEHOLDER_URL.startswith("data:image/svg+xml;base64,")
    assert (result["prompt_id"], result["provider"], result["mock"]) == ("default", "leonardo", True)
    assert done.data["updated_state"] == {} and done.data["interaction_refreshed"] is False
    status, listed = await vclient.post("/workflow/generations", {
        "virtual_db": done.data["virtual_db"], "interaction_id": iid, "content_type": "image"})
    assert status == 200
    assert [g["metadata_id"] for g in listed["generations"]] == [result["metadata_id"]]
    assert listed["generations"][0]["content_ids"] == result["content_ids"]


async def test_sub_action_unknown_id_and_not_pending(vclient: VirtualClient) -> None:
    """[SSE-4][SSE-3] A 404 pending check is a JSON error; an unknown sub-action ends in `error`."""
    body = await vclient.drive(*SCENE, UP_TO_SCENE)
    blob = body["result"]["virtual_db"]
    response = await vclient.http.post("/workflow/sub-action", headers=vclient.headers, json={
        "virtual_db": blob, "interaction_id": "select_" + "0" * 32,
        "sub_action_id": "regenerate_scenes"})
    assert response.status_code == 404
    assert response.json()["result"]["error_type"] == "interaction_not_found"
    assert response.json()["result"]["virtual_db"] == blob
    frames = await vclient.sub_action(blob, body["interaction_request"]["interaction_id"],
                                      "no_such_action", {})
    assert [f.event for f in frames] == ["error"]
    assert frames[0].data["error_type"] == "module_not_found"
    assert frames[0].data["virtual_db"] == blob


async def test_acc_v6_1_auto_respond_to_the_image_step(vclient: VirtualClient) -> None:
    """[ACC-V6-1][ENG-41] Three accepted auto answers; answers recorded as auto and mock."""
    status, body = await vclient.start(*IMAGES, auto_respond=True)
    assert status == 200 and body["status"] == "awaiting_input"
    assert body["interaction_request"]["context"]["module_name"] == IMAGES[1]
    autos = body["result"]["auto_responses"]
    assert [(a["module_name"], a["accepted"]) for a in autos] == [
        ("select_pet_type", True), ("select_aesthetic", True), ("select_scene", True)]
    assert [a["response"]["selected_indices"] for a in autos] == [[0], [0], ["scenes", 0]]
    view = await vclient.state(body["result"]["virtual_db"])
    assert view["state"]["selected_scene"] == view["state"]["scene_concepts"]["scenes"][0]
    assert view["state"]["selected_scene"] is not None
    events = decode_blob(body["result"]["virtual_db"])["collections"]["events"]
    responses = [e for e in events if e["event_type"] == "interaction_response"]
    assert len(responses) == 3
    assert all(e["data"]["auto"] is True and e["provenance"] == "mock" for e in responses)


async def test_acc_v6_2_seeded_and_scripted_answers(vclient: VirtualClient) -> None:
    """[ACC-V6-2] The same seed gives the same answers; scripted answers win."""
    runs = [await vclient.start(*IMAGES, auto_respond={"seed": 7}) for _ in range(2)]
    first, second = (normalise(run[1]["result"]["auto_responses"]) for run in runs)
    assert first == second and len(first) == 3  # interaction ids differ only by the id counter
    status, scripted = await vclient.start(
        *IMAGES, auto_respond={"answers": {"select_aesthetic": {"selected_indices": [5]}}})
    view = await vclient.state(scripted["result"]["virtual_db"])
    assert view["state"]["aesthetic_selection"]["id"] == "quiet"


async def test_acc_v6_3_auto_respond_through_media_steps(vclient: VirtualClient) -> None:
    """[ACC-V6-3] Eight accepted answers up to select_text_overlay, a synthetic image included."""
    status, body = await vclient.start("text_overlays", "select_text_overlay", auto_respond=True)
    assert status == 200 and body["status"] == "awaiting_input", body
    assert body["interaction_request"]["context"]["module_name"] == "select_text_overlay"
    autos = body["result"]["auto_responses"]
    assert len(autos) == 8 and all(a["accepted"] for a in autos)
    assert [a["module_name"] for a in autos] == [
        "select_pet_type", "select_aesthetic", "select_scene", "generate_and_select_images_v2",
        "select_motion_elements", "generate_and_select_videos_v2", "select_duration",
        "generate_and_select_music_v2"]
    assert autos[4]["response"]["selected_indices"] == [["detected", 0]]
    assert autos[6]["response"]["selected_indices"] == [0]
    view = await vclient.state(body["result"]["virtual_db"])
    assert view["state"]["selected_image_id"].startswith("mock-gc_")


async def test_acc_v6_4_live_without_keys_then_mock_taint(cuddle_workflow: dict[str, Any]) -> None:
    """[ACC-V6-4][BLOB-10][ENG-46] Live mode with no keys fails at generate_scenes; taint after mock."""
    app = make_app(providers=DefaultProviderSet())
    async with AsyncTestClient(app) as client:
        vc = VirtualClient(client, cuddle_workflow)
        target = ("scene_generation", "generate_scenes")
        status, body = await vc.start(*target, mock=False)
        assert body["status"] == "awaiting_input"
        for name in ("select_pet_type", "select_aesthetic"):
            status, body = await vc.respond(*target, body["result"]["virtual_db"],
                                            body["interaction_request"]["interaction_id"],
                                            ANSWERS[name], mock=False)
        assert status == 200 and body["status"] == "error", body
        assert body["result"]["error_type"] == "execution_failed"
        blob = body["result"]["virtual_db"]
        events = decode_blob(blob)["collections"]["events"]
        errors = [e for e in events if e["event_type"] == "module_error"]
        assert [(e["module_name"], e["provenance"]) for e in errors] == [("generate_scenes", "live")]
        assert all(e["provenance"] == "live" for e in events)
        assert (await vc.state(blob))["mock_tainted"] is False
        status, mocked = await vc.start(*target, blob)
        assert status == 200 and mocked["status"] == "completed", mocked
        assert (await vc.state(mocked["result"]["virtual_db"]))["mock_tainted"] is True


async def test_sub_action_with_an_invalid_edited_workflow_ends_in_error(vclient: VirtualClient) -> None:
    """[SSE-3][ENG-42] An edited workflow that fails validation ends the stream with `error`."""
    body = await vclient.drive(*SCENE, UP_TO_SCENE)
    broken = dict(vclient.workflow, steps="not a list")
    frames = await vclient.sub_action(body["result"]["virtual_db"],
                                      body["interaction_request"]["interaction_id"],
                                      "regenerate_scenes", {}, workflow=broken)
    assert [f.event for f in frames] == ["error"]
    assert frames[0].data["error_type"] == "workflow_invalid"
    assert frames[0].data["virtual_db"] == body["result"]["virtual_db"]
