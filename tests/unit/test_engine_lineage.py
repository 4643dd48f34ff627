"""Branches, lineage and what is folded from it (engine.md §5–§7): ENG-15…21, ENG-23, the fork
cutoffs of §5.1 and the cursor fold table of §7.1 (engine/cursor.py tested directly)."""

from __future__ import annotations

import copy
from typing import Any, Iterator

import msgspec
import pytest

from db.blob import BlobLimits
from db.virtual_store import VirtualStore
from engine import cursor as cur
from engine.errors import ModuleNotFound, StepNotFound
from engine.execution import ExecOptions
from engine.forks import fork_lineage
from engine.processor import StartCommand, WorkflowEngine
from engine.session import flat_state
from engine.virtual import VIRTUAL_USER
from engine.wire import Target
from tests.conftest import T0
from tests.fakes_engine import PROBES, all_scope, probe_engine, probe_workflow, resp


@pytest.fixture(autouse=True)
def _clean_probes() -> Iterator[None]:
    PROBES.clear()
    yield
    PROBES.clear()


def _start(eng: WorkflowEngine, wf: dict[str, Any] | None = None) -> str:
    r = eng.start(StartCommand(user_id="u", project_name="p", workflow=wf or probe_workflow(),
                               mock=True))
    return r.workflow_run_id


def _pending(eng: WorkflowEngine, run_id: str) -> str:
    req = eng.get_status("u", run_id).interaction_request
    assert req is not None
    return req.interaction_id


def _branch(eng: WorkflowEngine, run_id: str) -> dict[str, Any]:
    return eng.store.get_branch(eng.store.get_run(run_id)["current_branch_id"])  # type: ignore


def _all(eng: WorkflowEngine, run_id: str) -> list[Any]:
    return eng.list_events("u", run_id, all_scope()).events


def _expected_lineage(all_events: list[Any], lineage: list[dict[str, Any]]) -> list[int]:
    """ENG-16 written out: the sequences an event query for this lineage must return."""
    out = []
    for e in all_events:
        for entry in lineage:
            cut = entry["cutoff_sequence"]
            if e.branch_id == entry["branch_id"] and (cut is None or e.sequence <= cut):
                out.append(e.sequence)
    return sorted(out)


def test_eng_15_root_branch() -> None:
    eng = probe_engine()
    run_id = _start(eng)
    run = eng.store.get_run(run_id)
    branch = eng.store.get_branch(run["current_branch_id"])
    assert branch["branch_id"].startswith("br_") and len(branch["branch_id"]) == 35
    assert branch["lineage"] == [{"branch_id": branch["branch_id"], "cutoff_sequence": None,
                                  "cutoff_event_id": None}]
    assert {e.branch_id for e in _all(eng, run_id)} == {branch["branch_id"]}


def test_5_1_three_branches_cutoffs_and_eng_16_lineage_query() -> None:
    eng = probe_engine()
    run_id = _start(eng)
    root = _branch(eng, run_id)["branch_id"]
    # branch 2: jump back to gen from the pending pick
    eng.respond("u", run_id, _pending(eng, run_id), resp({"action_id": "back"}))
    second = _branch(eng, run_id)
    assert second["fork_reason"] == "jump" and second["parent_branch_id"] == root
    r = eng.respond("u", run_id, _pending(eng, run_id), resp({"selected_indices": [0]}))
    assert r.status == "completed"
    events = _all(eng, run_id)
    pick_starts = [e for e in events if e.event_type == "module_started" and e.module_name == "pick"]
    # branch 3: API jump to pick on the completed run; it keeps events of both earlier branches
    r = eng.jump("u", run_id, "s1", "pick")
    third = _branch(eng, run_id)
    keep = pick_starts[-1].sequence - 1
    root_cut = second["lineage"][0]["cutoff_sequence"]
    kept_second = [e for e in events if e.branch_id == second["branch_id"] and e.sequence <= keep]
    assert [(x["branch_id"], x["cutoff_sequence"]) for x in third["lineage"]] == [
        (root, min(root_cut, keep)), (second["branch_id"], keep), (third["branch_id"], None)]
    assert third["lineage"][1]["cutoff_event_id"] == kept_second[-1].event_id
    root_events = [e for e in events if e.branch_id == root and e.sequence <= root_cut]
    assert third["lineage"][0]["cutoff_event_id"] == root_events[-1].event_id
    assert third["parent_branch_id"] == second["branch_id"]
    everything = _all(eng, run_id)
    lineage = eng.list_events("u", run_id).events
    assert [e.sequence for e in lineage] == _expected_lineage(everything, third["lineage"])
    assert r.interaction_request.context["module_name"] == "pick"


