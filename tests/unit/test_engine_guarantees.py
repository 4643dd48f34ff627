"""Engine-wide guarantees: determinism (ENG-1), rejected answers write nothing (ENG-5, ENG-26),
crash-point resume (ENG-22), cancellation (ENG-48), ownership (ENG-7), key stripping (ENG-10)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from engine.errors import NotFound, StoreUnavailable
from engine.execution import ExecOptions
from engine.ports import CancelToken
from engine.processor import StartCommand, WorkflowEngine
from engine.wire import InteractionResponseData
from tests.acceptance.script_a import ANSWERS
from tests.conftest import make_engine
from tests.fakes_engine import CrashingStore

PREFIX = ["select_pet_type", "select_aesthetic", "select_scene"]


def _r(body: dict[str, Any]) -> InteractionResponseData:
    return msgspec.convert(body, InteractionResponseData)


def _snapshot(eng: WorkflowEngine) -> dict[str, list[dict[str, Any]]]:
    return eng.store.export()  # type: ignore[attr-defined]


def _walk_prefix(eng: WorkflowEngine, workflow: dict[str, Any]) -> str:
    r = eng.start(StartCommand(user_id="u", project_name="p", workflow=workflow, mock=True))
    for name in PREFIX:
        assert r.interaction_request is not None
        assert r.interaction_request.context["module_name"] == name
        r = eng.respond("u", r.workflow_run_id, r.interaction_request.interaction_id,
                        _r(ANSWERS[name]))
    return r.workflow_run_id


def test_eng_1_same_operations_same_documents(cuddle_workflow: dict[str, Any]) -> None:
    one, two = make_engine(), make_engine()
    _walk_prefix(one, cuddle_workflow)
    _walk_prefix(two, cuddle_workflow)
    assert msgspec.json.encode(_snapshot(one)) == msgspec.json.encode(_snapshot(two))


def test_eng_5_eng_26_rejected_answer_writes_nothing(cuddle_workflow: dict[str, Any]) -> None:
    eng = make_engine()
    r = eng.start(StartCommand(user_id="u", project_name="p", workflow=cuddle_workflow, mock=True))
    run_id = r.workflow_run_id
    r = eng.respond("u", run_id, r.interaction_request.interaction_id, _r(ANSWERS["select_pet_type"]))
    r = eng.respond("u", run_id, r.interaction_request.interaction_id, _r(ANSWERS["select_aesthetic"]))
    scene = r.interaction_request.interaction_id
    before = _snapshot(eng)
    rejected = [
        eng.respond("u", run_id, scene, _r({"selected_indices": [7]})),       # invalid path
        eng.respond("u", run_id, scene, _r({"cancelled": True})),              # cancelled
        eng.respond("u", run_id, scene, _r({"jump_back_requested": True,
                                             "jump_back_target": "nowhere"})),  # unknown jump
        eng.respond("u", run_id, scene, _r({"retry_requested": True})),        # no retry option
    ]
    assert [x.status for x in rejected] == ["validation_failed", "error", "error", "error"]
    assert rejected[0].validation_errors[0].id == "selection_invalid"
    assert rejected[1].result["error_type"] == "cancelled"
    assert rejected[2].error == "Jump target 'nowhere' not found"
    assert rejected[3].result["error_type"] == "invalid_target"
    assert _snapshot(eng) == before
    ok = eng.respond("u", run_id, scene, _r(ANSWERS["select_scene"]))
    assert ok.status == "awaiting_input"


def _types(eng: WorkflowEngine, run_id: str) -> list[str]:
    return [e.event_type for e in eng.list_events("u", run_id).events]


def _resume_prefix(eng: WorkflowEngine, run_id: str | None, workflow: dict[str, Any]) -> str:
    """Drive the prefix to select_scene resuming whatever an interrupted call left behind."""
    if run_id is None:
        return _walk_prefix(eng, workflow)
    r = eng.continue_run("u", run_id)
    for _ in range(10):
        if r.status != "awaiting_input":
            break
        name = r.interaction_request.context["module_name"]
        if name == "generate_and_select_images_v2":
            break
        r = eng.respond("u", run_id, r.interaction_request.interaction_id, _r(ANSWERS[name]))
    return run_id


def test_eng_22_resume_after_every_crash_point(cuddle_workflow: dict[str, Any]) -> None:
    clean = make_engine()
    reference = _types(clean, _walk_prefix(clean, cuddle_workflow))
    total_writes = CrashingStore(make_engine().store, 10**9)
    probe = make_engine(store=total_writes)
    _walk_prefix(probe, cuddle_workflow)
    assert total_writes.writes > 40
    for n in range(8, total_writes.writes + 1, 3):
        store = CrashingStore(make_engine().store, n)
        eng = make_engine(store=store)
        run_id = None
        try:
            run_id = _walk_prefix(eng, cuddle_workflow)
        except StoreUnavailable:
            runs = store.inner.top_level_runs()
            run_id = runs[0]["workflow_run_id"] if runs else None
        store.crash_at = -1
        if run_id is None:
            continue  # crashed before the run document existed: nothing to resume
        run_id = _resume_prefix(eng, run_id, cuddle_workflow)
        got = _types(eng, run_id)
        # equal except for a repeated module_started of the interrupted module
        squeezed = [t for i, t in enumerate(got)
                    if not (t == "module_started" and i + 1 < len(got)
                            and got[i + 1] == "module_started")]
        assert squeezed == reference, f"crash at write {n}"
        assert got.count("step_started") == reference.count("step_started")


def test_eng_48_cancel_before_module_writes_nothing(cuddle_workflow: dict[str, Any]) -> None:
    eng = make_engine()
    r = eng.start(StartCommand(user_id="u", project_name="p", workflow=cuddle_workflow, mock=True))
    run_id = r.workflow_run_id
    r = eng.respond("u", run_id, r.interaction_request.interaction_id, _r(ANSWERS["select_pet_type"]))
    token = CancelToken()
    token.cancel("user_cancelled")
    before = len(_types(eng, run_id))
    r = eng.respond("u", run_id, r.interaction_request.interaction_id,
                    _r(ANSWERS["select_aesthetic"]), ExecOptions(cancel=token))
    assert r.status == "error" and r.result["error_type"] == "cancelled"
    types = _types(eng, run_id)
    # the answer and its step bookkeeping were recorded; no module started after it
    assert types[before:] == ["interaction_response", "module_completed", "step_completed"]
    r = eng.continue_run("u", run_id)
    assert r.status == "awaiting_input"
    assert r.interaction_request.context["module_name"] == "select_scene"


def test_eng_7_other_user_is_not_found(cuddle_workflow: dict[str, Any]) -> None:
    eng = make_engine()
    r = eng.start(StartCommand(user_id="alice", project_name="p", workflow=cuddle_workflow, mock=True))
    with pytest.raises(NotFound):
        eng.get_state_view("bob", r.workflow_run_id)
    with pytest.raises(NotFound):
        eng.respond("bob", r.workflow_run_id, r.interaction_request.interaction_id,
                    _r(ANSWERS["select_pet_type"]))


def test_eng_10_ai_config_keys_stripped(cuddle_workflow: dict[str, Any]) -> None:
    eng = make_engine()
    r = eng.start(StartCommand(user_id="u", project_name="p", workflow=cuddle_workflow, mock=True,
                               ai_config={"provider": "openai", "api_key": "sk-secretsecret",
                                          "nested": {"anthropic_api_key": "x", "keep": 1}}))
    run = eng.store.get_run(r.workflow_run_id)
    assert run["ai_config"] == {"provider": "openai", "nested": {"keep": 1}}
