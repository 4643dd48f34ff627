"""Events (engine.md §4, §8.1): the exact `data` of every event type (ENG-13), contiguous
sequences (ENG-11), provenance (ENG-14), output normalisation and the size limit (ENG-12),
and the per-module event shapes (ENG-24)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterator

import msgspec
import pytest

from engine.execution import ExecOptions
from engine.jsonutil import canonical_json, sha256_tag
from engine.processor import StartCommand, WorkflowEngine
from engine.settings import EngineSettings
from engine.virtual import VIRTUAL_USER
from engine.wire import AutoRespondConfig, InteractionResponseData, Target
from tests.fakes_engine import PROBES, all_scope, probe_engine, probe_workflow, resp

ALL_TYPES = {"workflow_created", "step_started", "module_started", "interaction_requested",
             "interaction_refreshed", "interaction_response", "module_completed", "module_error",
             "step_completed", "workflow_completed", "retry_requested", "jump_requested",
             "sub_action_started", "sub_action_completed", "sub_action_failed"}


@pytest.fixture(autouse=True)
def _clean_probes() -> Iterator[None]:
    PROBES.clear()
    yield
    PROBES.clear()


def _start(eng: WorkflowEngine, workflow: dict[str, Any] | None = None, *,
           mock: bool = True) -> Any:
    return eng.start(StartCommand(user_id="u", project_name="p",
                                  workflow=workflow or probe_workflow(), mock=mock))


def _events(eng: WorkflowEngine, run_id: str, *, scope_all: bool = False) -> list[dict[str, Any]]:
    view = eng.list_events("u", run_id, all_scope() if scope_all else None)
    return [msgspec.to_builtins(e) for e in view.events]


@pytest.fixture
def scenario() -> dict[str, Any]:
    """One probe run that writes all fifteen event types."""
    PROBES["explode"] = lambda inputs, ctx: (_ for _ in ()).throw(RuntimeError("kaboom"))
    eng = probe_engine()
    wf = probe_workflow()
    r = _start(eng, wf)
    run_id, pick = r.workflow_run_id, r.interaction_request.interaction_id
    out = {"eng": eng, "run_id": run_id, "wf": wf, "pick": pick}
    out["more"] = eng.run_sub_action("u", run_id, pick, "more", {"k": 1}, lambda e: None)
    out["boom"] = eng.run_sub_action("u", run_id, pick, "boom", {}, lambda e: None)
    r = eng.respond("u", run_id, pick, resp({"action_id": "again", "retry_feedback": "more"}))
    out["pick2"] = r.interaction_request.interaction_id
    r = eng.respond("u", run_id, out["pick2"], resp({"action_id": "back"}))
    out["pick3"] = r.interaction_request.interaction_id
    out["answer"] = resp({"selected_indices": [1]})
    r = eng.respond("u", run_id, out["pick3"], out["answer"])
    assert r.status == "completed"
    out["events"] = _events(eng, run_id, scope_all=True)
    PROBES["gen"] = lambda inputs, ctx: {"bad": object()}
    failed = _start(eng, probe_workflow("failing"))
    out["failed_events"] = _events(eng, failed.workflow_run_id)
    return out


def _one(events: list[dict[str, Any]], kind: str, **match: Any) -> dict[str, Any]:
    found = [e for e in events if e["event_type"] == kind
             and all(e.get(k) == v for k, v in match.items())]
    assert found, f"no {kind} {match}"
    return found[-1]


def test_eng_13_every_type_is_written_and_no_other(scenario: dict[str, Any]) -> None:
    kinds = {e["event_type"] for e in scenario["events"] + scenario["failed_events"]}
    assert kinds == ALL_TYPES


def test_eng_13_run_and_step_events(scenario: dict[str, Any]) -> None:
    ev, eng = scenario["events"], scenario["eng"]
    run = eng.store.get_run(scenario["run_id"])
    assert ev[0]["event_type"] == "workflow_created" and ev[0]["step_id"] is None
    assert ev[0]["data"] == {"project_name": "p", "workflow_template_name": "probe",
                             "workflow_template_id": run["workflow_template_id"],
                             "workflow_version_id": run["current_workflow_version_id"],
                             "mock": True, "reset": False, "parent_workflow_run_id": None,
                             "execution_id": None}
    assert _one(ev, "step_started", step_id="s1")["data"] == {"step_index": 0,
                                                              "step_name": "Step 1: First"}
    assert _one(ev, "step_started", step_id="s2")["data"] == {"step_index": 1,
                                                              "step_name": "Second"}
    assert _one(ev, "step_completed", step_id="s2")["data"] == {"step_index": 1}
    assert _one(ev, "workflow_completed")["data"] == {}
    started = _one(ev, "module_started", module_name="pick")
    config = scenario["wf"]["steps"][0]["modules"][1]
    digest = "sha256:" + __import__("hashlib").sha256(canonical_json(config)).hexdigest()
    assert started["data"] == {"module_id": "user.select", "module_index": 1,
                               "config_hash": digest}


def test_eng_13_interaction_events(scenario: dict[str, Any]) -> None:
    ev = scenario["events"]
    req = _one(ev, "interaction_requested", module_name="pick")
    data = req["data"]
    assert set(data) == {"interaction_id", "module_id", "module_index", "request",
                         "resolved_inputs", "resolver_schema", "module_state", "step_context"}
    assert data["interaction_id"] == scenario["pick3"] and data["module_id"] == "user.select"
    assert data["step_context"] == {"step_id": "s1", "step_name": "Step 1: First",
                                    "module_name": "pick", "module_index": 1}
    assert data["resolver_schema"] == {"type": "object",
                                       "properties": {"data": {"resolver": "server"}}}
    assert {"form_schema", "form_type", "form_defaults"} <= set(data["request"])
    assert data["request"]["context"] == {"module_id": "user.select", "step_id": "s1",
                                          "module_name": "pick"}
    assert data["resolved_inputs"]["data"] == [{"id": "a"}, {"id": "b"}]
    answer = _one(ev, "interaction_response", module_name="pick")
    full = msgspec.to_builtins(scenario["answer"])
    assert answer["data"] == {"interaction_id": scenario["pick3"], "module_id": "user.select",
                              "response": full, "response_hash": sha256_tag(full),
                              "intent": "continue", "action_id": None, "auto": False}
    assert set(full) == set(InteractionResponseData.__struct_fields__)  # defaults applied
    refreshed = _one(ev, "interaction_refreshed")
    assert set(refreshed["data"]) == {"interaction_id", "execution_id", "request",
                                      "resolved_inputs", "module_state"}
    assert refreshed["data"]["interaction_id"] == scenario["pick"]
    assert refreshed["data"]["execution_id"] == scenario["more"].execution_id
    assert refreshed["data"]["request"]["display_data"]["data"] == [{"id": "a"}, {"id": "b"},
                                                                   {"id": "c"}]


def test_eng_13_module_completed_and_error(scenario: dict[str, Any]) -> None:
    done = _one(scenario["events"], "module_completed", module_name="fin")
    assert done["data"] == {"module_id": "test.probe", "module_index": 0,
                            "outputs": {"x": "b"}, "state_mapped": {"final_x": "b"}}
    error = _one(scenario["failed_events"], "module_error")
    assert set(error["data"]) == {"module_id", "module_index", "phase", "error_type", "error"}
    assert (error["data"]["module_id"], error["data"]["module_index"], error["data"]["phase"],
            error["data"]["error_type"]) == ("test.probe", 0, "execute", "execution_failed")


def test_eng_13_retry_and_jump_events(scenario: dict[str, Any]) -> None:
    ev = scenario["events"]
    retry = _one(ev, "retry_requested")
    assert (retry["step_id"], retry["module_name"]) == ("s1", "gen")
    assert retry["data"] == {"target_step": "s1", "target_module": "gen", "feedback": "more",
                             "retry_groups": [], "source": "response",
                             "interaction_id": scenario["pick"], "option_id": "again"}
    jump = _one(ev, "jump_requested")
    assert (jump["step_id"], jump["module_name"]) == ("s1", "gen")
    assert jump["branch_id"] == jump["data"]["new_branch_id"] != jump["data"]["from_branch_id"]
    assert jump["data"] == {"target_step": "s1", "target_module": "gen",
                            "from_branch_id": jump["data"]["from_branch_id"],
                            "new_branch_id": jump["branch_id"], "source": "response",
                            "interaction_id": None, "step_started": True}


def test_eng_13_sub_action_events(scenario: dict[str, Any]) -> None:
    ev = scenario["events"]
    more, boom = scenario["more"], scenario["boom"]
    started = _one(ev, "sub_action_started", module_name="pick")
    assert started["data"] == {"execution_id": boom.execution_id, "sub_action_id": "boom",
                               "interaction_id": scenario["pick"], "kind": "target",
                               "params": {}}
    first = [e for e in ev if e["event_type"] == "sub_action_started"][0]
    assert first["data"]["params"] == {"k": 1}
    completed = _one(ev, "sub_action_completed")
    child = completed["data"]["child_workflow_run_id"]
    assert child.startswith("wf_sub_")
    assert completed["data"] == {"execution_id": more.execution_id, "sub_action_id": "more",
                                 "interaction_id": scenario["pick"], "kind": "target",
                                 "child_workflow_run_id": child,
                                 "result": {"more_items": {"items": [{"id": "c"}]}},
                                 "state_mapped": {"things": [{"id": "a"}, {"id": "b"},
                                                             {"id": "c"}]},
                                 "applied": True}
    failed = _one(ev, "sub_action_failed")
    assert set(failed["data"]) == {"execution_id", "sub_action_id", "interaction_id", "kind",
                                   "child_workflow_run_id", "error_type", "error"}
    assert failed["data"]["error_type"] == "execution_failed"
    assert "kaboom" in failed["data"]["error"]
    assert boom.status == "error" and boom.error_type == "execution_failed"


def test_eng_11_sequences_unique_and_contiguous(scenario: dict[str, Any]) -> None:
    """Across all branches of the run (the jump created a second branch)."""
    ev = scenario["events"]
    assert len({e["branch_id"] for e in ev}) == 2
    assert [e["sequence"] for e in ev] == list(range(1, len(ev) + 1))
    assert [e["event_id"] for e in ev] == sorted(e["event_id"] for e in ev)
    lineage = _events(scenario["eng"], scenario["run_id"])
    seqs = [e["sequence"] for e in lineage]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_eng_14_mock_mode_marks_every_event(scenario: dict[str, Any]) -> None:
    assert {e["provenance"] for e in scenario["events"]} == {"mock"}
    children = scenario["eng"].store.list_child_runs(scenario["run_id"])
    for child in children:
        assert {e["provenance"] for e in _events(scenario["eng"], child["workflow_run_id"])} \
            == {"mock"}


def test_eng_14_live_mode_with_auto_respond() -> None:
    """Live virtual call: only the auto answer's response and completion are `mock`."""
    eng = probe_engine(mode="virtual")
    r = eng.virtual_start(workflow=probe_workflow(), has_blob=False, run_id=None,
                          target=Target(step_id="s2", module_name="fin"), capabilities=[],
                          opts=ExecOptions(mock=False, auto_respond=AutoRespondConfig()))
    assert r.status == "completed", r
    assert r.result["auto_responses"][0]["accepted"] is True
    events = [msgspec.to_builtins(e) for e in eng.list_events(VIRTUAL_USER,
                                                              r.workflow_run_id).events]
    mock = [(e["event_type"], e["module_name"]) for e in events if e["provenance"] == "mock"]
    assert mock == [("interaction_response", "pick"), ("module_completed", "pick")]
    assert _one(events, "interaction_response")["data"]["auto"] is True
    assert eng.get_state_view(VIRTUAL_USER, r.workflow_run_id).mock_tainted is True


