"""Issue 15 item 3 in the engine: operation deadlines, step/module caps, and no stranded run after
an unexpected exception (issue 15 item 1). The HTTP side is in tests/e2e/test_runaway_live.py
and tests/acceptance/test_production_stranding.py."""

from __future__ import annotations

import time
from typing import Any, Callable

import pytest

from engine.errors import WorkflowTooLarge
from engine.execution import ExecOptions
from engine.processor import StartCommand
from engine.settings import EngineSettings
from engine.validation import validate_workflow
from engine.wire import WorkflowResponse
from tests.conftest import make_engine
from tests.fakes_engine import PROBES, probe_engine, probe_workflow, resp
from tests.long_workflows import assert_consistent, long_workflow

BIG = {"workflow_max_steps": 20_000, "workflow_max_modules": 20_000}


def _engine(deadline_s: float = 60.0, **kwargs: Any) -> Any:
    return make_engine(settings=EngineSettings(operation_deadline_s=deadline_s, **BIG), **kwargs)


def _start(eng: Any, workflow: dict[str, Any], project: str = "p") -> WorkflowResponse:
    return eng.start(StartCommand(user_id="u", project_name=project, workflow=workflow, mock=True))


def _events(eng: Any, run_id: str) -> list[dict[str, Any]]:
    run = eng.store.get_run(run_id)
    branch = eng.store.get_branch(run["current_branch_id"])
    return eng.store.lineage_events(run_id, branch["lineage"])


def _started_modules(events: list[dict[str, Any]]) -> list[str]:
    return [e["module_name"] for e in events if e["event_type"] == "module_started"]


# ---------------------------------------------------------------------- deadline


def test_deadline_stops_a_10000_step_run_at_a_module_boundary_and_the_run_resumes() -> None:
    eng = _engine(deadline_s=0.3)
    started = time.monotonic()
    first = _start(eng, long_workflow(10_000))
    assert time.monotonic() - started < 15  # would be tens of seconds without the deadline
    assert first.status == "error", first
    result = first.result or {}
    assert result["error_type"] == "deadline_exceeded"
    details = result["details"]
    assert details["setting"] == "WFE_OPERATION_DEADLINE_S" and details["deadline_s"] == 0.3
    assert "WFE_OPERATION_DEADLINE_S" in (first.error or "")
    done = details["modules_executed"]
    assert 0 < done < 10_000
    run_id = first.workflow_run_id
    events = _events(eng, run_id)
    counts = assert_consistent(events)  # nothing half-written
    assert counts["module_completed"] == done and "module_error" not in counts
    assert events[-1]["event_type"] in ("module_completed", "step_completed")
    # the run is coherent: processing, positioned on the module the error names
    run = eng.store.get_run(run_id)
    assert run["status"] == "processing" and run["error_type"] is None
    assert (run["current_step"], run["current_module"]) == (details["step_id"], details["module_name"])
    assert first.progress is not None and first.progress.current_module == details["module_name"]
    assert eng.resume_status("u", run_id).status == "processing"
    # a later operation picks up from the cursor: the next module first, nothing run twice
    second = eng.continue_run("u", run_id)
    assert (second.result or {})["error_type"] == "deadline_exceeded"
    events = _events(eng, run_id)
    counts = assert_consistent(events)
    assert counts["module_completed"] == done + second.result["details"]["modules_executed"]
    assert _started_modules(events)[done] == details["module_name"]


def test_a_run_finished_by_many_deadline_stops_equals_a_run_done_at_once() -> None:
    """A deadline that admits one module per operation: every stop is valid progress and the
    run completes with the same state and the same events as an unbounded one."""
    workflow = long_workflow(40, modules_per_step=3)
    reference = _engine()
    whole = _start(reference, workflow)
    assert whole.status == "completed"
    whole_events = _events(reference, whole.workflow_run_id)
    eng = _engine(deadline_s=1e-9)
    response = _start(eng, workflow)
    operations = 1
    while response.status == "error":
        assert (response.result or {})["error_type"] == "deadline_exceeded"
        assert response.result["details"]["modules_executed"] == 1
        response = eng.continue_run("u", response.workflow_run_id)
        operations += 1
    assert response.status == "completed" and operations == 120
    assert response.result == whole.result
    mine = _events(eng, response.workflow_run_id)
    assert [(e["event_type"], e["step_id"], e["module_name"]) for e in mine] == \
        [(e["event_type"], e["step_id"], e["module_name"]) for e in whole_events]
    assert assert_consistent(mine)["module_completed"] == 120