def _ev(seq: int, branch: str, kind: str = "module_completed") -> dict[str, Any]:
    return {"sequence": seq, "branch_id": branch, "event_id": f"evt_{seq:032x}",
            "event_type": kind, "step_id": "s", "module_name": "m", "data": {}}


class _Session:
    def __init__(self, events: list[dict[str, Any]], lineage: list[dict[str, Any]]) -> None:
        self.events = events
        self.branch = {"branch_id": lineage[-1]["branch_id"], "lineage": lineage}


def test_5_1_fork_lineage_min_cutoffs_and_dropped_entries() -> None:
    """Cutoff = min(old cutoff, keep); entries without kept events are dropped."""
    lineage = [{"branch_id": "A", "cutoff_sequence": 3, "cutoff_event_id": "x"},
               {"branch_id": "B", "cutoff_sequence": 7, "cutoff_event_id": "y"},
               {"branch_id": "C", "cutoff_sequence": None, "cutoff_event_id": None}]
    events = [_ev(1, "A"), _ev(2, "A"), _ev(3, "A"), _ev(5, "B"), _ev(6, "B"), _ev(7, "B"),
              _ev(9, "C"), _ev(10, "C")]
    new, kept = fork_lineage(_Session(events, lineage), 9, "D")  # type: ignore[arg-type]
    assert new == [{"branch_id": "A", "cutoff_sequence": 3, "cutoff_event_id": _ev(3, "A")["event_id"]},
                   {"branch_id": "B", "cutoff_sequence": 7, "cutoff_event_id": _ev(7, "B")["event_id"]},
                   {"branch_id": "C", "cutoff_sequence": 9, "cutoff_event_id": _ev(9, "C")["event_id"]},
                   {"branch_id": "D", "cutoff_sequence": None, "cutoff_event_id": None}]
    assert [e["sequence"] for e in kept] == [1, 2, 3, 5, 6, 7, 9]
    new, kept = fork_lineage(_Session(events, lineage), 2, "E")  # type: ignore[arg-type]
    assert new == [{"branch_id": "A", "cutoff_sequence": 2, "cutoff_event_id": _ev(2, "A")["event_id"]},
                   {"branch_id": "E", "cutoff_sequence": None, "cutoff_event_id": None}]
    assert [e["sequence"] for e in kept] == [1, 2]


def test_eng_17_cut_events_stay_stored_but_leave_the_views() -> None:
    eng = probe_engine()
    run_id = _start(eng)
    eng.respond("u", run_id, _pending(eng, run_id), resp({"selected_indices": [1]}))
    assert eng.get_state_view("u", run_id).state["final_x"] == "b"
    stored = _all(eng, run_id)
    r = eng.jump("u", run_id, "s1", "pick")
    after = _all(eng, run_id)
    assert {e.event_id for e in stored} <= {e.event_id for e in after}
    assert len(after) == len(stored) + 3  # jump_requested, module_started, interaction_requested
    view = eng.get_state_view("u", run_id)
    assert "final_x" not in view.state and "fin" not in view.state and "picked" not in view.state
    assert view.state["things"] == [{"id": "a"}, {"id": "b"}]
    s2 = next(s for s in view.step_summaries if s.step_id == "s2")
    assert s2.status == "pending" and s2.modules[0].status == "pending"
    assert s2.modules[0].outputs is None and s2.modules[0].executions == 0
    history = eng.get_interaction_history("u", run_id)
    assert history.interactions == []
    assert history.pending_interaction.interaction_id == r.interaction_request.interaction_id
    assert r.progress.completed_steps == []


