"""The reference editor's preview flows against a live virtual server (issue 9).

Each test names the client file and function it replays (ui/editor/src/runtime/ of
SachiraChin/workflowmanager-showcase); the replay itself is tests/compat/editor_protocol.py.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.acceptance.virtual_support import decode_blob
from tests.compat.editor_logic import state_groups
from tests.compat.editor_protocol import check_history, check_state
from tests.compat.editor_server import live_editor

PET = ("user_input", "select_pet_type")
AESTHETIC = ("user_input", "select_aesthetic")
FLATTEN = ("scene_generation", "flatten_keywords")
SCENE = ("scene_generation", "select_scene")
SAVE = ("scene_generation", "save_keywords")
GENERATE = ("scene_generation", "generate_scenes")


def _module(workflow: dict[str, Any], where: tuple[str, str]) -> dict[str, Any]:
    step = next(s for s in workflow["steps"] if s["step_id"] == where[0])
    return next(m for m in step["modules"] if m["name"] == where[1])


def _events(blob: str, kind: str) -> list[dict[str, Any]]:
    data = decode_blob(blob)["collections"]
    return [e for e in data["events"] if e["event_type"] == kind]


async def test_preview_from_scratch(cuddle_workflow: dict[str, Any]) -> None:
    """VirtualRuntime.ts `runToModule` → `resetAndStart` (POST /workflow/start, virtual_db
    null) → `fetchStateAndHistory` (POST /workflow/state + /interaction-history); the panel
    (VirtualRuntimePanel.tsx) renders `interaction_request` of an interactive target."""
    async with live_editor(cuddle_workflow) as ed:
        rt = ed.runtime
        result = await rt.run_to_module(cuddle_workflow, PET)
        assert result.status == "awaiting_input", result
        body = result.response
        assert body is not None
        assert body["virtual_run_id"] == body["workflow_run_id"] and body["virtual_run_id"]
        assert body["virtual_db"] == rt.virtual_db and body["state"] == {}
        assert "virtual_db" not in (body["result"] or {})  # no 40 KB dump in the result panel
        assert body["interaction_request"]["interaction_type"] == "select_from_structured"
        assert (body["progress"]["current_step"], body["progress"]["current_module"]) == PET
        assert [c.path for c in ed.wire.calls] == ["/workflow/start", "/workflow/state",
                                                   "/workflow/interaction-history"]
        assert ed.wire.calls[0].body["virtual_db"] is None and ed.wire.calls[0].body["mock"]
        assert ed.wire.calls[1].body == {"virtual_db": rt.virtual_db,
                                         "virtual_run_id": rt.virtual_run_id}
        assert rt.pending is not None and rt.pending["interaction_id"] == \
            body["interaction_request"]["interaction_id"]
        assert rt.history == {} and rt.furthest == 0


async def test_executable_target_and_result_panel(cuddle_workflow: dict[str, Any]) -> None:
    """VirtualRuntime.ts `processExecutionResponse` answers the two upstream selects with
    auto-select.ts `buildAutoSelectionResponse` (POST /workflow/respond with `virtual_run_id`),
    then VirtualRuntimePanel.tsx `NonUxContent` shows the response minus `virtual_db`/`state`."""
    async with live_editor(cuddle_workflow) as ed:
        rt = ed.runtime
        result = await rt.run_to_module(cuddle_workflow, FLATTEN)
        assert result.status == "completed", result
        body = result.response
        assert body is not None and body["status"] == "completed"
        assert body["result"]["target"] == {"step_id": FLATTEN[0], "module_name": FLATTEN[1]}
        assert body["result"]["module_outputs"]["result"]
        assert set(body["result"]) == {"module_outputs", "target", "workflow_completed"}
        responds = [c for c in ed.wire.calls if c.path == "/workflow/respond"]
        assert [c.body["response"] for c in responds] == [
            {"selected_indices": [0], "cancelled": False}] * 2
        assert all(c.body["virtual_run_id"] == rt.virtual_run_id for c in responds)
        assert "workflow_run_id" not in responds[0].body
        # the response state is the flat state with each module's _state_mapped (StatePanel)
        assert body["state"]["pet_type_selection"]["id"] == "cat"
        mapped = body["state"]["select_pet_type"]["_state_mapped"]
        assert mapped["pet_type_selection"]["id"] == "cat"
        assert rt.persisted.keys() == {"user_input/select_pet_type", "user_input/select_aesthetic"}


async def test_move_target_forward_and_back(cuddle_workflow: dict[str, Any]) -> None:
    """VirtualRuntime.ts `runToModule`: a later target calls `executeForward` (POST
    /workflow/resume/confirm with the latest blob, no run id); an earlier one is answered from
    the cache without a call, and `getInteractionForModule` gives the completed interaction
    that WorkflowEditorPage.tsx shows for it."""
    async with live_editor(cuddle_workflow) as ed:
        rt = ed.runtime
        assert (await rt.run_to_module(cuddle_workflow, FLATTEN)).status == "completed"
        first_run = rt.virtual_run_id
        before = len(ed.wire.calls)
        forward = await rt.run_to_module(cuddle_workflow, SAVE)
        assert forward.status == "completed", forward
        moved = ed.wire.calls[before]
        assert moved.path == "/workflow/resume/confirm"
        assert set(moved.body) == {"workflow", "virtual_db", "target_step_id",
                                   "target_module_name", "mock"}
        assert rt.virtual_run_id == first_run  # the same run continued
        result = await rt.run_to_module(cuddle_workflow, SCENE)
        assert result.status == "awaiting_input" and rt.furthest == 7
        # ENG-39: every upstream module ran once, although the target moved forward twice
        completed = [e["module_name"] for e in _events(rt.virtual_db or "", "module_completed")]
        assert completed.count("generate_scenes") == 1 and completed.count("save_keywords") == 1
        calls = len(ed.wire.calls)
        back = await rt.run_to_module(cuddle_workflow, AESTHETIC)
        assert back.status == "completed" and len(ed.wire.calls) == calls  # no API call
        shown = rt.interaction_for(AESTHETIC)
        assert shown is not None and shown["request"]["title"] and shown["response"][
            "selected_indices"] == [0]


async def test_edit_after_the_executed_range(cuddle_workflow: dict[str, Any]) -> None:
    """VirtualRuntime.ts `checkNeedsReset` finds the executed slice unchanged, so an edit of a
    later module goes through `executeForward` (POST /workflow/resume/confirm with the edited
    workflow): the run continues and the preview shows the edit (ENG-42)."""
    workflow = copy.deepcopy(cuddle_workflow)
    async with live_editor(workflow) as ed:
        rt = ed.runtime
        assert (await rt.run_to_module(workflow, FLATTEN)).status == "completed"
        run_id = rt.virtual_run_id
        _module(workflow, SCENE)["inputs"]["prompt"] = "Pick the scene for the edited preview"
        result = await rt.run_to_module(workflow, SCENE)
        assert result.status == "awaiting_input", result
        assert ed.wire.calls[-3].path == "/workflow/resume/confirm"
        assert result.response is not None
        assert result.response["interaction_request"]["title"] == \
            "Pick the scene for the edited preview"
        assert rt.virtual_run_id == run_id
        versions = decode_blob(rt.virtual_db or "")["collections"]["workflow_run_version_history"]
        assert len(versions) == 2  # the edit is stored as a new version of the same run


async def test_edit_before_the_executed_range(cuddle_workflow: dict[str, Any]) -> None:
    """VirtualRuntime.ts `checkNeedsReset` sees the executed slice changed and calls
    `resetAndStart` (POST /workflow/start, virtual_db null): a fresh run with the edit."""
    workflow = copy.deepcopy(cuddle_workflow)
    async with live_editor(workflow) as ed:
        rt = ed.runtime
        assert (await rt.run_to_module(workflow, SCENE)).status == "awaiting_input"
        old_run = rt.virtual_run_id
        _module(workflow, AESTHETIC)["inputs"]["prompt"] = "Which mood, edited?"
        before = len(ed.wire.calls)
        result = await rt.run_to_module(workflow, SCENE)
        assert result.status == "awaiting_input", result
        assert ed.wire.calls[before].path == "/workflow/start"
        assert ed.wire.calls[before].body["virtual_db"] is None
        assert rt.virtual_run_id != old_run
        shown = rt.interaction_for(AESTHETIC)
        assert shown is not None and shown["request"]["title"] == "Which mood, edited?"


async def test_every_returned_blob_stays_a_valid_input(cuddle_workflow: dict[str, Any]) -> None:
    """Issue 9 item 8 (checkpoints, `ModuleCheckpoint` in types.ts): a blob from any earlier
    response still previews — read (POST /workflow/state), moved forward (POST
    /workflow/resume/confirm) and edited — with the edit applied."""
    workflow = copy.deepcopy(cuddle_workflow)
    async with live_editor(workflow) as ed:
        rt = ed.runtime
        checkpoints: list[str] = []
        for target in (PET, AESTHETIC, FLATTEN):
            result = await rt.run_to_module(workflow, target)
            if result.status == "awaiting_input":
                answer = {"selected_indices": [1], "cancelled": False}
                result = await rt.submit_response(workflow, target, answer)
            assert result.status == "completed", result
            checkpoints.append(rt.virtual_db or "")
        assert len(set(checkpoints)) == 3
        first = checkpoints[0]  # only select_pet_type answered
        state = check_state(await ed.wire.post_json("/workflow/state", {"virtual_db": first}))
        assert "aesthetic_selection" not in state["state_mapped"]
        edited = copy.deepcopy(workflow)
        _module(edited, AESTHETIC)["inputs"]["prompt"] = "Edited at a checkpoint"
        body = await ed.wire.post_json("/workflow/resume/confirm", {
            "workflow": edited, "virtual_db": first, "target_step_id": AESTHETIC[0],
            "target_module_name": AESTHETIC[1], "mock": True})
        assert body["status"] == "awaiting_input"
        assert body["interaction_request"]["title"] == "Edited at a checkpoint"
        assert body["virtual_run_id"] == rt.virtual_run_id  # the checkpoint's own run


async def test_state_panel(cuddle_workflow: dict[str, Any]) -> None:
    """VirtualRuntime.ts `runToModuleForState` + StatePanel.tsx (`transformStateForDisplay`,
    `buildStateGroups`): the keys each module mapped, grouped by module, and the
    `state_mapped` that WorkflowEditorPage.tsx `onLoadPreviewData` hands to module previews."""
    async with live_editor(cuddle_workflow) as ed:
        rt = ed.runtime
        result = await rt.run_to_module_for_state(cuddle_workflow, SCENE)
        assert result.status == "awaiting_input" and rt.state_up_to == SCENE
        state = rt.state
        assert state is not None
        groups = state_groups(cuddle_workflow, state)
        by_module = {name: dict(entries) for name, entries, _ in groups}
        assert by_module["select_pet_type"]["pet_type_selection"]["id"] == "cat"
        assert "aesthetic_selection" in by_module["select_aesthetic"]
        assert "scene_concepts" in by_module["generate_scenes"]
        available = {name: to for name, _, to in groups}
        assert available["select_aesthetic"] == ("scene_generation", "load_selected_keywords")
        upto = state_groups(cuddle_workflow, state, up_to=GENERATE)
        assert "generate_scenes" not in {name for name, _, _ in upto}
        assert state["state_mapped"]["scene_concepts"] == state["state"]["scene_concepts"]
        assert state["steps"]["user_input"]["select_pet_type"]["_metadata"] == {
            "node_type": "module"}
        assert state["workflow_run_id"] == rt.virtual_run_id and state["mock_tainted"] is True
        calls = len(ed.wire.calls)
        again = await rt.run_to_module_for_state(cuddle_workflow, AESTHETIC)
        assert again.status == "awaiting_input" and len(ed.wire.calls) == calls  # cached


async def test_interaction_history(cuddle_workflow: dict[str, Any]) -> None:
    """VirtualRuntime.ts `fetchStateAndHistory` keys completed interactions by
    `step_id/module_name`; `getInteractionForModule` renders `request` read-only with its
    `response`; `pending_interaction` is the open one."""
    async with live_editor(cuddle_workflow) as ed:
        rt = ed.runtime
        await rt.run_to_module(cuddle_workflow, SCENE)
        history = check_history(await ed.wire.post_json("/workflow/interaction-history", {
            "virtual_db": rt.virtual_db, "virtual_run_id": rt.virtual_run_id}))
        assert [(i["step_id"], i["module_name"]) for i in history["interactions"]] == [PET,
                                                                                    AESTHETIC]
        for item in history["interactions"]:
            assert item["request"]["interaction_id"] == item["interaction_id"]
            assert item["timestamp"].endswith("Z") and item["response"]["selected_indices"] == [0]
        assert history["pending_interaction"]["interaction_id"] == \
            rt.last_response["interaction_request"]["interaction_id"]  # type: ignore[index]
        assert set(rt.history) == {"user_input/select_pet_type", "user_input/select_aesthetic"}
