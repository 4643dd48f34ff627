"""Issue 15 on the production server over HTTP (in-process app, real wire-protocol MongoDB):
the operation deadline, the step/module caps, and no run stranded by an unexpected exception.
Client disconnects need real sockets: tests/e2e/test_runaway_live.py."""

from __future__ import annotations

from typing import Any, Callable

from tests.acceptance.production_client import Prod, production
from tests.fakes_engine import probe_registry, probe_workflow
from tests.long_workflows import assert_consistent, long_workflow
from tests.unit.test_runaway import FlakyStore

BIG = {"WFE_WORKFLOW_MAX_STEPS": "20000", "WFE_WORKFLOW_MAX_MODULES": "20000"}


async def _lineage(prod: Prod, run_id: str) -> list[dict[str, Any]]:
    return await prod.events(run_id)


async def test_deadline_stops_a_10000_step_start_and_later_calls_continue(secantus_uri: str) -> None:
    async with production(secantus_uri, users=("alice",), WFE_OPERATION_DEADLINE_S="1",
                          **BIG) as prod:
        first = await prod.start(long_workflow(10_000))
        assert first["status"] == "error", first
        assert first["result"]["error_type"] == "deadline_exceeded"
        details = first["result"]["details"]
        assert details["setting"] == "WFE_OPERATION_DEADLINE_S" and details["deadline_s"] == 1
        run_id = first["workflow_run_id"]
        assert first["progress"]["current_module"] == details["module_name"]
        events = [e for e in prod.db.events.find({"workflow_run_id": run_id}, {"_id": 0})
                  .sort("sequence", 1)]
        counts = assert_consistent(events)
        assert counts["module_completed"] == details["modules_executed"] < 10_000
        status = await prod.ok("GET", f"/workflow/{run_id}/status")
        assert status["status"] == "processing"
        resumed = await prod.ok("POST", f"/workflow/{run_id}/resume")
        assert resumed["status"] == "processing"
        cancel = await prod.ok("POST", f"/workflow/{run_id}/cancel")
        assert cancel["cancelled"] == 0  # nothing runs: the stop left no execution behind
        # starting the same project again continues the run from its cursor
        again = await prod.start(long_workflow(10_000))
        assert again["workflow_run_id"] == run_id
        assert again["result"]["error_type"] == "deadline_exceeded"
        events = [e for e in prod.db.events.find({"workflow_run_id": run_id}, {"_id": 0})
                  .sort("sequence", 1)]
        done = details["modules_executed"] + again["result"]["details"]["modules_executed"]
        assert assert_consistent(events)["module_completed"] == done
        # and so does the run stream, which ends with the typed error as its terminal frame
        frames = await prod.sse("GET", f"/workflow/{run_id}/stream")
        assert frames[0][0] == "started"
        assert frames[0][1]["module_name"] == again["result"]["details"]["module_name"]
        assert frames[-1][0] == "error" and frames[-1][1]["result"]["error_type"] == "deadline_exceeded"


async def test_caps_refuse_oversized_workflows_with_413(secantus_uri: str) -> None:
    async with production(secantus_uri, users=("alice",)) as prod:
        response = await prod.post("/workflow/start", {
            "project_name": "big", "workflow_content": long_workflow(201), "mock": True})
        assert response.status_code == 413
        body = response.json()
        assert body["error_type"] == "workflow_too_large"
        assert body["details"]["setting"] == "WFE_WORKFLOW_MAX_STEPS"
        assert body["details"]["limit"] == 200 and "WFE_WORKFLOW_MAX_STEPS" in body["error"]
        response = await prod.post("/workflow/start", {
            "project_name": "wide", "workflow_content": long_workflow(1, modules_per_step=5000),
            "mock": True})
        assert response.status_code == 413
        assert response.json()["details"]["setting"] == "WFE_WORKFLOW_MAX_MODULES"
        assert prod.db.workflow_templates.count_documents({}) == 0
        assert prod.db.events.count_documents({}) == 0


def _fail_completion_of(module: str, state: dict[str, Any]) -> Callable[[str, tuple[Any, ...]], bool]:
    def fail(name: str, args: tuple[Any, ...]) -> bool:
        if not state["on"]:
            return False
        if name == "append_event" and args[0]["event_type"] == "module_completed" \
                and args[0]["module_name"] == module:
            state["on"] = state["sticky"]
            return True
        if state["sticky"] and (name == "update_run" or (
                name == "append_event" and args[0]["event_type"] == "module_error")):
            return True
        return False

    return fail


async def test_an_unexpected_store_exception_never_strands_a_run(secantus_uri: str) -> None:
    """Issue 15 item 1: the run is in a coherent `error` state with a typed error; resume
    reports it, cancel finds nothing running, retry finishes the run."""
    async with production(secantus_uri, users=("alice",)) as prod:
        eng = prod.services.eng()
        eng.registry = probe_registry()
        state = {"on": True, "sticky": False}
        eng.store = FlakyStore(eng.store, _fail_completion_of("gen", state))
        first = await prod.start(probe_workflow())
        assert first["status"] == "error" and first["result"]["error_type"] == "internal_error"
        run_id = first["workflow_run_id"]
        events = await _lineage(prod, run_id)
        assert_consistent(events)
        assert [e["event_type"] for e in events][-2:] == ["module_started", "module_error"]
        status = await prod.ok("GET", f"/workflow/{run_id}/status")
        assert status["status"] == "error"
        resumed = await prod.ok("POST", f"/workflow/{run_id}/resume")
        assert resumed["status"] == "error" and resumed["result"]["error_type"] == "internal_error"
        cancel = await prod.ok("POST", f"/workflow/{run_id}/cancel")
        assert cancel == {"message": "No active execution found", "workflow_run_id": run_id,
                          "cancelled": 0}
        retried = await prod.ok("POST", "/workflow/retry", {"workflow_run_id": run_id,
                                                             "target_module": "gen"})
        assert retried["status"] == "awaiting_input", retried
        assert retried["interaction_request"]["context"]["module_name"] == "pick"


async def test_a_broken_store_answers_500_and_the_run_resumes_when_it_is_back(secantus_uri: str) -> None:
    """When not even the `module_error` can be written the request is a typed 500; the run is as
    after a crash (the open module is re-run) and the stream finishes it once the store works."""
    async with production(secantus_uri, users=("alice",)) as prod:
        eng = prod.services.eng()
        eng.registry = probe_registry()
        state = {"on": True, "sticky": True}
        eng.store = FlakyStore(eng.store, _fail_completion_of("gen", state))
        response = await prod.post("/workflow/start", {
            "project_name": "p1", "workflow_content": probe_workflow(), "mock": True})
        assert response.status_code == 500 and response.json()["error_type"] == "internal_error"
        state["on"] = False
        run_id = prod.db.workflow_runs.find_one({})["workflow_run_id"]
        resumed = await prod.ok("POST", f"/workflow/{run_id}/resume")
        assert resumed["status"] == "processing"
        frames = await prod.sse("GET", f"/workflow/{run_id}/stream")
        assert frames[0] == ("started", {"workflow_run_id": run_id, "step_id": "s1",
                                         "module_name": "gen", "module_index": 0})
        assert frames[-1][0] == "interaction"
        events = await _lineage(prod, run_id)
        started = [e["module_name"] for e in events if e["event_type"] == "module_started"]
        assert started == ["gen", "gen", "pick"]
