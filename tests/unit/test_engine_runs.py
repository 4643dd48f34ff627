"""Runs as a whole (engine.md §2, §3, §15, §17): production start rules, versions and execution
groups (WF-19…21), resume, reset, delete (ENG-43), ownership (ENG-7), the run projection
(ENG-9), AI config stripping (ENG-10) and cancellation (ENG-48, ENG-49)."""

from __future__ import annotations

import copy
import threading
from typing import Any, Iterator

import msgspec
import pytest

from engine.clock import iso_z
from engine.errors import MockNotAllowed, NotFound, WorkflowInvalid
from engine.execution import ExecOptions
from engine.ports import CancelToken
from engine.processor import StartCommand, WorkflowEngine
from engine.wire import Target
from tests.acceptance.script_a import IMAGE_PARAMS
from tests.conftest import make_engine
from tests.fakes import FakeLLMProvider, FakeProviderSet, llm_result
from tests.fakes_engine import PROBES, Walk, all_scope, probe_engine, probe_workflow, resp


@pytest.fixture(autouse=True)
def _clean_probes() -> Iterator[None]:
    PROBES.clear()
    yield
    PROBES.clear()


def _cmd(wf: dict[str, Any] | None = None, **kw: Any) -> StartCommand:
    return StartCommand(user_id="u", project_name=kw.pop("project_name", "p"),
                        workflow=wf or probe_workflow(), mock=kw.pop("mock", True), **kw)


def _count(eng: WorkflowEngine, run_id: str) -> int:
    return eng.list_events("u", run_id, all_scope()).total_count


def _edited() -> dict[str, Any]:
    wf = probe_workflow()
    wf["steps"][0]["modules"][1]["inputs"]["prompt"] = "Pick another"
    return wf


# ---------------------------------------------------------------------- §15.2 production start


def test_15_2_same_hash_returns_the_pending_interaction() -> None:
    eng = probe_engine()
    first = eng.start(_cmd())
    count = _count(eng, first.workflow_run_id)
    again = eng.start(_cmd())
    assert again.workflow_run_id == first.workflow_run_id and again.status == "awaiting_input"
    assert again.interaction_request.interaction_id == first.interaction_request.interaction_id
    assert _count(eng, first.workflow_run_id) == count


def test_15_2_changed_hash_needs_confirmation_then_points_at_the_new_version() -> None:
    eng = probe_engine()
    first = eng.start(_cmd())
    run_id = first.workflow_run_id
    old_version = eng.store.get_run(run_id)["current_workflow_version_id"]
    count = _count(eng, run_id)
    r = eng.start(_cmd(_edited()))
    assert (r.status, r.workflow_run_id) == ("created", run_id)
    assert r.message == "Workflow version changed - confirmation required"
    assert r.result["requires_confirmation"] is True
    assert r.result["old_hash"] != r.result["new_hash"]
    assert r.result["version_diff"]["has_changes"] is True
    assert [(c["type"], c["path"]) for c in r.result["version_diff"]["changes"]] == [
        ("changed", "steps.s1.modules.pick")]
    assert r.result["version_diff"]["summary"] == "1 change(s)"
    assert _count(eng, run_id) == count
    assert eng.store.get_run(run_id)["current_workflow_version_id"] == old_version
    history = len(eng.store.list_version_history(run_id))
    r = eng.start(_cmd(_edited(), confirm=True))
    assert r.status == "awaiting_input" and r.workflow_run_id == run_id
    assert r.interaction_request.interaction_id == first.interaction_request.interaction_id
    assert eng.store.get_run(run_id)["current_workflow_version_id"] != old_version
    rows = eng.store.list_version_history(run_id)
    assert len(rows) == history + 1
    assert rows[-1]["workflow_version_id"] == eng.store.get_run(run_id)["current_workflow_version_id"]


