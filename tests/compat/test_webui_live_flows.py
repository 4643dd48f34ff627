"""Flows around a slow LLM call, from the web UI, on a live production server (issue 10):
resume while processing, cancel, and sub-actions. The vendor simulator holds one LLM request
until the test releases it, so the UI can watch a run that is really executing."""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from tests.acceptance.script_a import ANSWERS
from tests.compat.webui_protocol import (
    ExecutionHook,
    GatedVendors,
    LiveServer,
    browsers,
    require,
    server,
    vendors,
)

__all__ = ["browsers", "server", "vendors"]
LLM = "/v1/responses"


async def _to_aesthetic(hook: ExecutionHook, workflow: dict[str, Any], project: str) -> None:
    await hook.start({"project_name": project, "workflow_content": workflow, "force_new": False})
    await hook.respond(ANSWERS["select_pet_type"])
    assert (hook.interaction or {})["context"]["module_name"] == "select_aesthetic"


async def _until(predicate: Callable[[], bool], timeout_s: float = 30) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def _held(vendors: GatedVendors) -> None:
    assert await asyncio.to_thread(vendors.waiting.wait, 30), "the LLM call never started"


async def test_reload_while_processing_then_cancel_then_reload(
        server: LiveServer, vendors: GatedVendors, browsers: Any,
        cuddle_workflow: dict[str, Any]) -> None:
    """A second tab opens the runner page while an answer is executing: App.tsx
    `RunnerPageRoute` → useWorkflowExecution `resumeWorkflow` → `/resume` says `processing` →
    `connectToStream` (progress `Waiting for running execution`, then the outcome). Then the
    sidebar's cancel (`cancel` → POST /workflow/{id}/cancel) ends the first tab's
    `stream/respond` with `cancelled` ("Workflow cancelled"), and a reload re-executes the
    interrupted module on the stream."""
    first = ExecutionHook(await browsers("alice"))
    await _to_aesthetic(first, cuddle_workflow, "slow")
    vendors.hold_next(LLM)
    answering = asyncio.create_task(first.respond(ANSWERS["select_aesthetic"]))
    await _held(vendors)
    second = ExecutionHook(await browsers("alice"))
    resuming = asyncio.create_task(second.resume_workflow(str(first.run_id), "Resuming..."))
    # the second tab is on the stream, waiting: it got a progress tick of the running execution
    assert await _until(lambda: "progress" in second.events or resuming.done())
    vendors.release()
    data = await asyncio.wait_for(resuming, 60)
    frames = await asyncio.wait_for(answering, 60)
    assert data["status"] == "processing"
    assert second.events[-1] == "interaction" and "progress" in second.events
    assert frames[-1][0] == "interaction"
    assert (second.interaction or {})["interaction_id"] == (first.interaction or {})["interaction_id"]
    assert (first.interaction or {})["context"]["module_name"] == "select_scene"

    vendors.hold_next(LLM)  # the image step's prompt call
    answering = asyncio.create_task(first.respond(ANSWERS["select_scene"]))
    await _held(vendors)
    cancelled = await second.api.cancel(str(first.run_id))
    assert cancelled["message"] == "Cancellation requested" and cancelled["cancelled"] >= 1
    frames = await asyncio.wait_for(answering, 60)
    vendors.release()
    assert frames[-1] == ("cancelled", {"workflow_run_id": first.run_id,
                                        "reason": "user_cancelled"})
    assert first.error == "Workflow cancelled" and first.processing is False

    third = ExecutionHook(await browsers("alice"))
    data = await third.resume_workflow(str(first.run_id), "Resuming...")
    assert data["status"] == "processing" and third.events[0] == "started"
    assert third.events[-1] == "interaction" and third.status == "awaiting_input"
    assert (third.interaction or {})["context"]["module_name"] == "generate_and_select_images_v2"


async def test_sub_action_regenerates_and_the_panel_refreshes(
        server: LiveServer, browsers: Any, cuddle_workflow: dict[str, Any]) -> None:
    """sub-action-context.tsx `trigger` → api.ts `streamSubAction` (body `{interaction_id,
    sub_action_id, params, ai_config}` when a model is picked; `progress.message`, `complete`,
    `error.message`) → WorkflowRunnerPage `handleSubActionComplete` →
    `refreshInteractionDisplayData` (`getInteractionData`)."""
    ui = await browsers("alice")
    hook = ExecutionHook(ui)
    await _to_aesthetic(hook, cuddle_workflow, "subs")
    await hook.respond(ANSWERS["select_aesthetic"])
    request = hook.interaction or {}
    iid = request["interaction_id"]
    sub_actions = require(request["display_data"], "sub_actions", list)
    assert [s["id"] for s in sub_actions] == ["regenerate_scenes"]
    before = (await ui.get(f"/workflow/{hook.run_id}/interaction/{iid}/data"))["display_data"]
    frames = await ui.stream_sub_action(str(hook.run_id), {
        "interaction_id": iid, "sub_action_id": "regenerate_scenes", "params": {},
        "ai_config": {"provider": "openai", "model": "gpt-4o-mini"}})
    kinds = [kind for kind, _ in frames]
    assert kinds[-1] == "complete" and "progress" in kinds
    assert all(isinstance(d.get("message", ""), str) for k, d in frames if k == "progress")
    done = frames[-1][1]
    assert done["sub_action_id"] == "regenerate_scenes" and done["interaction_id"] == iid
    after = await ui.get(f"/workflow/{hook.run_id}/interaction/{iid}/data")
    assert require(after, "display_data", dict) != before  # the regenerated scenes
    # an unknown sub-action ends its stream with `error` and a message the panel shows
    failed = await ui.stream_sub_action(str(hook.run_id), {
        "interaction_id": iid, "sub_action_id": "no_such_action", "params": {}})
    assert failed[-1][0] == "error" and require(failed[-1][1], "message", str)
    # the interaction is still pending and answerable
    await hook.respond(ANSWERS["select_scene"])
    assert (hook.interaction or {})["context"]["module_name"] == "generate_and_select_images_v2"