def test_eng_14_live_mode_without_auto_respond_is_live() -> None:
    eng = probe_engine()
    r = _start(eng, mock=False)
    r = eng.respond("u", r.workflow_run_id, r.interaction_request.interaction_id,
                    resp({"selected_indices": [0]}))
    assert r.status == "completed"
    events = _events(eng, r.workflow_run_id)
    assert {e["provenance"] for e in events} == {"live"}
    assert eng.get_state_view("u", r.workflow_run_id).mock_tainted is False


def test_eng_12_outputs_are_normalised() -> None:
    PROBES["gen"] = lambda inputs, ctx: {
        "items": [{"id": "a"}], "when": datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=timezone.utc),
        "pair": (1, (2, 3))}
    eng = probe_engine()
    r = _start(eng)
    done = _one(_events(eng, r.workflow_run_id), "module_completed", module_name="gen")
    assert done["data"]["outputs"] == {"items": [{"id": "a"}],
                                       "when": "2026-01-02T03:04:05.006Z", "pair": [1, [2, 3]]}
    assert done["data"]["state_mapped"] == {"things": [{"id": "a"}]}


def test_eng_12_non_json_output_fails_the_module() -> None:
    PROBES["gen"] = lambda inputs, ctx: {"x": {1, 2}}
    eng = probe_engine()
    r = _start(eng)
    assert r.status == "error" and r.result["error_type"] == "execution_failed"
    types = [e["event_type"] for e in _events(eng, r.workflow_run_id)]
    assert types == ["workflow_created", "step_started", "module_started", "module_error"]


