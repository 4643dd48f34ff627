"""ACC-V1 and ACC-V2: targets, module outputs, the blob, moving the target (wire-api.md §5)."""

from __future__ import annotations

import base64
from typing import Any

from tests.acceptance.virtual_support import ANSWERS, VirtualClient, decode_blob, vclient  # noqa: F401

FLATTEN = ("scene_generation", "flatten_keywords")


def lineage_types(blob: str, module: str | None = None) -> list[tuple[str, str | None]]:
    events = decode_blob(blob)["collections"]["events"]
    return [(e["event_type"], e["module_name"]) for e in events
            if module is None or e["module_name"] == module]


async def run_to_flatten(vc: VirtualClient) -> tuple[str, dict[str, Any]]:
    status, first = await vc.start(*FLATTEN)
    assert status == 200
    run_id = first["workflow_run_id"]
    status, second = await vc.respond(*FLATTEN, first["result"]["virtual_db"],
                                      first["interaction_request"]["interaction_id"],
                                      ANSWERS["select_pet_type"])
    assert second["workflow_run_id"] == run_id
    assert second["interaction_request"]["context"]["module_name"] == "select_aesthetic"
    status, third = await vc.respond(*FLATTEN, second["result"]["virtual_db"],
                                     second["interaction_request"]["interaction_id"],
                                     ANSWERS["select_aesthetic"])
    assert status == 200 and third["workflow_run_id"] == run_id
    return run_id, third


async def test_acc_v1_1_start_awaits_first_interaction(vclient: VirtualClient) -> None:
    """[ACC-V1-1] A fresh start stops at select_pet_type and returns a blob."""
    status, body = await vclient.start(*FLATTEN)
    assert status == 200 and body["status"] == "awaiting_input"
    assert body["interaction_request"]["context"]["module_name"] == "select_pet_type"
    assert body["workflow_run_id"].startswith("virtual_")
    assert isinstance(body["result"]["virtual_db"], str) and body["result"]["virtual_db"]
    assert body["message"] == "Awaiting input for select_pet_type"


async def test_acc_v1_2_v1_3_v1_4_target_outputs_state_and_blob(vclient: VirtualClient) -> None:
    """[ACC-V1-2][ACC-V1-3][ACC-V1-4][VS-6] Executable target, state on the blob, blob format."""
    run_id, body = await run_to_flatten(vclient)
    assert body["status"] == "completed" and body["message"] == "Target module executed"
    assert body["result"]["target"] == {"step_id": "scene_generation",
                                        "module_name": "flatten_keywords"}
    assert 9 <= len(body["result"]["module_outputs"]["result"]) <= 18
    assert body["result"]["workflow_completed"] is False
    blob = body["result"]["virtual_db"]
    view = await vclient.state(blob)
    assert view["workflow_run_id"] == run_id
    assert "flattened_keywords" in view["state"] and "keywords_saved_count" not in view["state"]
    raw = base64.b64decode(blob)
    assert raw[:2] == b"\x1f\x8b"
    doc = decode_blob(blob)
    assert doc["format"] == "workflow-engine-virtual-db" and doc["version"] == 1
    collections = doc["collections"]
    assert "weighted_keywords" not in collections
    assert {"events", "branches", "workflow_runs", "workflow_versions", "workflow_templates",
            "users", "interaction_answers"} <= set(collections)
    assert all(set(e["timestamp"]) == {"$date"} and
               e["timestamp"]["$date"].startswith("2026-01-01T00:00:00.")
               and e["timestamp"]["$date"].endswith("Z") for e in collections["events"])
    assert all("_id" not in d for docs in collections.values() for d in docs)
    assert [u["user_id"] for u in collections["users"]] == ["virtual_user_001"]


async def test_acc_v2_1_moving_target_forward_runs_each_module_once(vclient: VirtualClient) -> None:
    """[ACC-V2-1][ENG-39] save_keywords then select_scene: one completion each, weights single."""
    run_id, body = await run_to_flatten(vclient)
    flattened = body["result"]["module_outputs"]["result"]
    status, saved = await vclient.start("scene_generation", "save_keywords",
                                        body["result"]["virtual_db"])
    assert status == 200 and saved["status"] == "completed"
    assert saved["result"]["module_outputs"]["saved_count"] == len(flattened)
    status, pending = await vclient.start("scene_generation", "select_scene",
                                          saved["result"]["virtual_db"])
    assert pending["status"] == "awaiting_input" and pending["workflow_run_id"] == run_id
    assert pending["interaction_request"]["context"]["module_name"] == "select_scene"
    blob = pending["result"]["virtual_db"]
    types = lineage_types(blob)
    assert types.count(("module_completed", "generate_scenes")) == 1
    assert types.count(("module_completed", "save_keywords")) == 1
    starts = [e for e in decode_blob(blob)["collections"]["events"]
              if e["event_type"] == "step_started" and e["step_id"] == "scene_generation"]
    assert len(starts) == 1
    weights = {k["keyword"]: k["weight"] for k in decode_blob(blob)["collections"]["weighted_keywords"]}
    last_weight: dict[str, Any] = {}
    for item in flattened:
        last_weight[item["keyword"].strip().lower()] = item["weight"]
    assert weights == last_weight


async def test_acc_v2_2_same_target_again_writes_nothing(vclient: VirtualClient) -> None:
    """[ACC-V2-2][VS-3][VS-5] Unchanged target and workflow: same interaction, input blob back."""
    status, body = await vclient.start("scene_generation", "select_scene",
                                       auto_respond={"answers": {"select_pet_type": ANSWERS["select_pet_type"],
                                                                 "select_aesthetic": ANSWERS["select_aesthetic"]}})
    assert body["status"] == "awaiting_input"
    blob = body["result"]["virtual_db"]
    status, again = await vclient.start("scene_generation", "select_scene", blob)
    assert status == 200 and again["status"] == "awaiting_input"
    assert again["interaction_request"]["interaction_id"] == body["interaction_request"]["interaction_id"]
    assert again["result"]["virtual_db"] == blob


async def test_acc_v2_3_target_behind_forks(vclient: VirtualClient) -> None:
    """[ACC-V2-3][ENG-38] A target behind the position forks a branch and runs only it."""
    run_id, body = await run_to_flatten(vclient)
    before = len(lineage_types(body["result"]["virtual_db"]))
    status, forked = await vclient.start("scene_generation", "generate_scenes",
                                         body["result"]["virtual_db"])
    assert status == 200 and forked["status"] == "completed"
    assert forked["result"]["target"]["module_name"] == "generate_scenes"
    assert "scenes" in forked["result"]["module_outputs"]["response"]
    collections = decode_blob(forked["result"]["virtual_db"])["collections"]
    branches = collections["branches"]
    assert [b["fork_reason"] for b in branches].count("target") == 1
    new_branch = next(b for b in branches if b["fork_reason"] == "target")
    new_events = [e for e in collections["events"] if e["branch_id"] == new_branch["branch_id"]]
    assert new_events[0]["event_type"] == "jump_requested"
    assert new_events[0]["data"]["source"] == "target"
    executed = [e["module_name"] for e in new_events if e["event_type"] == "module_completed"]
    assert executed == ["generate_scenes"]
    assert len(collections["events"]) > before
    view = await vclient.state(forked["result"]["virtual_db"])
    assert "flattened_keywords" not in view["state"]
