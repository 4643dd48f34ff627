"""Retry, jump back and jump to a historical interaction on cuddle_crew at the engine level:
ACC-P4-1…7 and ACC-P5-1…3 (engine.md §10–§12, ENG-29, ENG-31, ENG-32, ENG-50)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from engine.errors import InteractionAlreadyAnswered, InteractionNotPending
from tests.conftest import make_engine
from tests.fakes_engine import USER, RecordingProviders, Walk, all_scope, resp


def _completed(w: Walk, module: str) -> list[Any]:
    return [e for e in w.events() if e.event_type == "module_completed" and e.module_name == module]


@pytest.fixture(scope="module")
def p4(cuddle_workflow: dict[str, Any]) -> Walk:
    """A1–A8, then the P4-1…4 retries on select_text_overlay."""
    w = Walk(cuddle_workflow)
    w.answer_script(until="select_text_overlay")
    snap: dict[str, Any] = {"old_iid": w.iid, "branch": w.run_doc()["current_branch_id"],
                            "count": len(w.events())}
    w.snap = snap  # type: ignore[attr-defined]
    snap["retry"] = w.answer({"retry_requested": True, "retry_feedback": "more playful"})
    snap["events_retry"] = w.events()
    snap["branch_after"] = w.run_doc()["current_branch_id"]
    snap["replay"] = w.eng.respond(USER, w.run_id, snap["old_iid"], resp(
        {"retry_requested": True, "retry_feedback": "more playful"}))
    try:
        w.eng.respond(USER, w.run_id, snap["old_iid"], resp({"selected_indices": [["text_sets", 0]]}))
    except InteractionAlreadyAnswered as exc:
        snap["conflict"] = exc
    snap["second_iid"] = w.iid
    snap["retry_default"] = w.answer({"retry_requested": True})
    snap["events_default"] = w.events()
    snap["api"] = w.eng.retry(USER, w.run_id, "generate_text_overlays", None)
    w.last = snap["api"]
    snap["events_api"] = w.events()
    before = w.snapshot()
    snap["api_bad"] = w.eng.retry(USER, w.run_id, "generate_scenes", None)
    snap["api_bad_unchanged"] = w.snapshot() == before
    return w


def test_acc_p4_1_retry_on_same_branch(p4: Walk) -> None:
    snap = p4.snap  # type: ignore[attr-defined]
    new = snap["events_retry"][snap["count"]:]
    assert [e.event_type for e in new[:2]] == ["interaction_response", "retry_requested"]
    assert new[0].data["intent"] == "retry"
    assert new[1].data == {"target_step": "text_overlays", "target_module": "generate_text_overlays",
                           "feedback": "more playful", "retry_groups": [], "source": "response",
                           "interaction_id": snap["old_iid"], "option_id": "retry"}
    assert [e.event_type for e in new[2:]] == ["module_started", "module_completed",
                                               "module_started", "interaction_requested"]
    done = [e for e in snap["events_retry"] if e.event_type == "module_completed"
            and e.module_name == "generate_text_overlays"]
    assert len(done) == 2 and done[0].data["outputs"] != done[1].data["outputs"]
    r = snap["retry"]
    assert r.status == "awaiting_input"
    assert r.interaction_request.context["module_name"] == "select_text_overlay"
    assert r.interaction_request.interaction_id != snap["old_iid"]
    assert snap["branch_after"] == snap["branch"]  # ENG-29: no branch


def test_acc_p4_2_old_interaction_replay_and_conflict(p4: Walk) -> None:
    snap = p4.snap  # type: ignore[attr-defined]
    assert msgspec.json.encode(snap["replay"]) == msgspec.json.encode(snap["retry"])
    assert isinstance(snap["conflict"], InteractionAlreadyAnswered)
    assert snap["conflict"].error_type == "interaction_already_answered"


def test_acc_p4_3_retry_default_feedback(p4: Walk) -> None:
    snap = p4.snap  # type: ignore[attr-defined]
    retries = [e for e in snap["events_default"] if e.event_type == "retry_requested"]
    assert retries[-1].data["feedback"] == ("Please generate different text overlays with a "
                                            "fresh approach to the emotional narrative.")
    assert retries[-1].data["interaction_id"] == snap["second_iid"]


def test_acc_p4_4_api_retry_and_invalid_target(p4: Walk) -> None:
    snap = p4.snap  # type: ignore[attr-defined]
    new = snap["events_api"][len(snap["events_default"]):]
    assert new[0].event_type == "retry_requested"
    assert new[0].data["source"] == "api" and new[0].data["interaction_id"] is None
    assert (new[0].data["target_step"], new[0].data["target_module"]) == (
        "text_overlays", "generate_text_overlays")
    assert snap["api"].status == "awaiting_input"
    assert snap["api"].interaction_request.context["module_name"] == "select_text_overlay"
    bad = snap["api_bad"]
    assert bad.status == "error" and bad.result["error_type"] == "invalid_target"
    assert snap["api_bad_unchanged"] is True


@pytest.fixture(scope="module")
def p4b(cuddle_workflow: dict[str, Any]) -> Walk:
    """A1–A5, then the jump back of P4-5, the unknown jump of P4-6 and the API jump of P4-7."""
    w = Walk(cuddle_workflow)
    w.answer_script(until="generate_and_select_videos_v2")
    snap: dict[str, Any] = {"old_branch": w.run_doc()["current_branch_id"],
                            "all_before": w.events(scope_all=True), "lineage_before": w.events()}
    w.snap = snap  # type: ignore[attr-defined]
    snap["jump"] = w.answer({"jump_back_requested": True, "jump_back_target": "change_image"})
    snap["run_after"] = w.run_doc()
    snap["all_after"] = w.events(scope_all=True)
    snap["state_after"] = w.state()
    before = w.snapshot()
    snap["nowhere"] = w.eng.respond(USER, w.run_id, w.iid, resp(
        {"jump_back_requested": True, "jump_back_target": "nowhere"}))
    snap["nowhere_unchanged"] = w.snapshot() == before
    snap["pending_after_nowhere"] = w.eng.get_status(USER, w.run_id).interaction_request
    snap["api_jump"] = w.eng.jump(USER, w.run_id, "scene_generation", "select_scene")
    snap["run_api"] = w.run_doc()
    return w


def test_acc_p4_5_jump_back_forks(p4b: Walk) -> None:
    snap = p4b.snap  # type: ignore[attr-defined]
    run = snap["run_after"]
    assert run["current_branch_id"] != snap["old_branch"]
    branch = p4b.eng.store.get_branch(run["current_branch_id"])
    assert branch["fork_reason"] == "jump"
    starts = [e for e in snap["lineage_before"] if e.event_type == "module_started"
              and e.module_name == "generate_and_select_images_v2"]
    assert [(x["branch_id"], x["cutoff_sequence"]) for x in branch["lineage"]] == [
        (snap["old_branch"], starts[-1].sequence - 1), (run["current_branch_id"], None)]
    on_new = [e for e in snap["all_after"] if e.branch_id == run["current_branch_id"]]
    first = on_new[0]
    assert first.event_type == "jump_requested"
    assert (first.data["target_step"], first.data["target_module"], first.data["source"],
            first.data["step_started"]) == ("image_prompts", "generate_and_select_images_v2",
                                            "response", True)
    r = snap["jump"]
    assert r.interaction_request.context["module_name"] == "generate_and_select_images_v2"
    old_ids = {e.data.get("interaction_id") for e in snap["lineage_before"]}
    assert r.interaction_request.interaction_id not in old_ids
    for key in ("image_analysis", "selected_motion_elements", "selected_image_id"):
        assert key not in snap["state_after"]
    assert r.progress.completed_steps == ["user_input", "scene_generation"]
    before_ids = {e.event_id for e in snap["all_before"]}
    assert before_ids <= {e.event_id for e in snap["all_after"]}
    new_events = [e for e in snap["all_after"] if e.event_id not in before_ids]
    assert len(snap["all_after"]) == len(snap["all_before"]) + len(new_events)
    assert [e.event_type for e in new_events] == ["interaction_response", "jump_requested",
                                                  "module_started", "interaction_requested"]


def test_acc_p4_6_unknown_jump_target_writes_nothing(p4b: Walk) -> None:
    snap = p4b.snap  # type: ignore[attr-defined]
    r = snap["nowhere"]
    assert r.status == "error" and r.error == "Jump target 'nowhere' not found"
    assert r.result["error_type"] == "module_not_found"
    assert snap["nowhere_unchanged"] is True
    assert snap["pending_after_nowhere"].interaction_id == \
        snap["jump"].interaction_request.interaction_id


def test_acc_p4_7_api_jump(p4b: Walk) -> None:
    snap = p4b.snap  # type: ignore[attr-defined]
    assert snap["run_api"]["current_branch_id"] != snap["run_after"]["current_branch_id"]
    r = snap["api_jump"]
    assert r.status == "awaiting_input"
    assert r.interaction_request.context["module_name"] == "select_scene"
    old = {e.data.get("interaction_id") for e in snap["all_after"]}
    assert r.interaction_request.interaction_id not in old
    assert r.progress.completed_steps == ["user_input"]


def test_acc_p5_jump_to_historical_interaction(cuddle_workflow: dict[str, Any]) -> None:
    """ACC-P5-1…3, ENG-32: reopen select_aesthetic without executing anything."""
    providers = RecordingProviders()
    w = Walk(cuddle_workflow, eng=make_engine(providers=providers))
    w.answer_script(until="select_duration")
    duration_iid = w.iid
    history = w.eng.get_interaction_history(USER, w.run_id)
    aesthetic = next(i for i in history.interactions if i.module_name == "select_aesthetic")
    all_before = w.eng.list_events(USER, w.run_id, all_scope()).total_count
    llm_calls = len(providers.requests)
    r = w.eng.jump_to_interaction(USER, w.run_id, aesthetic.interaction_id)
    assert r.status == "awaiting_input"
    assert r.interaction_request.interaction_id == aesthetic.interaction_id
    branch = w.eng.store.get_branch(w.run_doc()["current_branch_id"])
    assert branch["fork_reason"] == "jump_to_interaction"
    all_after = w.eng.list_events(USER, w.run_id, all_scope()).events
    assert len(all_after) == all_before + 1
    assert all_after[-1].event_type == "jump_requested"
    assert all_after[-1].data["source"] == "interaction"
    assert all_after[-1].data["interaction_id"] == aesthetic.interaction_id
    assert len(providers.requests) == llm_calls  # no module ran
    history = w.eng.get_interaction_history(USER, w.run_id)
    assert [i.module_name for i in history.interactions] == ["select_pet_type"]
    assert history.pending_interaction.interaction_id == aesthetic.interaction_id
    # P5-2
    w.last = r
    r = w.answer({"selected_indices": [5]})
    state = w.state()
    assert state["aesthetic_selection"]["id"] == "quiet"
    assert r.interaction_request.context["module_name"] == "select_scene"
    first_scene = next(i for i in w.eng.list_events(USER, w.run_id, all_scope()).events
                       if i.event_type == "interaction_requested"
                       and i.module_name == "select_scene")
    assert r.interaction_request.interaction_id != first_scene.data["interaction_id"]
    lineage = w.event_types()
    tail = lineage[lineage.index("jump_requested"):]
    assert tail == ["jump_requested", "interaction_response", "module_completed", "step_completed",
                    "step_started"] + ["module_started", "module_completed"] * 5 + [
                        "module_started", "interaction_requested"]
    assert state["keyword_count"] > 0
    # P5-3
    with pytest.raises(InteractionNotPending):
        w.eng.respond(USER, w.run_id, duration_iid, resp({"selected_indices": [1]}))