def test_eng_18_state_fold() -> None:
    events = [
        {"event_type": "module_completed", "module_name": "a",
         "data": {"outputs": {"v": 1}, "state_mapped": {"k": 1, "b": "from a"}}},
        {"event_type": "module_completed", "module_name": "b",
         "data": {"outputs": {"v": 2}, "state_mapped": {}}},
        {"event_type": "sub_action_completed", "module_name": "a",
         "data": {"state_mapped": {"k": 3}, "result": {"ignored": True}}},
        {"event_type": "interaction_response", "module_name": "c", "data": {"response": {}}},
        {"event_type": "module_completed", "module_name": "a",
         "data": {"outputs": {"v": 4}, "state_mapped": {"k": 4}}},
    ]
    assert flat_state(events) == {"a": {"v": 4}, "k": 4, "b": {"v": 2}}
    assert flat_state(events[:3]) == {"a": {"v": 1}, "k": 3, "b": {"v": 2}}
    assert flat_state(events[2:3]) == {"k": 3}  # never the module-name entry


def test_eng_19_transient_keys_only_in_the_retried_module() -> None:
    seen: dict[str, list[dict[str, Any]]] = {"gen": [], "fin": []}
    PROBES["gen"] = lambda inputs, ctx: (seen["gen"].append(dict(ctx.state)),
                                         {"items": [{"id": "a"}], "response": "draft"})[1]
    PROBES["fin"] = lambda inputs, ctx: (seen["fin"].append(dict(ctx.state)), {"x": 1})[1]
    eng = probe_engine()
    run_id = _start(eng)
    eng.respond("u", run_id, _pending(eng, run_id), resp({"action_id": "again",
                                                          "retry_feedback": "shorter"}))
    assert "_retry_feedback" not in seen["gen"][0]
    retried = seen["gen"][1]
    assert retried["_retry_feedback"] == "shorter"
    assert retried["_retry_conversation_history"] == [
        {"role": "assistant", "content": "draft"},
        {"role": "user", "content": "FEEDBACK FROM USER: shorter"}]
    eng.respond("u", run_id, _pending(eng, run_id), resp({"selected_indices": [0]}))
    assert not {k for k in seen["fin"][0] if k.startswith("_retry")}
    view = eng.get_state_view("u", run_id)
    assert not {k for k in view.state if k.startswith("_")}
    for event in _all(eng, run_id):
        assert "_retry_conversation_history" not in msgspec.json.encode(event.data).decode()


def test_eng_19_sub_action_feedback_key_only_in_the_child() -> None:
    seen: list[dict[str, Any]] = []
    PROBES["more_items"] = lambda inputs, ctx: (seen.append(dict(ctx.state)), {"items": []})[1]
    wf = probe_workflow()
    wf["steps"][0]["modules"][1]["sub_actions"][0]["feedback"] = {"enabled": True,
                                                                  "state_key": "_fb"}
    eng = probe_engine()
    run_id = _start(eng, wf)
    out = eng.run_sub_action("u", run_id, _pending(eng, run_id), "more", {"feedback": "beach"},
                             lambda e: None)
    assert out.status == "completed"
    assert seen[0]["_fb"] == "beach" and seen[0]["things"] == [{"id": "a"}, {"id": "b"}]
    assert "_fb" not in eng.get_state_view("u", run_id).state
    assert out.sub_action_result == {"more_items": {"items": []}}  # child state only