def test_15_2_force_new_resets_the_active_run() -> None:
    eng = probe_engine()
    first = eng.start(_cmd())
    run_id = first.workflow_run_id
    # new content differs from the template's latest version: asked first, even with force_new
    asked = eng.start(_cmd(_edited(), force_new=True))
    assert asked.status == "created" and asked.result["requires_confirmation"] is True
    r = eng.start(_cmd(_edited(), force_new=True, confirm=True))
    assert r.workflow_run_id == run_id and r.status == "awaiting_input"
    assert r.interaction_request.interaction_id != first.interaction_request.interaction_id
    assert r.interaction_request.title == "Pick another"
    lineage = eng.list_events("u", run_id).events
    assert lineage[0].event_type == "workflow_created" and lineage[0].data["reset"] is True
    branch = eng.store.get_branch(eng.store.get_run(run_id)["current_branch_id"])
    assert branch["fork_reason"] == "reset"


def test_15_2_new_project_asks_when_the_template_has_a_newer_version() -> None:
    """Issue 10: like the web UI's server, a start compares against the template's latest
    source version, not only against an active run of the same project."""
    eng = probe_engine()
    first = eng.start(_cmd())
    asked = eng.start(_cmd(_edited(), project_name="another"))
    assert (asked.status, asked.workflow_run_id) == ("created", "")
    assert asked.result["old_hash"] == eng.store.get_version(
        eng.store.get_run(first.workflow_run_id)["current_workflow_version_id"])["content_hash"]
    assert [c["path"] for c in asked.result["version_diff"]["changes"]] == ["steps.s1.modules.pick"]
    template_id = eng.store.get_run(first.workflow_run_id)["workflow_template_id"]
    assert len(eng.store.list_versions(template_id, ["raw", "unresolved"], 10)) == 1  # nothing stored
    started = eng.start(_cmd(_edited(), project_name="another", confirm=True))
    assert started.status == "awaiting_input" and started.workflow_run_id != first.workflow_run_id
    assert len(eng.store.list_versions(template_id, ["raw", "unresolved"], 10)) == 2
    # the same (now latest) content again goes ahead without asking
    again = eng.start(_cmd(_edited(), project_name="third"))
    assert again.status == "awaiting_input"


def test_15_2_mock_refusal_and_eng_8_one_active_run_per_mode() -> None:
    eng = probe_engine()
    with pytest.raises(MockNotAllowed):
        eng.start(_cmd(allow_mock=False))
    mock_run = eng.start(_cmd()).workflow_run_id
    live_run = eng.start(_cmd(mock=False)).workflow_run_id
    assert mock_run != live_run
    assert eng.get_status("u", live_run).mock is False
    done = eng.respond("u", mock_run, eng.get_status("u", mock_run).interaction_request.
                       interaction_id, resp({"selected_indices": [0]}))
    assert done.status == "completed"
    assert eng.start(_cmd()).workflow_run_id not in (mock_run, live_run)  # completed: not active


# ---------------------------------------------------------------------- execution groups


def _grouped() -> dict[str, Any]:
    def probe(name: str, value: str) -> dict[str, Any]:
        return {"module_id": "test.probe", "name": name,
                "inputs": {"p": value}, "outputs_to_state": {"p": "image_prompt"}}
    return {"workflow_id": "grouped", "steps": [{"step_id": "s", "modules": [
        {"module_id": "pipeline.execution_groups", "name": "image_path",
         "output_schema": {"type": "object", "properties": {"image_prompt": {"type": "string"}}},
         "groups": [
             {"name": "fast", "requires": [{"capability": "basic", "priority": 1}],
              "modules": [probe("fast_prompt", "fast")]},
             {"name": "rich", "requires": [{"capability": "vision", "priority": 5}],
              "modules": [probe("rich_a", "draft"), probe("rich_b", "rich")]}]}]}]}


@pytest.mark.parametrize("caps,variant,prompt", [(["basic"], "fast", "fast"),
                                                 (["basic", "vision"], "rich", "rich"),
                                                 (["vision"], "rich", "rich")])
