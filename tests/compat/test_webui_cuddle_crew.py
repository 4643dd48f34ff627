"""cuddle_crew from the web UI: every interaction answered through `stream/respond`, live, on a
live production server (issue 10). LLM, image, video and music calls go to the loopback vendor
simulator through the real vendor clients; the database is the wire-protocol server."""

from __future__ import annotations

from typing import Any

from tests.acceptance.script_a import ANSWERS
from tests.compat.webui_protocol import (
    TERMINAL_SUB,
    ExecutionHook,
    LiveServer,
    WebUIClient,
    browsers,
    require,
    server,
    vendors,
)

__all__ = ["browsers", "server", "vendors"]

MEDIA = {  # module → (sub-action, content type, the generation request the media panel sends)
    "generate_and_select_images_v2": ("image_generation", "image", {
        "provider": "openai", "action_type": "txt2img", "prompt_id": "default",
        "params": {"prompt": "a corgi in a teacup", "model": "gpt-image-1",
                   "aspect_ratio": "2:3", "quality": "low", "num_images": 2},
        "source_data": {}}),
    "generate_and_select_videos_v2": ("video_generation", "video", {
        "provider": "openai", "action_type": "img2vid", "prompt_id": "default",
        "params": {"prompt": "the corgi wags its tail", "model": "sora-2", "duration": "4"},
        "source_data": {}}),
    "generate_and_select_music_v2": ("audio_generation", "audio", {
        "provider": "elevenlabs", "action_type": "txt2audio", "prompt_id": "default",
        "params": {"prompt": "gentle ukulele", "output_format": "mp3_44100_128",
                   "music_length_ms": 10000},
        "source_data": {}}),
}


async def generate(ui: WebUIClient, run_id: str, request: dict[str, Any],
                   module: str) -> dict[str, Any]:
    """The media panel: `getMediaPreview`, `streamSubAction` (progress → complete,
    SubActionProvider), then
    `refreshInteractionDisplayData` and `getInteractionGenerations`; the image is fetched
    through `toMediaUrl`. Returns the answer the panel sends to continue."""
    sub_action, content_type, params = MEDIA[module]
    iid = request["interaction_id"]
    preview = await ui.request("POST", f"/workflow/{run_id}/media/preview", {
        "provider": params["provider"], "action_type": params["action_type"],
        "params": params["params"]})  # getMediaPreview: expected size and cost
    require(preview, "resolution", dict), require(preview, "credits", dict)
    frames = await ui.stream_sub_action(run_id, {"interaction_id": iid,
                                                 "sub_action_id": sub_action, "params": params})
    kinds = [kind for kind, _ in frames]
    assert kinds[-1] == "complete" and "progress" in kinds, frames[-1]
    assert all(isinstance(data.get("message", ""), str) for _, data in frames)
    assert set(kinds) <= {"progress"} | TERMINAL_SUB
    data = await ui.get(f"/workflow/{run_id}/interaction/{iid}/data")
    require(data, "display_data", dict)
    listing = await ui.get(f"/workflow/{run_id}/interaction/{iid}/generations"
                           f"?content_type={content_type}")
    generations = require(listing, "generations", list)
    assert generations, listing
    for generation in generations:
        for key, kind in (("urls", list), ("metadata_id", str), ("content_ids", list),
                          ("prompt_id", str), ("provider", str)):
            require(generation, key, kind)
    media = await ui.http.get(generations[0]["urls"][0])  # toMediaUrl: API_URL + path
    assert media.status_code == 200 and media.content
    return {"action_id": "continue", "selected_content_id": generations[0]["content_ids"][0],
            "generations": {f"prompts.{generations[0]['provider']}": generations}}


