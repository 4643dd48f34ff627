"""Answering cuddle_crew in the reference editor's preview panel, sub-actions, generations and the
media preview, against a live virtual server (issue 9).

Select interactions are answered with auto-select.ts `buildAutoSelectionResponse` (what the
runtime sends for prerequisites, and the first choice a user would click); the media and file
interactions, which auto-select cannot answer, with the `InteractionResponseData` fields the
shared interaction components send (`action_id`, `confirmed_warnings`, `selected_content_id`,
`generations`, `file_written`, `file_path`).
"""

from __future__ import annotations

import copy
from typing import Any

from tests.acceptance.script_a import IMAGE_PARAMS
from tests.compat.editor_logic import auto_select, module_list
from tests.compat.editor_protocol import EditorError
from tests.compat.editor_server import Editor, live_editor

IMAGES = ("image_prompts", "generate_and_select_images_v2")
SCENE = ("scene_generation", "select_scene")
SUMMARY = ("workflow_summary", "write_summary_file")
SKIP_MEDIA = {  # continue without generating, confirming the step's warning
    "generate_and_select_videos_v2": ["warn_no_video_generation"],
    "generate_and_select_music_v2": ["warn_no_music_generation"],
}


async def _generate_images(ed: Editor, interaction_id: str) -> dict[str, Any]:
    """virtualApiClient.ts `streamSubAction` then `getInteractionGenerations`; returns the
    selection the media panel submits."""
    api = ed.api()
    frames = await api.stream_sub_action({"interaction_id": interaction_id,
                                          "sub_action_id": "image_generation",
                                          "params": IMAGE_PARAMS})
    assert [f.event for f in frames][-1] == "complete", frames[-1]
    done = frames[-1].data
    assert ed.runtime.virtual_db == done["virtual_db"]  # onVirtualDbUpdate → setVirtualDb
    assert isinstance(done["state"], dict)
    listed = await api.get_interaction_generations(interaction_id, "image")
    assert len(listed["generations"]) == 1
    generation = listed["generations"][0]
    assert generation["provider"] == "leonardo" and generation["content_ids"]
    return {"action_id": "continue", "selected_content_id": generation["content_ids"][0],
            "generations": {"prompts.leonardo": [generation]}}


async def _answer(ed: Editor, target: tuple[str, str], request: dict[str, Any]) -> dict[str, Any]:
    name = target[1]
    if name == IMAGES[1]:
        return await _generate_images(ed, request["interaction_id"])
    if name in SKIP_MEDIA:
        return {"action_id": "continue", "confirmed_warnings": SKIP_MEDIA[name]}
    if request["interaction_type"] == "file_download":
        return {"file_written": True, "file_path": request["file_name"] or "summary.txt"}
    answer = auto_select(request)
    assert answer is not None, name
    return answer


async def test_answer_every_interaction_of_cuddle_crew(cuddle_workflow: dict[str, Any]) -> None:
    """WorkflowEditorPage.tsx `handleModulePreview` on every module in order (VirtualRuntime.ts
    `runToModule`), and for each interactive one the panel's submit
    (VirtualRuntimePanel.tsx `onSubmit` → VirtualRuntime.ts `submitResponse`) until the last
    module completes the workflow."""
    async with live_editor(cuddle_workflow) as ed:
        rt = ed.runtime
        answered: list[str] = []
        for target in module_list(cuddle_workflow):
            result = await rt.run_to_module(cuddle_workflow, target)
            if result.status == "awaiting_input":
                assert result.response is not None
                request = result.response["interaction_request"]
                assert (result.response["progress"]["current_step"],
                        result.response["progress"]["current_module"]) == target
                result = await rt.submit_response(cuddle_workflow, target,
                                                  await _answer(ed, target, request))
                answered.append(target[1])
            assert result.status == "completed", (target, result)
            assert result.response is not None
            assert result.response["result"]["target"] == {"step_id": target[0],
                                                          "module_name": target[1]}
        assert answered == ["select_pet_type", "select_aesthetic", "select_scene",
                            "generate_and_select_images_v2", "select_motion_elements",
                            "generate_and_select_videos_v2", "select_duration",
                            "generate_and_select_music_v2", "select_text_overlay",
                            "select_title_description", "write_summary_file"]
        assert rt.last_response is not None
        assert rt.last_response["result"]["workflow_completed"] is True
        assert rt.state is not None and rt.state["status"] == "completed"
        assert rt.state["state_mapped"]["selected_image_id"].startswith("mock-gc_")
        assert len(rt.history) == len(answered) and rt.pending is None
        paths = {c.path for c in ed.wire.calls}
        assert paths == {"/workflow/start", "/workflow/resume/confirm", "/workflow/respond",
                         "/workflow/state", "/workflow/interaction-history",
                         "/workflow/sub-action", "/workflow/generations"}
        assert all(c.status == 200 for c in ed.wire.calls)