def test_eng_12_oversized_outputs_fail_with_the_size_message() -> None:
    PROBES["gen"] = lambda inputs, ctx: {"items": ["x" * 5000]}
    eng = probe_engine(settings=EngineSettings(max_event_bytes=4096))
    r = _start(eng)
    assert r.status == "error" and r.result["error_type"] == "execution_failed"
    assert r.error == "module outputs exceed the size limit"
    events = _events(eng, r.workflow_run_id)
    assert [e["event_type"] for e in events][-1] == "module_error"
    assert events[-1]["data"]["error"] == "module outputs exceed the size limit"
    assert all(len(canonical_json(e["data"])) <= 4096 for e in events)


def test_eng_24_event_shapes_per_module_kind(scenario: dict[str, Any]) -> None:
    PROBES.clear()
    eng = probe_engine()
    r = _start(eng)
    r = eng.respond("u", r.workflow_run_id, r.interaction_request.interaction_id,
                    resp({"selected_indices": [0]}))
    lifecycle = {"module_started", "interaction_requested", "interaction_response",
                 "module_completed", "module_error"}
    per_module: dict[str, list[str]] = {}
    for e in _events(eng, r.workflow_run_id):
        if e["event_type"] in lifecycle:
            per_module.setdefault(e["module_name"], []).append(e["event_type"])
    assert per_module == {
        "gen": ["module_started", "module_completed"],
        "pick": ["module_started", "interaction_requested", "interaction_response",
                 "module_completed"],
        "fin": ["module_started", "module_completed"]}
    failed = [e["event_type"] for e in scenario["failed_events"] if e["module_name"] == "gen"]
    assert failed == ["module_started", "module_error"]  # a failed module never completes


