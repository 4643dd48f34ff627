"""Every `sub_action_started` gets exactly one end event, even when its worker is lost.

A media sub-action runs as a background job (production). If the process running it dies, the
`sub_action_started` it wrote would stay open for good: the stale-task sweep marks the task
failed and then calls `close_lost_sub_action`, which writes the `sub_action_failed` (engine.md
§13.1, `error_type: "worker_lost"`) the dead worker never wrote. If the worker was only stalled
and comes back, `execution_closed` stops it from writing a second end event.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from engine.context import EngineContext
from engine.errors import NotFound
from engine.loading import load_session

END_EVENTS = ("sub_action_completed", "sub_action_failed")
LOST_ERROR_TYPE = "worker_lost"


def _execution_id(event: dict[str, Any]) -> Any:
    return (event.get("data") or {}).get("execution_id")


def execution_closed(events: list[dict[str, Any]], execution_id: str) -> bool:
    """True when the lineage already holds an end event of this execution."""
    return any(e["event_type"] in END_EVENTS and _execution_id(e) == execution_id for e in events)


def open_executions(events: list[dict[str, Any]], interaction_id: str,
                    sub_action_id: str) -> list[dict[str, Any]]:
    """The `sub_action_started` events of this interaction's sub-action that have no end event."""
    ended = {_execution_id(e) for e in events if e["event_type"] in END_EVENTS}
    return [e for e in events if e["event_type"] == "sub_action_started"
            and (e.get("data") or {}).get("interaction_id") == interaction_id
            and (e.get("data") or {}).get("sub_action_id") == sub_action_id
            and _execution_id(e) not in ended]


def close_lost_sub_action(ctx: EngineContext, user_id: str, run_id: str, interaction_id: str,
                          sub_action_id: str, execution_id: str | None,
                          exclude: Collection[str] = (),
                          message: str = "worker lost") -> list[str]:
    """Write `sub_action_failed` for the lost execution; returns the execution ids closed.

    `execution_id` is the one the lost task reported; when it never got to report one, every
    open execution of the same interaction and sub-action is closed except those in `exclude`
    (the executions of other tasks that are still alive). A deleted run needs nothing.
    """
    with ctx.locks.hold(run_id):
        try:
            s = load_session(ctx, user_id, run_id)
        except NotFound:
            return []
        targets = [e for e in open_executions(s.events, interaction_id, sub_action_id)
                   if (_execution_id(e) == execution_id if execution_id is not None
                       else _execution_id(e) not in exclude)]
        closed: list[str] = []
        for started in targets:
            data = started.get("data") or {}
            s.append("sub_action_failed", started.get("step_id"), started.get("module_name"), {
                "execution_id": data.get("execution_id"), "sub_action_id": sub_action_id,
                "interaction_id": interaction_id, "kind": data.get("kind"),
                "child_workflow_run_id": None, "error_type": LOST_ERROR_TYPE, "error": message})
            closed.append(str(data.get("execution_id")))
        return closed