def test_deadline_applies_to_respond() -> None:
    """Every executing operation gets the deadline: here a respond that then runs 300 modules."""
    eng = probe_engine(settings=EngineSettings(operation_deadline_s=1e-9, **BIG))
    workflow = probe_workflow()
    workflow["steps"].append(long_workflow(1, modules_per_step=300)["steps"][0])
    first = _start(eng, workflow)
    assert first.result["error_type"] == "deadline_exceeded"  # `gen` ran, then the deadline
    first = eng.continue_run("u", first.workflow_run_id)
    assert first.status == "awaiting_input"  # the select asks (at least one module per call)
    iid = first.interaction_request.interaction_id
    answered = eng.respond("u", first.workflow_run_id, iid, resp({"selected_indices": [0]}))
    assert answered.status == "error" and answered.result["error_type"] == "deadline_exceeded"
    events = _events(eng, first.workflow_run_id)
    assert assert_consistent(events)["interaction_response"] == 1
    # the accepted answer is stored with its outcome: a replay returns it, a continue goes on
    replay = eng.respond("u", first.workflow_run_id, iid, resp({"selected_indices": [0]}))
    assert replay == answered
    assert eng.continue_run("u", first.workflow_run_id).result["error_type"] == "deadline_exceeded"


def test_cancel_before_deadline_still_wins_and_writes_nothing() -> None:
    from engine.ports import CancelToken

    eng = _engine(deadline_s=1e-9)
    token = CancelToken()
    token.cancel()
    run = _start(eng, long_workflow(5)).workflow_run_id
    before = len(_events(eng, run))
    response = eng.continue_run("u", run, ExecOptions(cancel=token))
    assert response.result["error_type"] == "cancelled" and len(_events(eng, run)) == before


# ---------------------------------------------------------------------- caps


def test_caps_refuse_oversized_workflows_naming_the_limit_and_setting(cuddle_workflow: dict[str, Any]) -> None:
    settings = EngineSettings()
    with pytest.raises(WorkflowTooLarge) as steps:
        validate_workflow(long_workflow(settings.workflow_max_steps + 1), settings)
    assert steps.value.http_status == 413 and steps.value.error_type == "workflow_too_large"
    assert steps.value.details["setting"] == "WFE_WORKFLOW_MAX_STEPS"
    assert steps.value.details["limit"] == 200 and steps.value.details["count"] == 201
    assert "WFE_WORKFLOW_MAX_STEPS" in steps.value.message and "200" in steps.value.message
    with pytest.raises(WorkflowTooLarge) as modules:  # one step of 5,000 modules (the report)
        validate_workflow(long_workflow(1, modules_per_step=5000), settings)
    assert modules.value.details == {
        "reason": "workflow has 5000 modules, more than the limit of 2000 (WFE_WORKFLOW_MAX_MODULES)",
        "count": 5000, "limit": 2000, "setting": "WFE_WORKFLOW_MAX_MODULES"}
    # modules inside execution groups count too
    grouped = long_workflow(1, modules_per_step=1)
    grouped["steps"][0]["modules"] = [{"module_id": "pipeline.execution_groups", "name": "g",
                                       "groups": [{"name": "a", "modules": long_workflow(
                                           1, modules_per_step=1500)["steps"][0]["modules"]},
                                                  {"name": "b", "modules": long_workflow(
                                           1, modules_per_step=600)["steps"][0]["modules"]}]}]
    with pytest.raises(WorkflowTooLarge, match="2101 modules"):
        validate_workflow(grouped, settings)
    # the real workflow fits with a wide margin; exactly at the limits passes
    steps_n = len(cuddle_workflow["steps"])
    assert steps_n * 10 <= settings.workflow_max_steps
    assert sum(len(s["modules"]) for s in cuddle_workflow["steps"]) * 50 <= settings.workflow_max_modules
    validate_workflow(cuddle_workflow, settings)
    validate_workflow(long_workflow(200, modules_per_step=10), settings)


def test_oversized_start_writes_nothing() -> None:
    eng = make_engine(settings=EngineSettings(workflow_max_steps=10))
    with pytest.raises(WorkflowTooLarge):
        _start(eng, long_workflow(11))
    snapshot = eng.store.export()
    assert not snapshot.get("workflow_templates") and not snapshot.get("workflow_versions")
    assert not snapshot.get("workflow_runs") and not snapshot.get("events")


# ---------------------------------------------------------------------- nothing strands a run


class FlakyStore:
    """Delegates to a real store; `fail(name, args)` decides which calls raise RuntimeError."""

    def __init__(self, inner: Any, fail: Callable[[str, tuple[Any, ...]], bool]) -> None:
        self.inner = inner
        self.fail = fail

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.fail(name, args):
                raise RuntimeError("driver exploded")
            return attr(*args, **kwargs)

        return call


