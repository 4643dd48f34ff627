"""ENG-13: every event type of engine.md §4.2 is produced, with exactly its `data` keys.

One scenario exercises all fifteen types: script A up to the text overlays, a retry, a jump
back, a jump to a historical interaction, a failing sub-action, a module failure and a reset.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from engine.processor import StartCommand
from engine.wire import InteractionResponseData
from tests.acceptance.script_a import ANSWERS, IMAGE_PARAMS, image_answer
from tests.conftest import make_engine

DATA_KEYS: dict[str, set[str]] = {
    "workflow_created": {"project_name", "workflow_template_name", "workflow_template_id",
                         "workflow_version_id", "mock", "reset", "parent_workflow_run_id",
                         "execution_id"},
    "step_started": {"step_index", "step_name"},
    "module_started": {"module_id", "module_index", "config_hash"},
    "interaction_requested": {"interaction_id", "module_id", "module_index", "request",
                              "resolved_inputs", "resolver_schema", "module_state",
                              "step_context"},
    "interaction_refreshed": {"interaction_id", "execution_id", "request", "resolved_inputs",
                              "module_state"},
    "interaction_response": {"interaction_id", "module_id", "response", "response_hash",
                             "intent", "action_id", "auto"},
    "module_completed": {"module_id", "module_index", "outputs", "state_mapped"},
    "module_error": {"module_id", "module_index", "phase", "error_type", "error"},
    "step_completed": {"step_index"},
    "workflow_completed": set(),
    "retry_requested": {"target_step", "target_module", "feedback", "retry_groups", "source",
                        "interaction_id", "option_id"},
    "jump_requested": {"target_step", "target_module", "from_branch_id", "new_branch_id",
                       "source", "interaction_id", "step_started"},
    "sub_action_started": {"execution_id", "sub_action_id", "interaction_id", "kind", "params"},
    "sub_action_completed": {"execution_id", "sub_action_id", "interaction_id", "kind",
                             "child_workflow_run_id", "result", "state_mapped", "applied"},
    "sub_action_failed": {"execution_id", "sub_action_id", "interaction_id", "kind",
                          "child_workflow_run_id", "error_type", "error"},
}


def _r(body: dict[str, Any]) -> InteractionResponseData:
    return msgspec.convert(body, InteractionResponseData)


@pytest.fixture(scope="module")
def all_events(cuddle_workflow: dict[str, Any]) -> list[dict[str, Any]]:
    eng = make_engine()
    r = eng.start(StartCommand(user_id="u", project_name="p", workflow=cuddle_workflow, mock=True))
    run_id = r.workflow_run_id
    pet_id = r.interaction_request.interaction_id
    r = eng.respond("u", run_id, pet_id, _r(ANSWERS["select_pet_type"]))
    r = eng.respond("u", run_id, r.interaction_request.interaction_id, _r(ANSWERS["select_aesthetic"]))
    scene_id = r.interaction_request.interaction_id
    assert eng.run_sub_action("u", run_id, scene_id, "regenerate_scenes", {"feedback": "x"},
                              lambda e: None).interaction_refreshed
    r = eng.respond("u", run_id, scene_id, _r(ANSWERS["select_scene"]))
    image_id = r.interaction_request.interaction_id
    failed = eng.run_sub_action("u", run_id, image_id, "image_generation",
                                {**IMAGE_PARAMS, "provider": "nope"}, lambda e: None)
    assert failed.status == "error"
    ok = eng.run_sub_action("u", run_id, image_id, "image_generation", IMAGE_PARAMS, lambda e: None)
    r = eng.respond("u", run_id, image_id, _r(image_answer(ok.sub_action_result)))
    motion_id = r.interaction_request.interaction_id
    r = eng.respond("u", run_id, motion_id, _r({"retry_requested": True}))
    assert r.status == "error" and r.result["error_type"] == "invalid_target"  # no retry option
    r = eng.respond("u", run_id, motion_id, _r(ANSWERS["select_motion_elements"]))
    video = r.interaction_request.interaction_id
    r = eng.respond("u", run_id, video, _r({"retry_requested": True}))
    assert r.status == "awaiting_input"
    r = eng.respond("u", run_id, r.interaction_request.interaction_id,
                    _r({"jump_back_requested": True, "jump_back_target": "change_motion_elements"}))
    assert r.interaction_request.context["module_name"] == "select_motion_elements"
    r = eng.jump_to_interaction("u", run_id, pet_id)
    assert r.interaction_request.interaction_id == pet_id
    eng.reset("u", run_id)
    events = eng.list_events("u", run_id, msgspec.convert({"scope": "all"}, type=_filters())).events

    # a module failure: a workflow whose only module cannot resolve its input
    bad = {"workflow_id": "broken", "steps": [{"step_id": "s", "modules": [{
        "module_id": "transform.extract", "name": "boom",
        "inputs": {"resolver_schema": {"properties": {"x": {"resolver": "server"}}},
                   "x": "{{ state.a.__class__ }}"}}]}]}
    r2 = eng.start(StartCommand(user_id="u", project_name="q", workflow=bad, mock=True))
    assert r2.status == "error" and r2.result["error_type"] == "resolution_failed"
    events += eng.list_events("u", r2.workflow_run_id).events
    # the full walk supplies workflow_completed
    return [msgspec.to_builtins(e) for e in events]


def _filters() -> type:
    from engine.wire import EventFilters

    return EventFilters


@pytest.mark.parametrize("event_type", sorted(set(DATA_KEYS) - {"workflow_completed"}))
def test_eng_13_exact_data_keys(all_events: list[dict[str, Any]], event_type: str) -> None:
    found = [e for e in all_events if e["event_type"] == event_type]
    assert found, f"no {event_type} event was produced"
    for event in found:
        assert set(event["data"]) == DATA_KEYS[event_type]


def test_eng_13_workflow_completed_has_empty_data(cuddle_workflow: dict[str, Any]) -> None:
    eng = make_engine()
    tiny = {"workflow_id": "tiny", "steps": [{"step_id": "s", "modules": [
        {"module_id": "transform.extract", "name": "x", "inputs": {"a": 1}}]}]}
    r = eng.start(StartCommand(user_id="u", project_name="p", workflow=tiny, mock=True))
    assert r.status == "completed"
    events = eng.list_events("u", r.workflow_run_id).events
    assert [e.event_type for e in events] == ["workflow_created", "step_started", "module_started",
                                             "module_completed", "step_completed",
                                             "workflow_completed"]
    assert events[-1].data == {}


def test_eng_13_no_other_event_types(all_events: list[dict[str, Any]]) -> None:
    assert {e["event_type"] for e in all_events} <= set(DATA_KEYS)
