"""The position fold of engine.md §7.1, completed steps (ENG-23), forks and lineage (§5.1, ENG-17)."""

from __future__ import annotations

from typing import Any

import msgspec

from engine import cursor as cur
from engine.processor import StartCommand
from engine.progress import completed_steps
from engine.wire import InteractionResponseData
from tests.acceptance.script_a import ANSWERS
from tests.conftest import make_engine

_seq = 0


def ev(kind: str, step: str | None = None, module: str | None = None, **data: Any) -> dict[str, Any]:
    global _seq
    _seq += 1
    return {"event_type": kind, "step_id": step, "module_name": module, "data": data,
            "sequence": _seq, "branch_id": "br_x"}


def test_fold_table_rows() -> None:
    c = cur.Cursor()
    cur.apply(c, ev("workflow_created"))
    assert c.phase == cur.START and c.started_steps == set()
    cur.apply(c, ev("step_started", "s1"))
    assert c.started_steps == {"s1"} and c.phase == cur.START
    cur.apply(c, ev("module_started", "s1", "m1"))
    assert (c.phase, c.step_id, c.module_name) == (cur.RUNNING, "s1", "m1")
    cur.apply(c, ev("interaction_requested", "s1", "m1", interaction_id="select_1"))
    assert (c.phase, c.interaction_id) == (cur.AWAITING, "select_1")
    cur.apply(c, ev("interaction_refreshed", "s1", "m1", interaction_id="select_1"))
    cur.apply(c, ev("sub_action_started", "s1", "m1"))
    assert (c.phase, c.interaction_id) == (cur.AWAITING, "select_1")  # no change
    cur.apply(c, ev("interaction_response", "s1", "m1", interaction_id="select_1", intent="continue"))
    assert (c.phase, c.intent) == (cur.RESPONSE, "continue")
    cur.apply(c, ev("module_completed", "s1", "m1"))
    assert (c.phase, c.module_name) == (cur.AFTER_MODULE, "m1")
    cur.apply(c, ev("module_started", "s1", "m2"))
    cur.apply(c, ev("module_error", "s1", "m2", error_type="execution_failed", error="boom"))
    assert c.phase == cur.FAILED and c.error == {"error_type": "execution_failed", "error": "boom"}
    cur.apply(c, ev("module_started", "s1", "m2"))
    cur.apply(c, ev("module_completed", "s1", "m2"))
    cur.apply(c, ev("step_completed", "s1"))
    assert (c.phase, c.step_id) == (cur.AFTER_STEP, "s1") and c.started_steps == set()
    cur.apply(c, ev("retry_requested", "s1", "m1", feedback="again"))
    assert (c.phase, c.module_name, c.retry) == (cur.BEFORE, "m1", ("s1", "m1", "again"))
    cur.apply(c, ev("jump_requested", "s2", "m3", source="api", step_started=True))
    assert (c.phase, c.step_id, c.started_steps, c.retry) == (cur.BEFORE, "s2", {"s2"}, None)
    cur.apply(c, ev("jump_requested", "s1", "m1", source="interaction", interaction_id="select_1"))
    assert (c.phase, c.interaction_id, c.started_steps) == (cur.AWAITING, "select_1", {"s1"})
    cur.apply(c, ev("workflow_completed"))
    assert c.phase == cur.COMPLETED


def test_fold_ignores_duplicates() -> None:
    """The fold never counts events: a repeated event leaves the same position."""
    events = [ev("workflow_created"), ev("step_started", "s"), ev("module_started", "s", "m"),
              ev("module_started", "s", "m"), ev("module_completed", "s", "m")]
    a, b = cur.fold(events), cur.fold(events + [events[-1]])
    assert (a.phase, a.step_id, a.module_name) == (b.phase, b.step_id, b.module_name)


def test_eng_23_completed_steps_in_order_of_first_completion() -> None:
    events = [ev("step_started", "a"), ev("step_completed", "a"), ev("step_started", "b"),
              ev("step_completed", "b"), ev("step_started", "a")]  # a re-entered, not completed
    assert completed_steps(events) == ["b"]
    events.append(ev("step_completed", "a"))
    assert completed_steps(events) == ["a", "b"]


def _r(body: dict[str, Any]) -> InteractionResponseData:
    return msgspec.convert(body, InteractionResponseData)


def test_eng_17_three_branches_lineage_and_cutoffs(cuddle_workflow: dict[str, Any]) -> None:
    """Two successive jumps make three branches; each lineage keeps only what preceded its cut."""
    eng = make_engine()
    r = eng.start(StartCommand(user_id="u", project_name="p", workflow=cuddle_workflow, mock=True))
    run_id = r.workflow_run_id
    for name in ("select_pet_type", "select_aesthetic", "select_scene"):
        r = eng.respond("u", run_id, r.interaction_request.interaction_id, _r(ANSWERS[name]))
    stored_before = eng.list_events("u", run_id, msgspec.convert({"scope": "all"}, type=_f())).total_count
    r = eng.jump("u", run_id, "scene_generation", "select_scene")
    assert r.interaction_request.context["module_name"] == "select_scene"
    second = eng.store.get_branch(eng.store.get_run(run_id)["current_branch_id"])
    r = eng.respond("u", run_id, r.interaction_request.interaction_id, _r({"selected_indices": ["scenes", 1]}))
    r = eng.jump("u", run_id, "user_input", "select_aesthetic")
    third = eng.store.get_branch(eng.store.get_run(run_id)["current_branch_id"])
    assert second["fork_reason"] == third["fork_reason"] == "jump"
    assert len(second["lineage"]) == 2 and len(third["lineage"]) == 2
    # the third branch cuts before the second branch started: only the root survives
    assert third["lineage"][0]["branch_id"] == second["lineage"][0]["branch_id"]
    assert third["lineage"][0]["cutoff_sequence"] < second["lineage"][0]["cutoff_sequence"]
    all_events = eng.list_events("u", run_id, msgspec.convert({"scope": "all"}, type=_f()))
    assert all_events.total_count > stored_before  # nothing deleted, only added
    lineage = eng.list_events("u", run_id).events
    assert [e.event_type for e in lineage][-1] == "interaction_requested"
    assert {e.module_name for e in lineage if e.event_type == "interaction_response"} == {"select_pet_type"}
    state = eng.get_state_view("u", run_id).state
    assert "aesthetic_selection" not in state and "scene_concepts" not in state
    progress = eng.get_status("u", run_id).progress
    assert progress is not None and progress.completed_steps == []


def _f() -> type:
    from engine.wire import EventFilters

    return EventFilters


def test_completed_steps_come_from_the_fold_and_survive_a_copy() -> None:
    """Responses read the completed steps off the session's cursor, not a lineage scan."""
    c = cur.fold([ev("step_started", "a"), ev("step_completed", "a"), ev("step_started", "b")])
    twin = c.copy()
    cur.apply(c, ev("step_completed", "b"))
    assert c.completed_steps() == ["a", "b"] and twin.completed_steps() == ["a"]