def _completing(module: str, times: int = 1) -> Callable[[str, tuple[Any, ...]], bool]:
    """Fail the first `times` writes of `module`'s `module_completed` event."""
    left = [times]

    def fail(name: str, args: tuple[Any, ...]) -> bool:
        if name == "append_event" and args[0]["event_type"] == "module_completed" \
                and args[0]["module_name"] == module and left[0] > 0:
            left[0] -= 1
            return True
        return False

    return fail


def test_unexpected_store_exception_closes_the_module_with_a_typed_error() -> None:
    eng = _engine()
    eng.store = FlakyStore(eng.store, _completing("m2_0"))
    response = _start(eng, long_workflow(5))
    assert response.status == "error" and response.result["error_type"] == "internal_error"
    assert "m2_0" in (response.error or "") and "driver exploded" not in (response.error or "")
    run_id = response.workflow_run_id
    events = _events(eng, run_id)
    assert_consistent(events)
    last = events[-1]
    assert (last["event_type"], last["module_name"]) == ("module_error", "m2_0")
    assert last["data"]["error_type"] == "internal_error" and last["data"]["phase"] == "execute"
    run = eng.store.get_run(run_id)
    assert (run["status"], run["error_type"], run["current_module"]) == ("error", "internal_error", "m2_0")
    status = eng.resume_status("u", run_id)
    assert status.status == "error" and status.result["error_type"] == "internal_error"
    # retry of the failed module (or a plain continue) runs it again and the run completes
    done = eng.retry("u", run_id, "m2_0", None)
    assert done.status == "completed", done
    assert assert_consistent(_events(eng, run_id), once=False)["module_completed"] == 5


def test_unexpected_exception_in_the_engine_after_a_module_ran() -> None:
    """A module output the event encoder refuses (an int of 5,000 digits) used to escape as a
    ValueError after `module_started`: the run sat in `processing` for good."""
    eng = probe_engine()
    calls = {"n": 0}

    def huge_once(inputs: dict[str, Any], context: Any) -> Any:
        calls["n"] += 1
        return {"n": 10 ** 5000} if calls["n"] == 1 else dict(inputs)

    PROBES["gen"] = huge_once
    try:
        first = _start(eng, probe_workflow())
        assert first.status == "error" and first.result["error_type"] == "internal_error"
        run_id = first.workflow_run_id
        events = _events(eng, run_id)
        assert assert_consistent(events)["module_error"] == 1
        assert eng.store.get_run(run_id)["status"] == "error"
        again = eng.continue_run("u", run_id)  # re-executes the failed module
        assert again.status == "awaiting_input" and calls["n"] == 2
        assert_consistent(_events(eng, run_id), once=False)
    finally:
        PROBES.pop("gen", None)


def test_unexpected_exception_in_the_response_half_is_recorded_as_the_answer_outcome() -> None:
    eng = probe_engine()
    PROBES["pick:response"] = lambda inputs, context: {"n": 10 ** 5000}
    workflow = probe_workflow()
    workflow["steps"][0]["modules"][1]["module_id"] = "test.select"
    try:
        first = _start(eng, workflow)
        iid = first.interaction_request.interaction_id
        answer = resp({"selected_indices": [0]})
        failed = eng.respond("u", first.workflow_run_id, iid, answer)
        assert failed.status == "error" and failed.result["error_type"] == "internal_error"
        events = _events(eng, first.workflow_run_id)
        assert_consistent(events)
        assert events[-1]["event_type"] == "module_error" and events[-1]["data"]["phase"] == "response"
        assert eng.respond("u", first.workflow_run_id, iid, answer) == failed  # replay: same outcome
    finally:
        PROBES.pop("pick:response", None)
    retried = eng.retry("u", first.workflow_run_id, "pick", None)
    assert retried.status == "awaiting_input"  # the selection is asked again


def test_a_store_broken_for_every_write_leaves_a_resumable_run() -> None:
    """When even `module_error` cannot be written the exception propagates (the servers answer
    500); the run is then as after a crash and the next operation re-runs the open module."""
    broken = {"on": True}
    eng = _engine()
    eng.store = FlakyStore(eng.store, lambda name, args: broken["on"] and (
        name == "update_run" or (name == "append_event" and args[0]["event_type"] in (
            "module_completed", "module_error"))))
    with pytest.raises(RuntimeError):
        _start(eng, long_workflow(3))
    broken["on"] = False
    run_id = eng.store.top_level_runs()[0]["workflow_run_id"]
    assert eng.resume_status("u", run_id).status == "processing"
    done = eng.continue_run("u", run_id)
    assert done.status == "completed"
    started = _started_modules(_events(eng, run_id))
    assert started == ["m0_0", "m0_0", "m1_0", "m2_0"]  # the open module ran again, once