async def test_prerequisites_are_auto_answered(cuddle_workflow: dict[str, Any]) -> None:
    """VirtualRuntime.ts `processExecutionResponse`: running straight to `select_motion_elements`
    answers every select upstream with auto-select and stops at the first interaction it
    cannot answer (the image step), returning `awaiting_input` for it; the user's media answer
    through `submitResponse` then continues to the target."""
    async with live_editor(cuddle_workflow) as ed:
        rt = ed.runtime
        target = ("video_generation", "select_motion_elements")
        result = await rt.run_to_module(cuddle_workflow, target)
        assert result.status == "awaiting_input" and result.response is not None
        assert result.response["progress"]["current_module"] == IMAGES[1]
        answer = await _answer(ed, IMAGES, result.response["interaction_request"])
        result = await rt.submit_response(cuddle_workflow, target, answer)
        assert result.status == "awaiting_input" and result.response is not None
        assert result.response["progress"]["current_module"] == target[1]  # the target itself
        assert set(rt.persisted) == {"user_input/select_pet_type", "user_input/select_aesthetic",
                                     "scene_generation/select_scene"}


async def test_target_sub_action_regenerates_scenes(cuddle_workflow: dict[str, Any]) -> None:
    """virtualApiClient.ts `streamSubAction` for a target sub-action (select_scene's
    `regenerate_scenes`): progress frames then `complete` with `virtual_db` and `state`; the
    new blob previews on (POST /workflow/respond with it)."""
    async with live_editor(cuddle_workflow) as ed:
        rt = ed.runtime
        result = await rt.run_to_module(cuddle_workflow, SCENE)
        assert result.status == "awaiting_input" and result.response is not None
        iid = result.response["interaction_request"]["interaction_id"]
        before = rt.virtual_db
        frames = await ed.api().stream_sub_action({"interaction_id": iid,
                                                   "sub_action_id": "regenerate_scenes",
                                                   "params": {"feedback": "at the beach"}})
        assert {f.event for f in frames[:-1]} == {"progress"} and frames[-1].event == "complete"
        done = frames[-1].data
        assert rt.virtual_db == done["virtual_db"] != before
        assert len(done["state"]["scene_concepts"]["scenes"]) == 6  # 3 more scenes merged
        body = ed.wire.calls[-1].body
        assert set(body) == {"workflow", "virtual_db", "virtual_run_id", "interaction_id",
                             "sub_action_id", "params", "mock"}
        answer = auto_select(result.response["interaction_request"])
        assert answer is not None
        done_scene = await rt.submit_response(cuddle_workflow, SCENE, answer)
        assert done_scene.status == "completed", done_scene


async def test_sub_action_without_state_is_refused_by_the_client(
        cuddle_workflow: dict[str, Any]) -> None:
    """virtualApiClient.ts: with no virtual state yet `getInteractionGenerations` answers
    `{generations: []}` without a call and `streamSubAction` reports an error."""
    async with live_editor(cuddle_workflow) as ed:
        api = ed.api()
        assert await api.get_interaction_generations("media_x", "image") == {"generations": []}
        try:
            await api.stream_sub_action({"interaction_id": "x", "sub_action_id": "y"})
        except EditorError as exc:
            assert "not available" in str(exc)
        else:
            raise AssertionError("expected the client's own error")
        assert ed.wire.calls == []


async def test_media_preview(cuddle_workflow: dict[str, Any]) -> None:
    """virtualApiClient.ts `getMediaPreview`: POST /workflow/media/preview with the
    `MediaPreviewRequest` only (no blob, no run) → `MediaPreviewResponse`; an unknown provider
    is a 400 the client throws on."""
    async with live_editor(cuddle_workflow) as ed:
        api = ed.api()
        preview = await api.get_media_preview({"provider": "leonardo", "action_type": "txt2img",
                                               "params": {"num_images": 2}})
        assert preview["resolution"] == {"width": 1024, "height": 1024, "megapixels": 1.05}
        assert preview["credits"]["num_images"] == 2
        assert ed.wire.calls[-1].status == 200
        try:
            await api.get_media_preview({"provider": "nope", "action_type": "txt2img",
                                         "params": {}})
        except EditorError as exc:
            assert "400" in str(exc) and "nope" in str(exc)
        else:
            raise AssertionError("an unknown provider must fail")


async def test_execution_error_is_shown(cuddle_workflow: dict[str, Any]) -> None:
    """VirtualRuntime.ts `processExecutionResponse` with `status: "error"`: `lastError` is the
    response's `error` (VirtualRuntimePanel.tsx `ErrorContent`); the blob still comes back."""
    workflow = copy.deepcopy(cuddle_workflow)
    step = next(s for s in workflow["steps"] if s["step_id"] == "scene_generation")
    step["modules"][2]["inputs"]["input"] = "{{ state.pet_type_selection.id | no_such_filter }}"
    async with live_editor(workflow) as ed:
        rt = ed.runtime
        result = await rt.run_to_module(workflow, ("scene_generation", "generate_scenes"))
        assert result.status == "error" and rt.last_error
        body = rt.last_response
        assert body is not None and body["status"] == "error" and body["error"] == rt.last_error
        assert body["result"]["error_type"] and "virtual_db" not in body["result"]
        assert isinstance(body["virtual_db"], str) and body["virtual_run_id"]