def test_wf_21_capability_variant_selection(caps: list[str], variant: str, prompt: str) -> None:
    eng = probe_engine()
    r = eng.start(_cmd(_grouped(), capabilities=caps))
    assert r.status == "completed" and r.result["image_prompt"] == prompt
    run = eng.store.get_run(r.workflow_run_id)
    version = eng.store.get_version(run["current_workflow_version_id"])
    assert version["version_type"] == "resolved"
    modules = version["resolved_workflow"]["steps"][0]["modules"]
    origins = [m["_metadata"]["_group_origin"] for m in modules]
    assert {o["path_name"] for o in origins} == {variant}
    assert all(o["group_name"] == "image_path" for o in origins)
    assert [o["is_group_exit"] for o in origins] == [False] * (len(modules) - 1) + [True]
    assert [o["auto_generated"] for o in origins] == [False] * (len(modules) - 1) + [True]
    assert [m["_metadata"]["expanded_from"] for m in modules] == ["image_path"] * len(modules)
    validator = modules[-1]
    assert validator["module_id"] == "io.validate"
    assert validator["name"] == "_image_path_validator"
    assert validator["inputs"] == {"schema": {"type": "object", "properties": {
        "image_prompt": {"type": "string"}}}, "state_keys": ["image_prompt"], "strict": False}
    done = [e.module_name for e in eng.list_events("u", r.workflow_run_id).events
            if e.event_type == "module_completed"]
    assert done[-1] == "_image_path_validator"
    row = eng.store.list_version_history(r.workflow_run_id)[0]
    assert row["client_capabilities"] == caps
    expected = "basic" if variant == "fast" else "vision"
    assert [x["capability"] for x in row["workflow_version_requirements"]] == [expected]


def test_wf_21_no_matching_variant() -> None:
    eng = probe_engine()
    with pytest.raises(WorkflowInvalid) as exc:
        eng.start(_cmd(_grouped(), capabilities=["audio"]))
    assert exc.value.details["reason"] == "no variant matches the client capabilities"


# ---------------------------------------------------------------------- §15.4 resume, §15.5 reset


def test_15_4_resume_status_reports_without_executing() -> None:
    eng = probe_engine()
    run_id = eng.start(_cmd()).workflow_run_id
    r = eng.resume_status("u", run_id, {"provider": "x", "api_key": "sk-secret0000"})
    assert r.status == "awaiting_input" and r.interaction_request is not None
    assert eng.store.get_run(run_id)["ai_config"] == {"provider": "x"}
    eng.reset("u", run_id)
    count = _count(eng, run_id)
    r = eng.resume_status("u", run_id)
    assert (r.status, r.message) == ("created", "Workflow ready")
    assert _count(eng, run_id) == count  # nothing executed
    r = eng.continue_run("u", run_id)
    r = eng.respond("u", run_id, r.interaction_request.interaction_id,
                    resp({"selected_indices": [0]}))
    r = eng.resume_status("u", run_id)
    assert r.status == "completed" and r.result["final_x"] == "a"


def test_15_4_resume_after_an_interrupted_operation_is_processing() -> None:
    eng = probe_engine()
    run_id = eng.start(_cmd()).workflow_run_id
    token = CancelToken()
    token.cancel()
    eng.respond("u", run_id, eng.get_status("u", run_id).interaction_request.interaction_id,
                resp({"selected_indices": [0]}), ExecOptions(cancel=token))
    r = eng.resume_status("u", run_id)
    assert (r.status, r.message) == ("processing", "Workflow is processing")


# ---------------------------------------------------------------------- §15.6 delete (ENG-43)


def test_eng_43_delete_cascades_to_run_scoped_documents(cuddle_workflow: dict[str, Any]) -> None:
    w = Walk(cuddle_workflow)
    w.answer_script(until="select_scene")
    assert w.sub_action("regenerate_scenes", {"feedback": "x"}).status == "completed"
    w.answer_script(until="generate_and_select_images_v2")
    assert w.sub_action("image_generation", IMAGE_PARAMS).status == "completed"
    other = Walk(cuddle_workflow, eng=w.eng, project="p2")
    before = w.snapshot()
    assert before["content_generation_metadata"] and before["generated_content"]
    children = [c["workflow_run_id"] for c in w.eng.store.list_child_runs(w.run_id)]
    assert len(children) == 1
    w.eng.delete("alice", w.run_id)
    after = w.snapshot()
    gone = {w.run_id, *children}
    for name, docs in after.items():
        for doc in docs:
            assert doc.get("workflow_run_id") not in gone, name
            assert doc.get("parent_workflow_run_id") not in gone, name
    metadata_ids = {d["content_generation_metadata_id"] for d in
                    before["content_generation_metadata"]}
    assert not [d for d in after.get("generated_content", [])
                if d.get("content_generation_metadata_id") in metadata_ids]
    for kept in ("weighted_keywords", "workflow_versions", "workflow_templates"):
        assert after[kept] == before[kept]
    assert other.eng.get_status("alice", other.run_id).status == "awaiting_input"
    with pytest.raises(NotFound):
        w.eng.get_status("alice", w.run_id)


