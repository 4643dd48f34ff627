"""Self sub-actions, the response half and write ordering (engine.md §1, §9.5, §13, §17):
ENG-6, ENG-12 (response half), ENG-33, ENG-34, ENG-48 (child modules), ENG-53 and the
auto-respond rejection rule of §14.3."""

from __future__ import annotations

import threading
from typing import Any, Iterator

import msgspec
import pytest

from engine.execution import ExecOptions
from engine.ports import CancelToken
from engine.processor import StartCommand, WorkflowEngine
from engine.virtual import VIRTUAL_PROJECT, VIRTUAL_USER
from engine.wire import AutoRespondConfig, Target
from tests.fakes_engine import PROBES, probe_engine, probe_workflow, resp


@pytest.fixture(autouse=True)
def _clean_probes() -> Iterator[None]:
    PROBES.clear()
    yield
    PROBES.clear()


def _workflow() -> dict[str, Any]:
    wf = probe_workflow()
    pick = wf["steps"][0]["modules"][1]
    pick["module_id"] = "test.select"
    pick["sub_actions"].append({"id": "self_gen", "label": "Self", "loading_label": "Working",
                                "actions": [{"type": "self_sub_action",
                                             "params": {"a": 1, "b": 2}}],
                                "result_mapping": [{"source": "v", "target": "things"}]})
    return wf


def _start(eng: WorkflowEngine, *, mock: bool = True) -> tuple[str, str]:
    r = eng.start(StartCommand(user_id="u", project_name="p", workflow=_workflow(), mock=mock))
    return r.workflow_run_id, r.interaction_request.interaction_id


def _events(eng: WorkflowEngine, run_id: str) -> list[Any]:
    return eng.list_events("u", run_id).events


def test_9_5_response_half_failure_keeps_the_answer_and_reruns_on_continue() -> None:
    PROBES["pick:response"] = lambda inputs, ctx: (_ for _ in ()).throw(RuntimeError("half"))
    eng = probe_engine()
    run_id, pick = _start(eng)
    r = eng.respond("u", run_id, pick, resp({"selected_indices": [0]}))
    assert r.status == "error" and r.result["error_type"] == "execution_failed"
    error = _events(eng, run_id)[-1]
    assert error.event_type == "module_error" and error.data["phase"] == "response"
    (record,) = eng.store.find_answers(run_id, pick)
    assert record["outcome"] == msgspec.to_builtins(r)
    PROBES.clear()
    r = eng.continue_run("u", run_id)
    assert r.status == "awaiting_input" and r.interaction_request.interaction_id != pick
    assert [e.event_type for e in _events(eng, run_id)][-2:] == ["module_started",
                                                                  "interaction_requested"]


def test_eng_12_non_json_response_half_fails_in_the_response_phase() -> None:
    PROBES["pick:response"] = lambda inputs, ctx: {"bad": object()}
    eng = probe_engine()
    run_id, pick = _start(eng)
    r = eng.respond("u", run_id, pick, resp({"selected_indices": [0]}))
    assert r.result["error_type"] == "execution_failed"
    error = _events(eng, run_id)[-1]
    assert (error.event_type, error.data["phase"]) == ("module_error", "response")


def test_13_3_self_sub_action_params_and_mode() -> None:
    seen: list[Any] = []
    PROBES["pick:sub_action"] = lambda params, ctx: (seen.append((dict(params), ctx.mock)),
                                                     {"v": [{"id": "z"}]})[1]
    for mock in (True, False):
        eng = probe_engine()
        run_id, pick = _start(eng, mock=mock)
        out = eng.run_sub_action("u", run_id, pick, "self_gen", {"b": 3, "c": 4}, lambda e: None)
        assert out.status == "completed" and out.updated_state == {"things": [{"id": "z"}]}
        assert out.applied and out.interaction_refreshed
        started = [e for e in _events(eng, run_id) if e.event_type == "sub_action_started"][0]
        assert started.data["kind"] == "self"
        completed = [e for e in _events(eng, run_id) if e.event_type == "sub_action_completed"][0]
        assert completed.data["child_workflow_run_id"] is None
        assert eng.store.list_child_runs(run_id) == []
    assert seen == [({"a": 1, "b": 3, "c": 4}, True), ({"a": 1, "b": 3, "c": 4}, False)]


def test_eng_53_sub_action_errors_are_sanitised_with_the_call_credentials() -> None:
    secret = "plain-secret-value-42"
    PROBES["pick:sub_action"] = lambda params, ctx: (_ for _ in ()).throw(
        RuntimeError(f"vendor said no to {ctx.credentials['leonardo_api_key']} "
                     "at /home/alice/app"))
    eng = probe_engine()
    run_id, pick = _start(eng)
    out = eng.run_sub_action("u", run_id, pick, "self_gen", {}, lambda e: None,
                             ExecOptions(credentials={"leonardo_api_key": secret}))
    assert out.status == "error" and out.error_type == "execution_failed"
    assert secret not in (out.message or "") and "***" in (out.message or "")
    assert "/home/alice" not in (out.message or "")
    failed = _events(eng, run_id)[-1]
    assert failed.event_type == "sub_action_failed"
    assert secret not in failed.data["error"] and "***" in failed.data["error"]
    assert secret not in msgspec.json.encode(eng.store.export()).decode()


