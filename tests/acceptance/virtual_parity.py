"""Normalisation of acceptance.md §4 (generated ids → `<id>`, ISO timestamps → `<ts>`)."""

from __future__ import annotations

import re
from typing import Any

_ID = re.compile(r"^(wf|virtual|wf_sub|virtual_sub|br|evt|ver|tpl|wff|cgm|gc|mock-cgm|mock-gc|select|"
                 r"text_input|pause|form|file_input|file_download|media)_[0-9a-f]{32}$"
                 r"|^[A-Za-z0-9_]+_[0-9a-f]{32}$")
_TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?$")


def normalise(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, str):
        if _ID.match(value):
            return "<id>"
        if _TS.match(value):
            return "<ts>"
    if hasattr(value, "isoformat"):
        return "<ts>"
    return value


# ---- the production side of the parity rule, on the engine in production mode
# (the production server's HTTP layer adds nothing to state or events; see its own suite)

def production_script_a(workflow: dict[str, Any]) -> dict[str, Any]:
    """Answer script A (A4 with its image sub-action) on a production-mode engine."""
    from datetime import timedelta

    import msgspec

    from engine.clock import FixedClock
    from engine.execution import ExecOptions
    from engine.ids import SequentialIds
    from engine.processor import StartCommand
    from engine.wire import EventFilters, InteractionResponseData
    from tests.acceptance.script_a import ANSWERS, IMAGE_PARAMS, image_answer
    from tests.conftest import T0, make_engine

    eng = make_engine(mode="production", ids=SequentialIds(), tick=timedelta(0))
    eng.clock = FixedClock(T0, tick=timedelta(0))
    user = "usr_alice"
    response = eng.start(StartCommand(user_id=user, project_name="p1", workflow=workflow,
                                      mock=True, options=ExecOptions()))
    run_id = response.workflow_run_id
    while response.status == "awaiting_input":
        assert response.interaction_request is not None
        request = response.interaction_request
        name = request.context["module_name"]
        answer = ANSWERS.get(name)
        if name == "generate_and_select_images_v2":
            outcome = eng.run_sub_action(user, run_id, request.interaction_id, "image_generation",
                                         IMAGE_PARAMS, lambda _event: None, ExecOptions())
            answer = image_answer(msgspec.to_builtins(outcome.sub_action_result))
        assert answer is not None, name
        response = eng.respond(user, run_id, request.interaction_id,
                               msgspec.convert(answer, InteractionResponseData))
    assert response.status == "completed", response
    events = eng.list_events(user, run_id, EventFilters(limit=10_000)).events
    return {"types": [e.event_type for e in events],
            "outputs": [(e.module_name, e.data.get("outputs")) for e in events
                        if e.event_type == "module_completed"],
            "state": eng.get_state_view(user, run_id).state}


def without_generated_line(text: str) -> str:
    return "\n".join(line for line in text.split("\n") if not line.startswith("Generated:"))
