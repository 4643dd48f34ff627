"""§5.1 step 5: a fork interrupted after its `jump_requested` is completed by the next reader."""

from __future__ import annotations

from typing import Any

import msgspec

from engine.errors import StoreUnavailable
from engine.processor import StartCommand
from engine.wire import InteractionResponseData
from tests.acceptance.script_a import ANSWERS
from tests.conftest import make_engine


class CrashAfterJump:
    """Store wrapper whose branch insert fails once, right after the jump event was written."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.armed = False

    def insert_branch(self, doc: dict[str, Any]) -> None:
        if self.armed:
            self.armed = False
            raise StoreUnavailable("simulated crash between fork writes")
        self.inner.insert_branch(doc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _answer(name: str) -> InteractionResponseData:
    return msgspec.convert(ANSWERS[name], InteractionResponseData)


def test_eng_5_1_reader_completes_interrupted_jump(cuddle_workflow: dict[str, Any]) -> None:
    eng = make_engine()
    store = CrashAfterJump(eng.store)
    eng.store = store
    r = eng.start(StartCommand(user_id="u", project_name="p", workflow=cuddle_workflow, mock=True))
    run_id = r.workflow_run_id
    r = eng.respond("u", run_id, r.interaction_request.interaction_id, _answer("select_pet_type"))
    r = eng.respond("u", run_id, r.interaction_request.interaction_id, _answer("select_aesthetic"))
    assert r.interaction_request.context["module_name"] == "select_scene"
    old_branch = store.inner.get_run(run_id)["current_branch_id"]

    store.armed = True
    try:
        eng.jump("u", run_id, "user_input", "select_aesthetic")
    except StoreUnavailable:
        pass
    else:  # pragma: no cover - the wrapper must have fired
        raise AssertionError("the simulated crash did not happen")
    assert store.inner.get_run(run_id)["current_branch_id"] == old_branch

    status = eng.get_status("u", run_id)  # any reader repairs first
    run = store.inner.get_run(run_id)
    assert run["current_branch_id"] != old_branch
    branch = store.inner.get_branch(run["current_branch_id"])
    assert branch is not None and branch["fork_reason"] == "jump"
    events = eng.list_events("u", run_id).events
    assert events[-1].event_type == "jump_requested"
    assert [e.module_name for e in events if e.event_type == "interaction_response"] == ["select_pet_type"]
    assert status.progress is not None and status.progress.current_module == "select_aesthetic"
    r = eng.continue_run("u", run_id)
    assert r.status == "awaiting_input"
    assert r.interaction_request.context["module_name"] == "select_aesthetic"