def test_eng_34_long_sub_action_does_not_block_answering() -> None:
    """While a self sub-action works unlocked, the interaction is answered; the late result
    is recorded but not applied (§13.1 step 7)."""
    release, started = threading.Event(), threading.Event()

    def slow(params: dict[str, Any], ctx: Any) -> dict[str, Any]:
        started.set()
        assert release.wait(5)
        return {"v": [{"id": "late"}]}

    PROBES["pick:sub_action"] = slow
    eng = probe_engine()
    run_id, pick = _start(eng)
    out: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: out.update(o=eng.run_sub_action(
        "u", run_id, pick, "self_gen", {}, lambda e: None)))
    thread.start()
    assert started.wait(5)
    r = eng.respond("u", run_id, pick, resp({"selected_indices": [1]}))
    assert r.status == "completed"
    release.set()
    thread.join(5)
    o = out["o"]
    assert o.status == "completed" and o.applied is False and o.updated_state == {}
    done = [e for e in eng.list_events("u", run_id).events
            if e.event_type == "sub_action_completed"][0]
    assert done.data["applied"] is False and done.data["state_mapped"] == {}
    assert eng.get_state_view("u", run_id).state["things"] == [{"id": "a"}, {"id": "b"}]


def test_eng_48_cancel_before_a_child_module() -> None:
    eng = probe_engine()
    run_id, pick = _start(eng)
    token = CancelToken()
    token.cancel("user_cancelled")
    out = eng.run_sub_action("u", run_id, pick, "more", {}, lambda e: None,
                             ExecOptions(cancel=token))
    assert out.status == "cancelled" and out.error_type == "cancelled"
    failed = _events(eng, run_id)[-1]
    assert failed.event_type == "sub_action_failed" and failed.data["error_type"] == "cancelled"
    (child,) = eng.store.list_child_runs(run_id)
    assert [e.event_type for e in eng.list_events("u", child["workflow_run_id"]).events] == [
        "workflow_created"]
    assert eng.get_status("u", run_id).interaction_request.interaction_id == pick


def test_virtual_child_runs_and_identity() -> None:
    """§3.1: virtual runs and their children use the virtual prefixes, user and project."""
    eng = probe_engine(mode="virtual")
    r = eng.virtual_start(workflow=_workflow(), has_blob=False, run_id=None,
                          target=Target(step_id="s2", module_name="fin"), capabilities=[],
                          opts=ExecOptions(mock=True))
    run = eng.store.get_run(r.workflow_run_id)
    assert r.workflow_run_id.startswith("virtual_") and len(r.workflow_run_id) == 40
    assert (run["user_id"], run["project_name"]) == (VIRTUAL_USER, VIRTUAL_PROJECT)
    out = eng.run_sub_action(VIRTUAL_USER, r.workflow_run_id, r.interaction_request.interaction_id,
                             "more", {}, lambda e: None)
    (child,) = eng.store.list_child_runs(r.workflow_run_id)
    assert child["workflow_run_id"].startswith("virtual_sub_") and out.status == "completed"
    assert child["user_id"] == VIRTUAL_USER and child["parent_workflow_run_id"] == run[
        "workflow_run_id"]


def test_14_3_any_rejected_auto_answer_leaves_the_interaction_pending() -> None:
    eng = probe_engine(mode="virtual")
    scripted = msgspec.convert({"answers": {"pick": {"jump_back_requested": True,
                                                     "jump_back_target": "nowhere"}}},
                               AutoRespondConfig)
    r = eng.virtual_start(workflow=_workflow(), has_blob=False, run_id=None,
                          target=Target(step_id="s2", module_name="fin"), capabilities=[],
                          opts=ExecOptions(mock=True, auto_respond=scripted))
    assert r.status == "awaiting_input"
    assert r.interaction_request.context["module_name"] == "pick"
    (entry,) = r.result["auto_responses"]
    assert entry["accepted"] is False
    types = [e.event_type for e in eng.list_events(VIRTUAL_USER, r.workflow_run_id).events]
    assert "interaction_response" not in types


class WriteLog:
    """Records the names of store write calls (ENG-6)."""

    READS = ("get_", "find_", "list_", "lineage_events", "events_from", "run_and_events_from",
             "max_sequence", "top_level_runs", "aggregate_keywords", "export", "run_table_query",
             "flush")  # flush only makes writes a store held back (none here)

    def __init__(self, inner: Any) -> None:
        self.inner, self.calls = inner, []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if name.startswith(self.READS) or name in self.READS or not callable(attr):
            return attr

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return attr(*args, **kwargs)

        return wrapped


