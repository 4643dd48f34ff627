"""Idempotent answers, conflicts and reset at the engine level: ACC-P6-1…5 (P6-4 as threads
against one engine instead of HTTP) and the reset part of ACC-P8-4 (engine.md §15.5, §18)."""

from __future__ import annotations

import threading
from typing import Any

import msgspec
import pytest

from engine.errors import InteractionAlreadyAnswered, InteractionNotFound
from engine.wire import WorkflowResponse
from tests.acceptance.script_a import ANSWERS
from tests.fakes_engine import USER, Walk, all_scope, resp

A1 = ANSWERS["select_pet_type"]


def _responses(w: Walk) -> list[Any]:
    return [e for e in w.events(scope_all=True) if e.event_type == "interaction_response"]


def test_acc_p6_1_p6_2_p6_3_replay_conflict_not_found(cuddle_workflow: dict[str, Any]) -> None:
    w = Walk(cuddle_workflow)
    pet = w.iid
    one = w.eng.respond(USER, w.run_id, pet, resp(A1))
    two = w.eng.respond(USER, w.run_id, pet, resp(A1))
    assert one.status == "awaiting_input"
    assert msgspec.json.encode(one) == msgspec.json.encode(two)
    assert len(_responses(w)) == 1
    assert len(w.snapshot()["interaction_answers"]) == 1
    before = w.snapshot()
    with pytest.raises(InteractionAlreadyAnswered) as conflict:
        w.eng.respond(USER, w.run_id, pet, resp({"selected_indices": [1]}))
    assert conflict.value.error_type == "interaction_already_answered"
    assert w.snapshot() == before
    with pytest.raises(InteractionNotFound) as missing:
        w.eng.respond(USER, w.run_id, "select_doesnotexist0000000000000000000000", resp(A1))
    assert missing.value.error_type == "interaction_not_found"
    assert w.snapshot() == before


def _concurrently(calls: list[Any]) -> list[Any]:
    results: list[Any] = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_acc_p6_4_twenty_identical_answers_concurrently(cuddle_workflow: dict[str, Any]) -> None:
    w = Walk(cuddle_workflow)
    pet = w.iid
    results = _concurrently([lambda: w.eng.respond(USER, w.run_id, pet, resp(A1))] * 20)
    assert all(isinstance(r, WorkflowResponse) for r in results), results
    bodies = {msgspec.json.encode(r) for r in results}
    assert len(bodies) == 1
    assert results[0].interaction_request.context["module_name"] == "select_aesthetic"
    assert len(_responses(w)) == 1
    assert len(w.snapshot()["interaction_answers"]) == 1


def test_acc_p6_4_two_different_answers_concurrently(cuddle_workflow: dict[str, Any]) -> None:
    w = Walk(cuddle_workflow)
    pet = w.iid
    results = _concurrently([lambda: w.eng.respond(USER, w.run_id, pet, resp(A1)),
                             lambda: w.eng.respond(USER, w.run_id, pet,
                                                   resp({"selected_indices": [1]}))])
    ok = [r for r in results if isinstance(r, WorkflowResponse)]
    conflicts = [r for r in results if isinstance(r, InteractionAlreadyAnswered)]
    assert len(ok) == 1 and len(conflicts) == 1, results
    assert ok[0].status == "awaiting_input"
    assert len(_responses(w)) == 1


def test_acc_p6_5_replay_after_the_run_moved_on(cuddle_workflow: dict[str, Any]) -> None:
    w = Walk(cuddle_workflow)
    pet = w.iid
    first = w.answer(A1)
    w.answer(ANSWERS["select_aesthetic"])
    count = len(w.events(scope_all=True))
    replay = w.eng.respond(USER, w.run_id, pet, resp(A1))
    assert msgspec.json.encode(replay) == msgspec.json.encode(first)
    assert len(w.events(scope_all=True)) == count


def test_acc_p8_4_reset_starts_a_new_root_branch(cuddle_workflow: dict[str, Any]) -> None:
    """§15.5: new root branch without inheritance; old branches, events and answers kept."""
    w = Walk(cuddle_workflow)
    w.answer_script(until="select_scene")
    old_branch = w.run_doc()["current_branch_id"]
    before = w.snapshot()
    r = w.eng.reset(USER, w.run_id)
    assert r.status == "created"
    assert w.eng.get_status(USER, w.run_id).status == "created"
    run = w.run_doc()
    assert run["status"] == "created" and run["current_branch_id"] != old_branch
    branch = w.eng.store.get_branch(run["current_branch_id"])
    assert branch["fork_reason"] == "reset"
    assert branch["lineage"] == [{"branch_id": run["current_branch_id"], "cutoff_sequence": None,
                                  "cutoff_event_id": None}]
    after = w.snapshot()
    assert after["interaction_answers"] == before["interaction_answers"]
    old_ids = {e["event_id"] for e in before["events"]}
    assert old_ids <= {e["event_id"] for e in after["events"]}
    assert len(after["branches"]) == len(before["branches"]) + 1
    lineage = w.events()
    assert [e.event_type for e in lineage] == ["workflow_created"]
    assert lineage[0].data["reset"] is True
    assert w.state() == {}
    resumed = w.eng.continue_run(USER, w.run_id)
    assert resumed.status == "awaiting_input"
    assert resumed.interaction_request.context["module_name"] == "select_pet_type"
    lineage = w.events()
    assert lineage[0].event_type == "workflow_created" and lineage[0].data["reset"] is True
    assert [e.event_type for e in lineage[1:]] == ["step_started", "module_started",
                                                   "interaction_requested"]
    total = w.eng.list_events(USER, w.run_id, all_scope()).total_count
    assert total == len(before["events"]) + 4
