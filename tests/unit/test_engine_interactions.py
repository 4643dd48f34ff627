"""Answering, retry, jump, sub-actions, targets and auto-respond (engine.md §9–§14, §18):
ENG-5, ENG-26…41, ENG-50, ENG-51 and the option validations of §9.3."""

from __future__ import annotations

from typing import Any, Iterator

import msgspec
import pytest

from engine.errors import (
    ConcurrentModification,
    ExecutionFailed,
    InteractionAlreadyAnswered,
    InteractionNotFound,
    InteractionNotPending,
)
from engine.execution import ExecOptions
from engine.processor import StartCommand, WorkflowEngine
from engine.settings import EngineSettings
from engine.sub_actions import apply_result_mapping
from engine.wire import AutoRespondConfig, Target
from tests.fakes_engine import PROBES, all_scope, probe_engine, probe_workflow, resp


@pytest.fixture(autouse=True)
def _clean_probes() -> Iterator[None]:
    PROBES.clear()
    yield
    PROBES.clear()


def _start(eng: WorkflowEngine, wf: dict[str, Any] | None = None, **kw: Any) -> str:
    r = eng.start(StartCommand(user_id="u", project_name="p", workflow=wf or probe_workflow(),
                               mock=True, **kw))
    return r.workflow_run_id


def _pending(eng: WorkflowEngine, run_id: str) -> str:
    req = eng.get_status("u", run_id).interaction_request
    assert req is not None
    return req.interaction_id


def _types(eng: WorkflowEngine, run_id: str) -> list[str]:
    return [e.event_type for e in eng.list_events("u", run_id).events]


def _snap(eng: WorkflowEngine) -> Any:
    return eng.store.export()  # type: ignore[attr-defined]


# ---------------------------------------------------------------------- rejection (ENG-5/26)


@pytest.mark.parametrize("body,status,error_type", [
    ({"selected_indices": [9]}, "validation_failed", None),
    ({"cancelled": True, "selected_indices": [0]}, "error", "cancelled"),
    ({"jump_back_requested": True, "jump_back_target": "nowhere"}, "error", "module_not_found"),
    ({"action_id": "strict", "selected_indices": [0]}, "validation_failed", None),
])
def test_eng_5_eng_26_rejected_answers_write_nothing(body: dict[str, Any], status: str,
                                                      error_type: str | None) -> None:
    eng = probe_engine()
    run_id = _start(eng)
    pick = _pending(eng, run_id)
    before = _snap(eng)
    r = eng.respond("u", run_id, pick, resp(body),
                    ExecOptions(ai_config={"provider": "anthropic"}))
    assert r.status == status
    if error_type:
        assert r.result["error_type"] == error_type
    if error_type == "cancelled":
        assert r.error == "Interaction cancelled by user"
    assert _snap(eng) == before  # no event, no answer record, no run update, no ai_config
    assert eng.get_status("u", run_id).status == "awaiting_input"
    assert _pending(eng, run_id) == pick
    ok = eng.respond("u", run_id, pick, resp({"selected_indices": [0]}))
    assert ok.status == "completed"


def test_eng_5_missing_retry_option_writes_nothing(cuddle_workflow: dict[str, Any]) -> None:
    from tests.fakes_engine import Walk

    w = Walk(cuddle_workflow)
    before = w.snapshot()
    r = w.eng.respond("alice", w.run_id, w.iid, resp({"retry_requested": True}))
    assert r.status == "error" and r.result["error_type"] == "invalid_target"
    assert r.error == "Module 'select_pet_type' has no retry option"
    assert w.snapshot() == before


# ---------------------------------------------------------------------- intent (ENG-27/28)


def test_eng_27_custom_values_and_options_never_retry() -> None:
    eng = probe_engine()
    run_id = _start(eng)
    r = eng.respond("u", run_id, _pending(eng, run_id), resp({
        "selected_indices": [0], "custom_value": "retry",
        "selected_options": [{"id": "retry", "retry_requested": True, "mode": "retry"}]}))
    assert r.status == "completed"
    answer = next(e for e in eng.list_events("u", run_id).events
                  if e.event_type == "interaction_response")
    assert answer.data["intent"] == "continue"
    assert "retry_requested" not in _types(eng, run_id)


