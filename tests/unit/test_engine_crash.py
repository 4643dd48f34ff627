"""ENG-22 crash points: a store that raises after its n-th write, for every n over a scripted
cuddle_crew prefix (start, A1, A2, A3 → the image interaction). After each crash the run is
resumed with `continue_run` and the interrupted call is re-sent with the same answer; the final
lineage must equal the uninterrupted one except for the repeated `module_started` of the module
that was interrupted (engine.md §7.2, §18.1)."""

from __future__ import annotations

from typing import Any, Callable

from engine.errors import StoreUnavailable
from engine.processor import StartCommand, WorkflowEngine
from engine.wire import WorkflowResponse
from tests.acceptance.script_a import ANSWERS
from tests.conftest import make_engine
from tests.fakes_engine import CrashingStore, all_scope, resp

USER = "u"
PREFIX = ["select_pet_type", "select_aesthetic", "select_scene"]


def _start(eng: WorkflowEngine, wf: dict[str, Any]) -> WorkflowResponse:
    return eng.start(StartCommand(user_id=USER, project_name="p", workflow=wf, mock=True))


class Resender:
    """Makes engine calls; on a crash it disarms the store, resumes the run and re-sends the
    interrupted call, counting the crashes."""

    def __init__(self, eng: WorkflowEngine, store: CrashingStore | None) -> None:
        self.eng = eng
        self.store = store
        self.crashes = 0

    def __call__(self, fn: Callable[[], WorkflowResponse]) -> WorkflowResponse:
        try:
            return fn()
        except StoreUnavailable:
            assert self.store is not None
            self.crashes += 1
            self.store.crash_at = -1
            runs = self.store.inner.top_level_runs()
            if runs:  # resume first, then re-send the same call
                self.eng.continue_run(USER, runs[-1]["workflow_run_id"])
            return fn()


def _run(eng: WorkflowEngine, store: CrashingStore | None, wf: dict[str, Any]) -> tuple[str, int]:
    """Drive the prefix; on a crash, disarm, resume and re-send the interrupted call."""
    call = Resender(eng, store)
    r = call(lambda: _start(eng, wf))
    for name in PREFIX:
        assert r.status == "awaiting_input", r
        assert r.interaction_request.context["module_name"] == name
        iid = r.interaction_request.interaction_id
        r = call(lambda: eng.respond(USER, r.workflow_run_id, iid, resp(ANSWERS[name])))
    assert r.interaction_request.context["module_name"] == "generate_and_select_images_v2"
    return r.workflow_run_id, call.crashes


def _types(eng: WorkflowEngine, run_id: str) -> list[str]:
    return [e.event_type for e in eng.list_events(USER, run_id).events]


def _squeeze(types: list[str]) -> list[str]:
    """Drop the `module_started` of an interrupted execution: the next event is the repeated
    `module_started`, or a `jump_requested` whose fork cut the repetition away."""
    return [t for i, t in enumerate(types)
            if not (t == "module_started" and i + 1 < len(types)
                    and types[i + 1] in ("module_started", "jump_requested"))]


def test_eng_22_every_crash_point_resumes_to_the_same_events(
        cuddle_workflow: dict[str, Any]) -> None:
    clean = make_engine()
    reference = _types(clean, _run(clean, None, cuddle_workflow)[0])
    probe = CrashingStore(make_engine().store, 10**9)
    _run(make_engine(store=probe), None, cuddle_workflow)
    total = probe.writes
    assert total > 40
    for n in range(1, total + 1):
        store = CrashingStore(make_engine().store, n)
        eng = make_engine(store=store)
        run_id, crashes = _run(eng, store, cuddle_workflow)
        assert crashes == 1, f"write {n} did not crash"
        got = _types(eng, run_id)
        assert _squeeze(got) == reference, f"crash at write {n}"
        assert got.count("module_started") - reference.count("module_started") <= 1, n
        assert got.count("step_started") == reference.count("step_started"), n
        assert got.count("interaction_response") == len(PREFIX), n
        interactions = [t for t in got if t == "interaction_requested"]
        assert len(interactions) == len(reference_interactions(reference)), n


def reference_interactions(types: list[str]) -> list[str]:
    return [t for t in types if t == "interaction_requested"]


def _probe_run(eng: WorkflowEngine, store: CrashingStore | None) -> tuple[str, int]:
    """start, a retry answer, a jump answer, then the real answer (engine.md §7.2 rows
    `response_received` for every intent, and §5.1 step 5 for interrupted forks)."""
    from tests.fakes_engine import probe_workflow

    call = Resender(eng, store)
    r = call(lambda: _start(eng, probe_workflow()))
    for body in ({"action_id": "again", "retry_feedback": "f"}, {"action_id": "back"},
                 {"selected_indices": [1]}):
        iid = r.interaction_request.interaction_id
        r = call(lambda: eng.respond(USER, r.workflow_run_id, iid, resp(body)))
    assert r.status == "completed", r
    return r.workflow_run_id, call.crashes


def test_eng_22_crash_points_around_retry_and_jump_answers() -> None:
    from tests.fakes_engine import probe_engine

    clean = probe_engine()
    reference = _types(clean, _probe_run(clean, None)[0])
    probe = CrashingStore(probe_engine().store, 10**9)
    eng = probe_engine(store=probe)
    _probe_run(eng, None)
    for n in range(1, probe.writes + 1):
        store = CrashingStore(probe_engine().store, n)
        eng = probe_engine(store=store)
        run_id, crashes = _probe_run(eng, store)
        assert crashes == 1, n
        got = _types(eng, run_id)
        assert _squeeze(got) == _squeeze(reference), f"crash at write {n}: {got}"
        assert 0 <= got.count("module_started") - reference.count("module_started") <= 1, n
        all_events = eng.list_events(USER, run_id, all_scope()).events
        assert [e.sequence for e in all_events] == list(range(1, len(all_events) + 1))