def test_eng_6_the_first_write_of_every_run_operation_is_an_event() -> None:
    eng = probe_engine()
    run_id, pick = _start(eng)
    log = WriteLog(eng.store)
    eng.store = log
    operations = [
        lambda: eng.run_sub_action("u", run_id, pick, "more", {}, lambda e: None),
        lambda: eng.respond("u", run_id, pick, resp({"action_id": "again"})),
        lambda: eng.retry("u", run_id, "gen", "x"),
        lambda: eng.jump("u", run_id, "s1", "gen"),
        lambda: eng.respond("u", run_id, eng.get_status("u", run_id).interaction_request.
                            interaction_id, resp({"selected_indices": [0]})),
        lambda: eng.jump_to_interaction("u", run_id, eng.get_interaction_history(
            "u", run_id).interactions[-1].interaction_id),
        lambda: eng.reset("u", run_id),
        lambda: eng.continue_run("u", run_id),
    ]
    for op in operations:
        log.calls.clear()
        op()
        assert log.calls and log.calls[0] == "append_event", log.calls


def test_13_5_failed_refresh_keeps_the_previous_request() -> None:
    PROBES["pick:sub_action"] = lambda params, ctx: {"v": "not a list"}
    eng = probe_engine()
    run_id, pick = _start(eng)
    before = eng.get_interaction_data("u", run_id, pick)
    out = eng.run_sub_action("u", run_id, pick, "self_gen", {}, lambda e: None)
    assert out.status == "completed" and out.applied is True
    assert out.updated_state == {"things": "not a list"}
    assert out.interaction_refreshed is False
    types = [e.event_type for e in _events(eng, run_id)]
    assert types[-2:] == ["sub_action_started", "sub_action_completed"]  # no refresh event
    after = eng.get_interaction_data("u", run_id, pick)
    assert msgspec.json.encode(after) == msgspec.json.encode(before)
    assert eng.get_status("u", run_id).interaction_request.interaction_id == pick


@pytest.mark.parametrize("action,error_type", [
    ({"type": "target_sub_action", "module_id": "user.select", "name": "x"},
     "unsupported_module_type"),
    ({"type": "target_sub_action", "module_id": "pipeline.execution_groups", "name": "x"},
     "unsupported_module_type"),
    ({"type": "target_sub_action", "module_id": "no.such", "name": "x"}, "module_not_registered"),
    ({"type": "target_sub_action", "ref": {"step_id": "s9", "module_name": "gen"}},
     "step_not_found"),
    ({"type": "target_sub_action", "ref": {"step_id": "s1", "module_name": "nine"}},
     "module_not_found"),
])
def test_13_2_target_actions_that_cannot_run(action: dict[str, Any], error_type: str) -> None:
    wf = _workflow()
    wf["steps"][0]["modules"][1]["sub_actions"].append({"id": "bad", "label": "Bad",
                                                        "actions": [action]})
    eng = probe_engine()
    r = eng.start(StartCommand(user_id="u", project_name="p", workflow=wf, mock=True))
    out = eng.run_sub_action("u", r.workflow_run_id, r.interaction_request.interaction_id, "bad",
                             {}, lambda e: None)
    assert out.status == "error" and out.error_type == error_type
    failed = _events(eng, r.workflow_run_id)[-1]
    assert failed.event_type == "sub_action_failed" and failed.data["error_type"] == error_type


def test_13_2_ref_actions_merge_inputs_and_overrides() -> None:
    seen: list[dict[str, Any]] = []
    PROBES["regen"] = lambda inputs, ctx: (seen.append(dict(inputs)), {"items": [{"id": "n"}]})[1]
    wf = _workflow()
    wf["steps"][0]["modules"][0]["inputs"]["extra"] = {"x": 1, "y": 2}
    wf["steps"][0]["modules"][1]["sub_actions"].append({
        "id": "regen", "label": "Regen", "actions": [{
            "type": "target_sub_action", "ref": {"step_id": "s1", "module_name": "gen"},
            "name": "regen", "inputs": {"extra": {"y": 3}},
            "overrides": {"outputs_to_state": {"items": "regen_items"}}}]})
    eng = probe_engine()
    r = eng.start(StartCommand(user_id="u", project_name="p", workflow=wf, mock=True))
    out = eng.run_sub_action("u", r.workflow_run_id, r.interaction_request.interaction_id,
                             "regen", {}, lambda e: None)
    assert out.status == "completed"
    assert seen == [{"items": [{"id": "a"}, {"id": "b"}], "extra": {"x": 1, "y": 3}}]
    assert out.sub_action_result == {"regen": {"items": [{"id": "n"}]},
                                     "regen_items": [{"id": "n"}]}