def test_eng_28_pattern_mismatch_is_a_validation_failure() -> None:
    wf = {"workflow_id": "text", "steps": [{"step_id": "s", "modules": [{
        "module_id": "user.text_input", "name": "ask",
        "inputs": {"prompt": "Word?", "validation_pattern": "[a-z]+",
                   "retry_trigger_keyword": "r"}}]}]}
    eng = probe_engine()
    run_id = _start(eng, wf)
    before = _snap(eng)
    r = eng.respond("u", run_id, _pending(eng, run_id), resp({"value": "r 1"}))
    assert r.status == "validation_failed"
    assert [(e.id, e.rule) for e in r.validation_errors] == [("validation_pattern",
                                                              "validation_pattern")]
    assert _snap(eng) == before
    r = eng.respond("u", run_id, _pending(eng, run_id), resp({"value": "r"}))
    assert r.status == "completed" and r.result["ask"]["value"] == "r"
    assert "retry_requested" not in _types(eng, run_id)


# ---------------------------------------------------------------------- §9.3 option validations


def test_9_3_server_option_validations_and_confirmed_warnings() -> None:
    eng = probe_engine()
    run_id = _start(eng)
    pick = _pending(eng, run_id)
    r = eng.respond("u", run_id, pick, resp({"action_id": "strict", "selected_indices": [0]}))
    assert r.status == "validation_failed"
    assert [msgspec.to_builtins(e) for e in r.validation_errors] == [{
        "id": "need_value", "field": "value", "rule": "response_field_required",
        "message": "Value needed", "severity": "error"}]  # the webui-only rule is not evaluated
    assert [w.id for w in r.validation_warnings] == ["warn_custom"]
    r = eng.respond("u", run_id, pick, resp({"action_id": "strict", "selected_indices": [0],
                                             "value": "v"}))
    assert r.status == "validation_failed" and r.validation_errors == []
    assert [w.id for w in r.validation_warnings] == ["warn_custom"]
    r = eng.respond("u", run_id, pick, resp({"action_id": "strict", "selected_indices": [0],
                                             "value": "v", "confirmed_warnings": ["warn_custom"]}))
    assert r.status == "completed"


# ---------------------------------------------------------------------- retry (ENG-29/30)