async def test_cuddle_crew_answered_through_stream_respond(server: LiveServer, browsers: Any,
                                                           cuddle_workflow: dict[str, Any]) -> None:
    """WorkflowRunnerPage.tsx `handleInteractionSubmit` → useWorkflowExecution `respond`
    (POST /workflow/{id}/stream/respond, frames through `handleSSEEvent`), for every
    interaction of cuddle_crew, including a `validation_failed` answer (the hook keeps the
    interaction and shows `errors[0].message`), a retry option (`retry_requested`) and the
    model picker's `ai_config`; then the runner page's completed view."""
    ui = await browsers("alice")
    hook = ExecutionHook(ui)
    await hook.start({"project_name": "cuddles", "workflow_content": cuddle_workflow,
                      "force_new": False})
    answered: list[str] = []
    retried = validated = False
    while hook.status in ("awaiting_input", "validation_failed"):
        request = hook.interaction or {}
        module = require(require(request, "context", dict), "module_name", str)
        if module == "generate_and_select_images_v2" and not validated:
            validated = True  # "Accept and continue" with no image selected
            frames = await hook.respond({"action_id": "continue"})
            assert [k for k, _ in frames][-1] == "validation_failed"
            assert hook.error == "Please select an image before continuing"
            assert hook.interaction is request  # still the same interaction
            hook.error = None  # the message was shown; the user picks an image next
            continue
        if module in MEDIA:
            answer = await generate(ui, str(hook.run_id), request, module)
        elif module == "select_text_overlay" and not retried:
            retried = True
            frames = await hook.respond({"action_id": "retry", "retry_requested": True,
                                         "retry_feedback": "Shorter, please"})
            assert frames[-1][0] == "interaction"
            again = hook.interaction or {}
            assert again["context"]["module_name"] == module
            assert again["interaction_id"] != request["interaction_id"]
            continue
        else:
            answer = ANSWERS[module]
        ai = {"provider": "openai", "model": "gpt-4o-mini"} if module == "select_scene" else None
        frames = await hook.respond(answer, ai_config=ai)
        kinds = [kind for kind, _ in frames]
        assert kinds[0] == "progress" and "started" in kinds, kinds
        assert kinds[-1] in ("interaction", "complete"), frames[-1]
        answered.append(module)
    assert hook.status == "completed" and hook.error is None, (hook.status, hook.error)
    assert validated and retried
    assert answered == ["select_pet_type", "select_aesthetic", "select_scene",
                        "generate_and_select_images_v2", "select_motion_elements",
                        "generate_and_select_videos_v2", "select_duration",
                        "generate_and_select_music_v2", "select_text_overlay",
                        "select_title_description", "write_summary_file"]
    outputs = hook.module_outputs or {}
    assert outputs["status"] == "completed" and outputs["workflow_run_id"] == hook.run_id
    assert outputs["result"]["pet_type_selection"]["id"]

    # the completed run as the runner page shows it after a reload (resumeWorkflow)
    reloaded = ExecutionHook(ui)
    data = await reloaded.resume_workflow(str(hook.run_id), "Resuming...")
    assert data["status"] == "completed" and reloaded.module_outputs
    assert len(reloaded.completed) >= len(answered)
    assert [i["step_id"] for i in reloaded.completed][:2] == ["user_input", "user_input"]
    status = await ui.get(f"/workflow/{hook.run_id}/status-display")
    shown = {f["label"]: f["value"] for f in require(status, "display_fields", list)}
    assert {"Pet", "Aesthetic", "Duration", "Scene"} <= set(shown), shown
    assert require(status, "layout", list)
    tokens = await ui.get(f"/workflow/{hook.run_id}/tokens")
    assert require(tokens, "tokens", list) and tokens["totals"]["calls"] >= 5
    runs = await ui.get("/workflows/all?limit=10&offset=0")
    row = next(r for r in runs["workflows"] if r["workflow_run_id"] == hook.run_id)
    assert row["status"] == "completed" and row["project_name"] == "cuddles"
    assert row["display_fields"] and row["token_totals"]["calls"] == tokens["totals"]["calls"]