def test_eng_20_history_is_lineage_scoped_and_survives_a_blob_round_trip() -> None:
    eng = probe_engine(mode="virtual")
    target = Target(step_id="s2", module_name="fin")
    r = eng.virtual_start(workflow=probe_workflow(), has_blob=False, run_id=None, target=target,
                          capabilities=[], opts=ExecOptions(mock=True))
    run_id = r.workflow_run_id
    first = r.interaction_request.interaction_id
    r = eng.virtual_respond(workflow=probe_workflow(), run_id=run_id, interaction_id=first,
                            response=resp({"action_id": "again"}), target=target,
                            capabilities=[], opts=ExecOptions(mock=True))
    second = r.interaction_request.interaction_id
    r = eng.virtual_respond(workflow=probe_workflow(), run_id=run_id, interaction_id=second,
                            response=resp({"selected_indices": [1]}), target=target,
                            capabilities=[], opts=ExecOptions(mock=True))
    assert r.status == "completed"
    history = eng.get_interaction_history(VIRTUAL_USER, run_id)
    assert [(i.interaction_id, i.intent) for i in history.interactions] == [
        (first, "retry"), (second, "continue")]
    assert history.interactions[0].requested_at < history.interactions[0].responded_at
    blob = eng.store.to_blob()  # type: ignore[attr-defined]
    again = probe_engine(mode="virtual", store=VirtualStore.from_blob(blob, BlobLimits(), T0))
    copy_history = again.get_interaction_history(VIRTUAL_USER, run_id)
    assert msgspec.json.encode(copy_history) == msgspec.json.encode(history)
    # a jump back to gen cuts the answer after the retried gen, keeps the retry answer
    eng.jump(VIRTUAL_USER, run_id, "s1", "gen")
    assert [(i.interaction_id, i.intent) for i in
            eng.get_interaction_history(VIRTUAL_USER, run_id).interactions] == [(first, "retry")]


def test_eng_23_progress_fields() -> None:
    eng = probe_engine()
    run_id = _start(eng)
    p = eng.get_status("u", run_id).progress
    assert (p.current_step, p.current_step_name, p.current_module, p.step_index,
            p.module_index, p.total_steps, p.completed_steps) == (
        "s1", "Step 1: First", "pick", 0, 1, 2, [])
    r = eng.respond("u", run_id, _pending(eng, run_id), resp({"selected_indices": [0]}))
    p = r.progress
    assert (p.current_step, p.current_module, p.completed_steps) == (None, None, ["s1", "s2"])
    r = eng.jump("u", run_id, "s1", "pick")
    assert r.progress.completed_steps == []
    r = eng.respond("u", run_id, r.interaction_request.interaction_id,
                    resp({"selected_indices": [1]}))
    assert r.progress.completed_steps == ["s1", "s2"]


def _rename(wf: dict[str, Any], step: str | None = None, module: str | None = None
            ) -> dict[str, Any]:
    edited = copy.deepcopy(wf)
    if step:
        edited["steps"][0]["step_id"] = step
        edited["steps"][0]["modules"][1]["retryable"]["options"][2]["target_step"] = step
    if module:
        edited["steps"][0]["modules"][1]["name"] = module
    return edited


@pytest.mark.parametrize("edit,error", [({"module": "chooser"}, ModuleNotFound),
                                        ({"step": "first"}, StepNotFound)])
def test_eng_21_position_missing_from_the_current_version(edit: dict[str, str],
                                                          error: type) -> None:
    eng = probe_engine()
    wf = probe_workflow()
    run_id = _start(eng, wf)
    pick = _pending(eng, run_id)
    stored = eng.store_workflow("u", _rename(wf, **edit), "json")
    assert eng.point_run_at_version("u", run_id, stored.source_version_id, []) is True
    before = eng.store.export()  # type: ignore[attr-defined]
    r = eng.continue_run("u", run_id)
    assert r.status == "error" and r.result["error_type"] == error.error_type
    assert r.result["details"]["reason"] == "position not in current workflow version"
    r = eng.respond("u", run_id, pick, resp({"selected_indices": [0]}))
    assert r.status == "error" and r.result["error_type"] == error.error_type
    assert r.result["details"]["reason"] == "position not in current workflow version"
    r = eng.jump("u", run_id, "s1" if "module" in edit else "first", "gen")
    assert r.status == "error"
    r = eng.retry("u", run_id, "gen", None)
    assert r.status == "error" and r.result["error_type"] == error.error_type
    assert r.result["details"]["reason"] == "position not in current workflow version"
    r = eng.run_to_target("u", run_id, Target(step_id="s2", module_name="fin"))
    assert r.status == "error" and r.result["error_type"] == error.error_type
    assert eng.store.export() == before  # type: ignore[attr-defined]


# ---------------------------------------------------------------------- §7.1 fold table


def _e(kind: str, step: str | None = None, module: str | None = None, **data: Any
       ) -> dict[str, Any]:
    return {"event_type": kind, "step_id": step, "module_name": module, "data": data}


def _fold(*events: dict[str, Any]) -> cur.Cursor:
    return cur.fold([_e("workflow_created"), *events])