# ---------------------------------------------------------------------- ENG-7, ENG-9, ENG-10


def test_eng_7_another_user_gets_not_found_everywhere() -> None:
    eng = probe_engine()
    run_id = eng.start(_cmd()).workflow_run_id
    iid = eng.get_status("u", run_id).interaction_request.interaction_id
    before = eng.store.export()
    calls = [
        lambda: eng.continue_run("bob", run_id),
        lambda: eng.respond("bob", run_id, iid, resp({"selected_indices": [0]})),
        lambda: eng.retry("bob", run_id, "gen", None),
        lambda: eng.jump("bob", run_id, "s1", "gen"),
        lambda: eng.jump_to_interaction("bob", run_id, iid),
        lambda: eng.run_to_target("bob", run_id, Target(step_id="s1", module_name="gen")),
        lambda: eng.run_sub_action("bob", run_id, iid, "more", {}, lambda e: None),
        lambda: eng.get_state_view("bob", run_id),
        lambda: eng.get_interaction_history("bob", run_id),
        lambda: eng.get_interaction_data("bob", run_id, iid),
        lambda: eng.get_status("bob", run_id),
        lambda: eng.list_events("bob", run_id),
        lambda: eng.list_generations("bob", run_id, iid, "image"),
        lambda: eng.resume_status("bob", run_id),
        lambda: eng.reset("bob", run_id),
        lambda: eng.delete("bob", run_id),
        lambda: eng.point_run_at_version("bob", run_id, "ver_x", []),
    ]
    for call in calls:
        with pytest.raises(NotFound) as exc:
            call()
        assert exc.value.error_type == "not_found"
    assert eng.store.export() == before


def test_eng_9_projection_follows_the_cursor() -> None:
    eng = probe_engine()
    run_id = eng.start(_cmd()).workflow_run_id
    run = eng.store.get_run(run_id)
    assert (run["status"], run["current_step"], run["current_step_name"], run["current_module"],
            run["completed_steps"]) == ("awaiting_input", "s1", "Step 1: First", "pick", [])
    eng.store.update_run(run_id, {"status": "processing", "current_module": "gen"})  # drift
    eng.continue_run("u", run_id)
    run = eng.store.get_run(run_id)
    assert (run["status"], run["current_module"]) == ("awaiting_input", "pick")  # events win
    r = eng.respond("u", run_id, eng.get_status("u", run_id).interaction_request.interaction_id,
                    resp({"selected_indices": [0]}))
    run = eng.store.get_run(run_id)
    finished = [e for e in eng.list_events("u", run_id).events
                if e.event_type == "workflow_completed"][0]
    assert run["status"] == "completed" and run["completed_steps"] == ["s1", "s2"]
    assert iso_z(run["completed_at"]) == finished.timestamp
    assert r.progress.completed_steps == ["s1", "s2"]
    PROBES["gen"] = lambda inputs, ctx: (_ for _ in ()).throw(RuntimeError("boom"))
    failed = eng.start(_cmd(probe_workflow("failing"))).workflow_run_id
    run = eng.store.get_run(failed)
    assert run["status"] == "error" and run["error_type"] == "execution_failed"
    assert "boom" in run["error_message"] and run["completed_at"] is None