def test_4_4_list_events_filters_and_limit(scenario: dict[str, Any]) -> None:
    from engine.wire import EventFilters

    eng, run_id = scenario["eng"], scenario["run_id"]
    view = eng.list_events("u", run_id, EventFilters(event_type="interaction_requested",
                                                     module_name="pick", limit=1))
    assert view.total_count == 2 and len(view.events) == 1  # lineage: pick2 cut, pick + pick3
    assert view.events[0].data["interaction_id"] == scenario["pick"]
    view = eng.list_events("u", run_id, EventFilters(scope="all", event_type="interaction_requested"))
    assert view.total_count == 3
    cut = view.events[1].sequence
    later = eng.list_events("u", run_id, EventFilters(scope="all", after_sequence=cut))
    assert all(e.sequence > cut for e in later.events) and later.events
    capped = eng.list_events("u", run_id, EventFilters(scope="all", limit=100000))
    assert len(capped.events) == len(scenario["events"])


def test_eng_46_production_runs_keep_their_mode() -> None:
    eng = probe_engine()
    r = _start(eng)  # a mock run
    r = eng.respond("u", r.workflow_run_id, r.interaction_request.interaction_id,
                    resp({"selected_indices": [0]}), ExecOptions(mock=False))
    assert r.status == "completed"
    assert {e["provenance"] for e in _events(eng, r.workflow_run_id)} == {"mock"}