def test_fold_workflow_created_and_step_started() -> None:
    c = _fold()
    assert (c.phase, c.step_id, c.module_name, c.started_steps) == (cur.START, None, None, set())
    c = _fold(_e("step_started", "s1"))
    assert c.phase == cur.START and c.started_steps == {"s1"}


@pytest.mark.parametrize("event,phase,interaction", [
    (_e("module_started", "s1", "m"), cur.RUNNING, None),
    (_e("interaction_requested", "s1", "m", interaction_id="X"), cur.AWAITING, "X"),
    (_e("interaction_response", "s1", "m", interaction_id="X", intent="retry"), cur.RESPONSE, "X"),
    (_e("module_completed", "s1", "m"), cur.AFTER_MODULE, None),
    (_e("module_error", "s1", "m", error_type="execution_failed", error="e"), cur.FAILED, None),
    (_e("retry_requested", "s1", "m", feedback="f"), cur.BEFORE, None),
])
def test_fold_module_rows(event: dict[str, Any], phase: str, interaction: str | None) -> None:
    c = _fold(_e("step_started", "s1"), event)
    assert (c.phase, c.step_id, c.module_name, c.interaction_id) == (phase, "s1", "m", interaction)
    assert c.started_steps == {"s1"}
    if phase == cur.RESPONSE:
        assert c.intent == "retry"


def test_fold_no_change_rows() -> None:
    base = [_e("step_started", "s1"), _e("interaction_requested", "s1", "m", interaction_id="X")]
    for extra in ("interaction_refreshed", "sub_action_started", "sub_action_completed",
                  "sub_action_failed"):
        c = _fold(*base, _e(extra, "s1", "m", interaction_id="X"))
        assert (c.phase, c.interaction_id, c.started_steps) == (cur.AWAITING, "X", {"s1"})


def test_fold_step_and_workflow_completed() -> None:
    c = _fold(_e("step_started", "s1"), _e("step_started", "s2"), _e("step_completed", "s1"))
    assert (c.phase, c.step_id, c.started_steps) == (cur.AFTER_STEP, "s1", {"s2"})
    assert _fold(_e("workflow_completed")).phase == cur.COMPLETED


@pytest.mark.parametrize("started,expected", [(True, {"s1"}), (False, set())])
def test_fold_jump_requested(started: bool, expected: set[str]) -> None:
    c = _fold(_e("step_started", "s2"), _e("jump_requested", "s1", "m", source="api",
                                            step_started=started))
    assert (c.phase, c.step_id, c.module_name, c.started_steps) == (cur.BEFORE, "s1", "m",
                                                                    expected)
    c = _fold(_e("step_started", "s2"), _e("jump_requested", "s1", "m", source="interaction",
                                            interaction_id="X", step_started=True))
    assert (c.phase, c.interaction_id, c.started_steps) == (cur.AWAITING, "X", {"s1"})


def test_fold_never_counts_events() -> None:
    events = [_e("step_started", "s"), _e("module_started", "s", "m"),
              _e("module_started", "s", "m"), _e("step_started", "s"),
              _e("module_completed", "s", "m")]
    a, b = _fold(*events), _fold(*(events + events[-1:]))
    assert (a.phase, a.module_name, a.started_steps) == (b.phase, b.module_name, b.started_steps)


def test_11_jump_without_a_fork_point_stays_on_the_branch() -> None:
    """§11 step 4: nothing of the target or after it has started → no branch is created."""
    eng = probe_engine()
    run_id = _start(eng)
    eng.reset("u", run_id)
    branch = _branch(eng, run_id)
    r = eng.jump("u", run_id, "s1", "gen")
    assert r.status == "awaiting_input"
    assert _branch(eng, run_id)["branch_id"] == branch["branch_id"]
    lineage = eng.list_events("u", run_id).events
    assert [e.event_type for e in lineage] == [
        "workflow_created", "jump_requested", "step_started", "module_started",
        "module_completed", "module_started", "interaction_requested"]
    jump = lineage[1].data
    assert jump["new_branch_id"] == jump["from_branch_id"] == branch["branch_id"]
    assert jump["step_started"] is False and jump["source"] == "api"
