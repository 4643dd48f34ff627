"""ACC-V3 (editing the workflow between calls) and ACC-V4 (state and history on the blob)."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

from engine.clock import FixedClock
from engine.execution import ExecOptions
from engine.ids import SequentialIds
from engine.processor import StartCommand
from engine.wire import InteractionResponseData
from tests.acceptance.virtual_support import ANSWERS, VirtualClient, decode_blob, vclient  # noqa: F401
from tests.conftest import T0, make_engine

SCENE = ("scene_generation", "select_scene")
UP_TO_SCENE = {k: ANSWERS[k] for k in ("select_pet_type", "select_aesthetic")}


def edited(workflow: dict[str, Any], prompt: str) -> dict[str, Any]:
    changed = copy.deepcopy(workflow)
    for step in changed["steps"]:
        for module in step["modules"]:
            if module["name"] == "select_scene":
                module["inputs"]["prompt"] = prompt
    return changed


async def scene_pending(vc: VirtualClient) -> dict[str, Any]:
    body = await vc.drive(*SCENE, UP_TO_SCENE)
    assert body["interaction_request"]["context"]["module_name"] == "select_scene"
    return body


async def test_acc_v3_1_respond_with_edited_workflow_stores_a_version(vclient: VirtualClient) -> None:
    """[ACC-V3-1][ENG-42][ENG-40] The answer uses the stored request; the edit is a new version."""
    body = await scene_pending(vclient)
    blob = body["result"]["virtual_db"]
    before = decode_blob(blob)["collections"]
    status, answered = await vclient.respond(
        "image_prompts", "generate_and_select_images_v2", blob,
        body["interaction_request"]["interaction_id"], ANSWERS["select_scene"],
        workflow=edited(vclient.workflow, "Pick the scene you like best"))
    assert status == 200 and answered["status"] == "awaiting_input", answered
    after = decode_blob(answered["result"]["virtual_db"])["collections"]
    assert len(after["workflow_versions"]) == len(before["workflow_versions"]) + 1
    assert len(after["workflow_run_version_history"]) == \
        len(before["workflow_run_version_history"]) + 1
    view = await vclient.state(answered["result"]["virtual_db"])
    assert view["state"]["selected_scene"] == view["state"]["scene_concepts"]["scenes"][0]


async def test_acc_v3_2_start_with_edited_target_forks_to_a_new_interaction(vclient: VirtualClient) -> None:
    """[ACC-V3-2][ENG-21] An edited interactive target is requested again with the new prompt."""
    body = await scene_pending(vclient)
    status, again = await vclient.start(*SCENE, body["result"]["virtual_db"],
                                        workflow=edited(vclient.workflow, "Choose wisely"))
    assert status == 200 and again["status"] == "awaiting_input"
    request = again["interaction_request"]
    assert request["interaction_id"] != body["interaction_request"]["interaction_id"]
    assert request["title"] == "Choose wisely"


async def test_acc_v3_3_blob_of_another_workflow_is_invalid(vclient: VirtualClient) -> None:
    """[ACC-V3-3][VS-4] A blob whose run belongs to another workflow_id → 400 invalid_virtual_db."""
    status, body = await vclient.start(*SCENE)
    other = copy.deepcopy(vclient.workflow)
    other["workflow_id"] = "another_workflow"
    status, error = await vclient.start(*SCENE, body["result"]["virtual_db"], workflow=other)
    assert status == 400
    assert error["status"] == "error" and error["result"]["error_type"] == "invalid_virtual_db"
    assert error["result"]["virtual_db"] is None and error["workflow_run_id"] == ""


def production_state_after_p1_3(workflow: dict[str, Any]) -> dict[str, Any]:
    """The flat state the production engine reports after A1, A2 (acceptance P1-3)."""
    eng = make_engine(mode="production", ids=SequentialIds())
    eng.clock = FixedClock(T0, tick=timedelta(milliseconds=1))
    response = eng.start(StartCommand(user_id="usr_alice", project_name="p1", workflow=workflow,
                                      mock=True, options=ExecOptions()))
    for name in ("select_pet_type", "select_aesthetic"):
        assert response.interaction_request is not None
        response = eng.respond("usr_alice", response.workflow_run_id,
                               response.interaction_request.interaction_id,
                               InteractionResponseData(**ANSWERS[name]))
    return eng.get_state_view("usr_alice", response.workflow_run_id).state


async def test_acc_v4_1_state_matches_production(vclient: VirtualClient) -> None:
    """[ACC-V4-1][ACC-PARITY-2] Same answers → the production flat state, after normalisation."""
    from tests.acceptance.virtual_parity import normalise

    body = await scene_pending(vclient)
    view = await vclient.state(body["result"]["virtual_db"])
    assert view["status"] == "awaiting_input"
    assert [m["status"] for m in view["step_summaries"][0]["modules"]] == ["completed", "completed"]
    assert normalise(view["state"]) == normalise(production_state_after_p1_3(vclient.workflow))


async def test_acc_v4_2_history_survives_round_trips(vclient: VirtualClient) -> None:
    """[ACC-V4-2][BLOB-2] Two completed interactions in order with ISO timestamps."""
    body = await scene_pending(vclient)
    blob = body["result"]["virtual_db"]
    for _ in range(2):  # more blob round trips that change nothing
        status, again = await vclient.start(*SCENE, blob)
        assert again["result"]["virtual_db"] == blob
    history = await vclient.history(blob)
    done = history["interactions"]
    assert [item["module_name"] for item in done] == ["select_pet_type", "select_aesthetic"]
    for item in done:
        assert item["requested_at"].startswith("2026-01-01T") and item["requested_at"].endswith("Z")
        assert item["responded_at"].startswith("2026-01-01T") and item["responded_at"].endswith("Z")
        assert item["timestamp"] == item["responded_at"]
    assert history["pending_interaction"]["interaction_id"] == \
        body["interaction_request"]["interaction_id"]