def test_eng_10_ai_config_is_stored_without_keys() -> None:
    eng = probe_engine()
    r = eng.start(_cmd(ai_config={"provider": "openai", "api_key": "sk-aaaaaaaaaaaa",
                                  "nested": {"anthropic_api_key": "x", "keep": 1,
                                             "deeper": [{"openai_api_key": "y", "ok": 2}]}}))
    run_id = r.workflow_run_id
    assert eng.store.get_run(run_id)["ai_config"] == {"provider": "openai", "nested": {
        "keep": 1, "deeper": [{"ok": 2}]}}
    eng.continue_run("u", run_id, ExecOptions(ai_config={"model": "m", "my_api_key": "z"}))
    assert eng.store.get_run(run_id)["ai_config"] == {"model": "m"}
    assert "sk-aaaa" not in msgspec.json.encode(eng.store.export()).decode()


# ---------------------------------------------------------------------- ENG-48, ENG-49


def test_eng_48_cancelled_before_a_module_writes_nothing() -> None:
    eng = probe_engine()
    token = CancelToken()
    token.cancel("user_cancelled")
    r = eng.start(_cmd(options=ExecOptions(cancel=token)))
    assert r.status == "error" and r.result["error_type"] == "cancelled"
    run_id = r.workflow_run_id
    assert [e.event_type for e in eng.list_events("u", run_id).events] == ["workflow_created"]
    assert eng.store.get_run(run_id)["status"] == "created"
    r = eng.continue_run("u", run_id)
    assert r.status == "awaiting_input"
    r = eng.respond("u", run_id, r.interaction_request.interaction_id,
                    resp({"selected_indices": [0]}), ExecOptions(cancel=token))
    assert r.result["error_type"] == "cancelled"
    assert [e.event_type for e in eng.list_events("u", run_id).events][-3:] == [
        "interaction_response", "module_completed", "step_completed"]
    assert eng.continue_run("u", run_id).status == "completed"


def test_eng_49_provider_cancelled_mid_module_is_re_executed() -> None:
    wf = {"workflow_id": "llm", "steps": [{"step_id": "s", "modules": [
        {"module_id": "api.llm", "name": "ask", "inputs": {"provider": "fake", "input": "hi"}}]}]}
    block = threading.Event()
    llm = FakeLLMProvider([llm_result("answer")], streaming=True, block=block)
    eng = make_engine(providers=FakeProviderSet(llm={"fake": llm}))
    token = CancelToken()
    out: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: out.update(r=eng.start(StartCommand(
        user_id="u", project_name="p", workflow=wf, mock=False,
        options=ExecOptions(cancel=token)))))
    thread.start()
    assert llm.started.wait(5)
    token.cancel("user_cancelled")
    thread.join(5)
    r = out["r"]
    assert r.status == "error" and r.result["error_type"] == "cancelled"
    run_id = r.workflow_run_id
    types = [e.event_type for e in eng.list_events("u", run_id).events]
    assert types == ["workflow_created", "step_started", "module_started"]
    block.set()
    r = eng.continue_run("u", run_id)
    assert r.status == "completed" and r.result["ask"]["response"] == "answer"
    types = [e.event_type for e in eng.list_events("u", run_id).events]
    assert types == ["workflow_created", "step_started", "module_started", "module_started",
                     "module_completed", "step_completed", "workflow_completed"]
    assert llm.calls == 2


# ---------------------------------------------------------------------- ENG-1


def _script(eng: WorkflowEngine, wf: dict[str, Any]) -> None:
    w = Walk(wf, eng=eng)
    w.answer_script(until="select_scene")
    w.sub_action("regenerate_scenes", {"feedback": "beach"})
    w.answer_script(until="generate_and_select_images_v2")
    w.sub_action("image_generation", IMAGE_PARAMS)
    w.eng.jump("alice", w.run_id, "scene_generation", "select_scene")
    w.eng.reset("alice", w.run_id)


def test_eng_1_same_operations_same_documents(cuddle_workflow: dict[str, Any]) -> None:
    one, two = make_engine(), make_engine()
    _script(one, copy.deepcopy(cuddle_workflow))
    _script(two, copy.deepcopy(cuddle_workflow))
    a = msgspec.json.encode(one.store.export())  # type: ignore[attr-defined]
    b = msgspec.json.encode(two.store.export())  # type: ignore[attr-defined]
    assert a == b