def _counting_gen() -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    def gen(inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
        seen.append(dict(ctx.state))
        return {"items": [{"id": "a"}, {"id": "b"}], "response": f"draft{len(seen)}"}

    PROBES["gen"] = gen
    return seen


def test_eng_29_retry_stays_on_the_branch_and_supersedes() -> None:
    _counting_gen()
    eng = probe_engine()
    run_id = _start(eng)
    branch = eng.store.get_run(run_id)["current_branch_id"]
    first = _pending(eng, run_id)
    r = eng.retry("u", run_id, "gen", "api feedback")
    assert eng.store.get_run(run_id)["current_branch_id"] == branch
    assert r.interaction_request.interaction_id != first
    assert eng.get_state_view("u", run_id).state["gen"]["response"] == "draft2"
    with pytest.raises(InteractionNotPending):
        eng.respond("u", run_id, first, resp({"selected_indices": [0]}))
    retry = [e for e in eng.list_events("u", run_id).events if e.event_type == "retry_requested"]
    assert retry[0].data["source"] == "api" and retry[0].data["feedback"] == "api feedback"
    assert retry[0].data["interaction_id"] is None and retry[0].data["option_id"] is None


def test_eng_30_history_only_from_the_lineage() -> None:
    seen = _counting_gen()
    eng = probe_engine()
    run_id = _start(eng)                                            # draft1
    eng.respond("u", run_id, _pending(eng, run_id),                 # draft2 (retry f1)
                resp({"action_id": "again", "retry_feedback": "f1"}))
    assert seen[1]["_retry_conversation_history"] == [
        {"role": "assistant", "content": "draft1"},
        {"role": "user", "content": "FEEDBACK FROM USER: f1"}]
    eng.respond("u", run_id, _pending(eng, run_id), resp({"selected_indices": [0]}))
    eng.jump("u", run_id, "s1", "gen")                              # draft3 on a new branch
    assert "_retry_conversation_history" not in seen[2]
    eng.respond("u", run_id, _pending(eng, run_id),                 # draft4 (retry f2)
                resp({"retry_requested": True, "retry_feedback": "f2"}))
    assert seen[3]["_retry_conversation_history"] == [
        {"role": "assistant", "content": "draft1"},
        {"role": "user", "content": "FEEDBACK FROM USER: f1"},
        {"role": "assistant", "content": "draft3"},
        {"role": "user", "content": "FEEDBACK FROM USER: f2"}]
    assert seen[3]["_retry_feedback"] == "f2"


def test_retry_scope_is_the_current_step() -> None:
    eng = probe_engine()
    run_id = _start(eng)
    eng.respond("u", run_id, _pending(eng, run_id), resp({"selected_indices": [0]}))
    before = _snap(eng)
    r = eng.retry("u", run_id, "gen", None)  # completed run
    assert r.status == "error" and r.result["error_type"] == "invalid_target"
    assert _snap(eng) == before


# ---------------------------------------------------------------------- jumps (ENG-31/32)


def test_eng_31_jump_back_forks_and_renews_the_interaction() -> None:
    eng = probe_engine()
    run_id = _start(eng)
    first = _pending(eng, run_id)
    eng.respond("u", run_id, first, resp({"selected_indices": [1]}))
    r = eng.jump("u", run_id, "s1", "pick")
    assert r.interaction_request.interaction_id != first
    assert "picked" not in eng.get_state_view("u", run_id).state
    assert eng.get_interaction_history("u", run_id).interactions == []
    with pytest.raises(InteractionAlreadyAnswered):  # answered on the abandoned branch
        eng.respond("u", run_id, first, resp({"selected_indices": [0]}))


def test_jump_after_the_position_is_invalid() -> None:
    eng = probe_engine()
    run_id = _start(eng)
    before = _snap(eng)
    r = eng.jump("u", run_id, "s2", "fin")
    assert r.status == "error" and r.result["error_type"] == "invalid_target"
    r = eng.jump("u", run_id, "nope", "fin")
    assert r.status == "error" and r.result["error_type"] == "step_not_found"
    assert _snap(eng) == before


def test_eng_32_jump_to_interaction_runs_nothing() -> None:
    calls: list[int] = []
    PROBES["gen"] = lambda inputs, ctx: (calls.append(1), {"items": [{"id": "a"}]})[1]
    eng = probe_engine()
    run_id = _start(eng)
    pick = _pending(eng, run_id)
    before = _snap(eng)
    r = eng.jump_to_interaction("u", run_id, pick)  # already pending: nothing written
    assert r.interaction_request.interaction_id == pick and _snap(eng) == before
    eng.respond("u", run_id, pick, resp({"selected_indices": [0]}))
    count = len(eng.list_events("u", run_id, all_scope()).events)
    r = eng.jump_to_interaction("u", run_id, pick)
    events = eng.list_events("u", run_id, all_scope()).events
    assert [e.event_type for e in events[count:]] == ["jump_requested"]
    assert calls == [1] and r.interaction_request.interaction_id == pick
    r = eng.respond("u", run_id, pick, resp({"selected_indices": [0]}))
    assert r.status == "completed"  # applied to pick on the new lineage
    with pytest.raises(InteractionNotFound):
        eng.jump_to_interaction("u", run_id, "select_" + "0" * 32)


def test_jump_to_a_superseded_interaction_is_invalid() -> None:
    eng = probe_engine()
    run_id = _start(eng)
    first = _pending(eng, run_id)
    eng.retry("u", run_id, "gen", None)
    r = eng.jump_to_interaction("u", run_id, first)
    assert r.status == "error" and r.result["error_type"] == "invalid_target"


# ---------------------------------------------------------------------- sub-actions


def test_eng_33_mock_sub_action_never_calls_a_live_llm(cuddle_workflow: dict[str, Any]) -> None:
    from tests.conftest import make_engine
    from tests.fakes_engine import RecordingProviders, Walk

    providers = RecordingProviders()
    w = Walk(cuddle_workflow, eng=make_engine(providers=providers))
    w.answer_script(until="select_scene")
    views = len(providers.views)
    out = w.sub_action("regenerate_scenes", {"feedback": "beach"})
    assert out.status == "completed"  # a live constructor would have raised
    assert providers.views[views:] and all(providers.views[views:])


@pytest.mark.parametrize("mapping,expected", [
    ([{"source": "v", "target": "a.b", "mode": "replace"}],
     {"a": {"b": 9, "keep": 1, "list": [0]}}),
    ([{"source": "l", "target": "a.list", "mode": "merge"}], {"a": {"keep": 1, "list": [0, 1]}}),
    ([{"source": "l", "target": "none", "mode": "merge"}], {"none": [1]}),
    ([{"source": "missing", "target": "x", "mode": "replace"}], {"x": None}),
    ([{"source": "v", "target": "a.b"}, {"source": "v", "target": "a.c.d"}],
     {"a": {"keep": 1, "list": [0], "b": 9, "c": {"d": 9}}}),
])
def test_eng_35_result_mapping(mapping: list[dict[str, Any]], expected: dict[str, Any]) -> None:
    state = {"a": {"keep": 1, "list": [0]}, "none": None}
    result = {"v": 9, "l": [1]}
    assert apply_result_mapping(state, result, mapping) == expected
    assert state == {"a": {"keep": 1, "list": [0]}, "none": None}  # the state is not modified


def test_eng_35_merge_requires_arrays() -> None:
    with pytest.raises(ExecutionFailed, match="merge requires arrays at 'a.keep'"):
        apply_result_mapping({"a": {"keep": 1}}, {"l": [1]},
                             [{"source": "l", "target": "a.keep", "mode": "merge"}])


def test_eng_36_eng_37_merged_data_is_selectable_and_reads_are_pure() -> None:
    eng = probe_engine()
    run_id = _start(eng)
    pick = _pending(eng, run_id)
    out = eng.run_sub_action("u", run_id, pick, "more", {}, lambda e: None)
    assert out.applied and out.interaction_refreshed
    PROBES["gen"] = lambda inputs, ctx: (_ for _ in ()).throw(AssertionError("no module runs"))
    before = _snap(eng)
    data = eng.get_interaction_data("u", run_id, pick)
    assert data.display_data["data"] == [{"id": "a"}, {"id": "b"}, {"id": "c"}]
    assert data.interaction_request.interaction_id == pick
    assert _snap(eng) == before
    with pytest.raises(InteractionNotFound):
        eng.get_interaction_data("u", run_id, "select_" + "1" * 32)
    r = eng.respond("u", run_id, pick, resp({"selected_indices": [2]}))
    assert r.result["picked"] == {"id": "c"} and r.result["final_x"] == "c"


def test_sub_action_checks_write_nothing() -> None:
    eng = probe_engine()
    run_id = _start(eng)
    pick = _pending(eng, run_id)
    before = _snap(eng)
    out = eng.run_sub_action("u", run_id, pick, "nope", {}, lambda e: None)
    assert out.status == "error" and out.error_type == "module_not_found"
    assert out.message == "Sub-action 'nope' not found"
    with pytest.raises(InteractionNotFound):
        eng.run_sub_action("u", run_id, "select_" + "2" * 32, "more", {}, lambda e: None)
    assert _snap(eng) == before
    eng.retry("u", run_id, "gen", None)
    with pytest.raises(InteractionNotPending):
        eng.run_sub_action("u", run_id, pick, "more", {}, lambda e: None)


# ---------------------------------------------------------------------- targets (ENG-38/39/40)


def _virtual(target: str, wf: dict[str, Any] | None = None) -> tuple[WorkflowEngine, Any]:
    eng = probe_engine(mode="virtual")
    r = eng.virtual_start(workflow=wf or probe_workflow(), has_blob=False, run_id=None,
                          target=Target(step_id="s1", module_name=target), capabilities=[],
                          opts=ExecOptions(mock=True))
    return eng, r


def test_eng_38_eng_39_targets_forward_and_back() -> None:
    calls: list[int] = []
    PROBES["gen"] = lambda inputs, ctx: (calls.append(1), {"items": [{"id": str(len(calls))}]})[1]
    eng, r = _virtual("gen")
    assert r.status == "completed" and r.result["module_outputs"] == {"items": [{"id": "1"}]}
    assert r.result["workflow_completed"] is False
    run_id = r.workflow_run_id
    r = eng.run_to_target("virtual_user_001", run_id, Target(step_id="s1", module_name="pick"))
    assert r.status == "awaiting_input" and calls == [1]  # gen not re-executed
    r = eng.run_to_target("virtual_user_001", run_id, Target(step_id="s1", module_name="gen"))
    assert r.status == "completed" and calls == [1, 1]  # behind: forked, only gen again
    branch = eng.store.get_branch(eng.store.get_run(run_id)["current_branch_id"])
    assert branch["fork_reason"] == "target"


def test_eng_40_respond_with_the_answered_module_as_target() -> None:
    eng, r = _virtual("pick")
    run_id = r.workflow_run_id
    r = eng.respond("virtual_user_001", run_id, r.interaction_request.interaction_id,
                    resp({"selected_indices": [1]}),
                    ExecOptions(mock=True, target=Target(step_id="s1", module_name="pick")))
    assert r.status == "completed"
    assert r.result["module_outputs"]["selected_data"] == {"id": "b"}
    assert r.result["target"] == {"step_id": "s1", "module_name": "pick"}
    assert r.result["workflow_completed"] is False
    assert _types_v(eng, run_id)[-1] == "step_completed"  # bookkeeping after the target


def _types_v(eng: WorkflowEngine, run_id: str) -> list[str]:
    return [e.event_type for e in eng.list_events("virtual_user_001", run_id).events]


def test_eng_40_respond_with_a_target_behind_forks() -> None:
    eng, r = _virtual("pick")
    run_id = r.workflow_run_id
    r = eng.respond("virtual_user_001", run_id, r.interaction_request.interaction_id,
                    resp({"selected_indices": [1]}),
                    ExecOptions(mock=True, target=Target(step_id="s1", module_name="gen")))
    assert r.status == "completed" and r.result["target"]["module_name"] == "gen"
    assert eng.store.get_branch(eng.store.get_run(run_id)["current_branch_id"])[
        "fork_reason"] == "target"


# ---------------------------------------------------------------------- auto-respond (ENG-41)


def test_eng_41_auto_answers_are_validated_recorded_and_limited() -> None:
    eng = probe_engine(mode="virtual")
    bad = msgspec.convert({"answers": {"pick": {"selected_indices": [7]}}}, AutoRespondConfig)
    r = eng.virtual_start(workflow=probe_workflow(), has_blob=False, run_id=None,
                          target=Target(step_id="s2", module_name="fin"), capabilities=[],
                          opts=ExecOptions(mock=True, auto_respond=bad))
    assert r.status == "awaiting_input"
    (entry,) = r.result["auto_responses"]
    assert entry["accepted"] is False and entry["validation_errors"][0]["id"] == "selection_invalid"
    assert "interaction_response" not in _types_v(eng, r.workflow_run_id)
    from engine.settings import EngineSettings

    eng = probe_engine(mode="virtual", settings=EngineSettings(max_auto_responses=0))
    r = eng.virtual_start(workflow=probe_workflow(), has_blob=False, run_id=None,
                          target=Target(step_id="s2", module_name="fin"), capabilities=[],
                          opts=ExecOptions(mock=True, auto_respond=AutoRespondConfig()))
    assert r.status == "awaiting_input" and r.result["auto_responses"] == []


# ---------------------------------------------------------------------- ENG-50, ENG-51


def test_eng_50_order_of_pending_checks() -> None:
    eng = probe_engine()
    run_id = _start(eng)
    x = _pending(eng, run_id)
    retry = resp({"action_id": "again"})
    first = eng.respond("u", run_id, x, retry)
    y = first.interaction_request.interaction_id
    assert msgspec.json.encode(eng.respond("u", run_id, x, retry)) == msgspec.json.encode(first)
    with pytest.raises(InteractionAlreadyAnswered):
        eng.respond("u", run_id, x, resp({"selected_indices": [0]}))
    eng.retry("u", run_id, "gen", None)  # y superseded without an answer
    with pytest.raises(InteractionNotPending):
        eng.respond("u", run_id, y, resp({"selected_indices": [0]}))
    answers = eng.store.find_answers(run_id, x)
    assert len(answers) == 1 and answers[0]["outcome"] == msgspec.to_builtins(first)


class StaleSequence:
    """A store whose `max_sequence` lags once, as if another process wrote first (ENG-51).
    (With the caches on the sequence comes from the run's fold check instead: the same race is
    tested in tests/unit/test_fold_cache.py.)"""

    def __init__(self, inner: Any) -> None:
        self.inner, self.armed = inner, False

    def max_sequence(self, run_id: str) -> int:
        value = self.inner.max_sequence(run_id)
        if self.armed:
            self.armed = False
            return value - 1
        return value

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_eng_51_lost_race_writes_nothing() -> None:
    eng = probe_engine(settings=EngineSettings(caches=False))
    run_id = _start(eng)
    pick = _pending(eng, run_id)
    eng.store = StaleSequence(eng.store)
    before = eng.store.inner.export()
    eng.store.armed = True
    with pytest.raises(ConcurrentModification) as exc:
        eng.respond("u", run_id, pick, resp({"selected_indices": [0]}))
    assert exc.value.error_type == "concurrent_modification"
    assert eng.store.inner.export() == before
    assert eng.respond("u", run_id, pick, resp({"selected_indices": [0]})).status == "completed"
