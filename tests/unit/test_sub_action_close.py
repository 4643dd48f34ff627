"""engine.md §13.1: every `sub_action_started` ends with exactly one end event, also when the
worker running it is lost (engine/sub_action_close.py)."""

from __future__ import annotations

import threading
from typing import Any, Iterator

import pytest

from engine.sub_action_close import close_lost_sub_action, open_executions
from tests.fakes_engine import PROBES, probe_engine
from tests.unit.test_engine_sub_actions import _events, _start


@pytest.fixture(autouse=True)
def _clean_probes() -> Iterator[None]:
    PROBES.clear()
    yield
    PROBES.clear()


def _blocked_sub_action(eng: Any, run_id: str, pick: str, error: bool = False) -> tuple[
        threading.Event, threading.Thread, dict[str, Any]]:
    """A self sub-action that has written `sub_action_started` and waits (a stalled worker)."""
    release, started = threading.Event(), threading.Event()

    def slow(params: dict[str, Any], ctx: Any) -> dict[str, Any]:
        started.set()
        assert release.wait(5)
        if error:
            raise RuntimeError("vendor exploded")
        return {"v": [{"id": "late"}]}

    PROBES["pick:sub_action"] = slow
    out: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: out.update(o=eng.run_sub_action(
        "u", run_id, pick, "self_gen", {}, lambda e: None)))
    thread.start()
    assert started.wait(5)
    return release, thread, out


def _types(eng: Any, run_id: str) -> list[str]:
    return [e.event_type for e in _events(eng, run_id) if e.event_type.startswith("sub_action")]


@pytest.mark.parametrize("known_id", [True, False])
@pytest.mark.parametrize("late_error", [False, True])
def test_lost_execution_is_closed_once_and_a_late_worker_writes_nothing(
        known_id: bool, late_error: bool) -> None:
    eng = probe_engine()
    run_id, pick = _start(eng)
    release, thread, out = _blocked_sub_action(eng, run_id, pick, error=late_error)
    started = [e for e in _events(eng, run_id) if e.event_type == "sub_action_started"][0]
    execution_id = started.data["execution_id"]
    closed = close_lost_sub_action(eng, "u", run_id, pick, "self_gen",
                                   execution_id if known_id else None)
    assert closed == [execution_id]
    failed = _events(eng, run_id)[-1]
    assert failed.event_type == "sub_action_failed"
    assert failed.data == {"execution_id": execution_id, "sub_action_id": "self_gen",
                           "interaction_id": pick, "kind": "self",
                           "child_workflow_run_id": None, "error_type": "worker_lost",
                           "error": "worker lost"}
    assert (failed.step_id, failed.module_name) == (started.step_id, started.module_name)
    # closing again finds nothing open
    assert close_lost_sub_action(eng, "u", run_id, pick, "self_gen", None) == []
    # the stalled worker comes back: its result is neither written nor applied
    release.set()
    thread.join(5)
    assert out["o"].status == "error" and out["o"].error_type == "worker_lost"
    assert _types(eng, run_id) == ["sub_action_started", "sub_action_failed"]
    assert eng.get_state_view("u", run_id).state["things"] == [{"id": "a"}, {"id": "b"}]
    # the interaction is still pending and a new sub-action runs normally
    PROBES["pick:sub_action"] = lambda params, ctx: {"v": [{"id": "new"}]}
    again = eng.run_sub_action("u", run_id, pick, "self_gen", {}, lambda e: None)
    assert again.status == "completed" and again.applied is True
    assert _types(eng, run_id)[-2:] == ["sub_action_started", "sub_action_completed"]


def test_unknown_execution_spares_the_live_ones_and_ignores_other_sub_actions() -> None:
    eng = probe_engine()
    run_id, pick = _start(eng)
    release, thread, _ = _blocked_sub_action(eng, run_id, pick)
    live = [e for e in _events(eng, run_id) if e.event_type == "sub_action_started"][0]
    live_id = live.data["execution_id"]
    assert close_lost_sub_action(eng, "u", run_id, pick, "self_gen", None,
                                 exclude={live_id}) == []
    assert close_lost_sub_action(eng, "u", run_id, pick, "other", None) == []
    assert close_lost_sub_action(eng, "u", run_id, pick, "self_gen", "self_gen_nope") == []
    release.set()
    thread.join(5)
    assert _types(eng, run_id) == ["sub_action_started", "sub_action_completed"]
    s = eng.load("u", run_id)
    assert open_executions(s.events, pick, "self_gen") == []
    # a deleted run needs no closing
    eng.delete("u", run_id)
    assert close_lost_sub_action(eng, "u", run_id, pick, "self_gen", None) == []
