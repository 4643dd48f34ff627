"""The position of a run, folded from its lineage events (engine.md §7.1).

The fold never counts events, so duplicates or repeated executions cannot shift the position.
It also tracks a pending retry so that the retried module gets its transient retry keys even
when the operation is resumed after a crash (engine.md §10 step 5), and each step's latest
start and completion, so the completed steps of every response come from the fold instead of
a scan of the whole lineage (issue 13: a warm request is O(change)).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

#: where a run stands between two events (the rows of the §7.1 table)
Phase = Literal["start", "before_module", "running", "awaiting_input", "response_received",
                "after_module", "after_step", "failed", "completed"]
#: what an `interaction_response` asked for (engine.md §9.2 step 5)
Intent = Literal["continue", "retry", "jump"]

START: Final = "start"
BEFORE: Final = "before_module"
RUNNING: Final = "running"
AWAITING: Final = "awaiting_input"
RESPONSE: Final = "response_received"
AFTER_MODULE: Final = "after_module"
AFTER_STEP: Final = "after_step"
FAILED: Final = "failed"
COMPLETED: Final = "completed"


@dataclass
class Cursor:
    phase: Phase = START
    step_id: str | None = None
    module_name: str | None = None
    interaction_id: str | None = None
    intent: Intent | None = None
    started_steps: set[str] = field(default_factory=set)
    #: (step_id, module_name, feedback) of a retry whose target has not started yet
    retry: tuple[str, str, str] | None = None
    #: `{error_type, error}` of the `module_error` that left the run `failed`
    error: dict[str, Any] | None = None
    #: each step's latest `step_started` sequence
    step_starts: dict[str, int] = field(default_factory=dict)
    #: each step's latest `step_completed` sequence, in order of first completion
    step_ends: dict[str, int] = field(default_factory=dict)

    def copy(self) -> Cursor:
        return Cursor(self.phase, self.step_id, self.module_name, self.interaction_id,
                      self.intent, set(self.started_steps), self.retry, self.error,
                      dict(self.step_starts), dict(self.step_ends))

    def completed_steps(self) -> list[str]:
        """Distinct step ids with a `step_completed` after their latest `step_started`, in
        order of first completion (ENG-23)."""
        starts = self.step_starts
        return [s for s, seq in self.step_ends.items() if seq > starts.get(s, 0)]


def apply(cursor: Cursor, event: dict[str, Any]) -> None:
    """Advance `cursor` in place by one lineage event (the table of engine.md §7.1)."""
    kind = event["event_type"]
    step_id: Any = event.get("step_id")
    module_name: Any = event.get("module_name")
    data = event.get("data") or {}
    if kind == "workflow_created":
        cursor.phase, cursor.step_id, cursor.module_name = START, None, None
        cursor.interaction_id = cursor.intent = None
        cursor.started_steps = set()
        cursor.retry = cursor.error = None
    elif kind == "step_started":
        cursor.started_steps.add(step_id)
        cursor.step_starts[step_id] = event.get("sequence", 0)
    elif kind == "module_started":
        _set(cursor, RUNNING, step_id, module_name)
        if cursor.retry is not None and cursor.retry[:2] != (step_id, module_name):
            cursor.retry = None
    elif kind == "interaction_requested":
        _set(cursor, AWAITING, step_id, module_name, data.get("interaction_id"))
    elif kind == "interaction_response":
        _set(cursor, RESPONSE, step_id, module_name, data.get("interaction_id"))
        cursor.intent = data.get("intent")
    elif kind == "module_completed":
        _set(cursor, AFTER_MODULE, step_id, module_name)
        cursor.retry = None
    elif kind == "module_error":
        _set(cursor, FAILED, step_id, module_name)
        cursor.error = {"error_type": data.get("error_type"), "error": data.get("error")}
    elif kind == "step_completed":
        _set(cursor, AFTER_STEP, step_id, None)
        cursor.started_steps.discard(step_id)
        cursor.step_ends[step_id] = event.get("sequence", 0)
    elif kind == "workflow_completed":
        _set(cursor, COMPLETED, None, None)
    elif kind == "retry_requested":
        _set(cursor, BEFORE, step_id, module_name)
        cursor.retry = (step_id, module_name, data.get("feedback") or "")
    elif kind == "jump_requested":
        if data.get("source") == "interaction":
            _set(cursor, AWAITING, step_id, module_name, data.get("interaction_id"))
            cursor.started_steps = {step_id}
        else:
            _set(cursor, BEFORE, step_id, module_name)
            cursor.started_steps = {step_id} if data.get("step_started") else set()
        cursor.retry = None
    # interaction_refreshed and sub_action_* leave the position unchanged


def _set(cursor: Cursor, phase: Phase, step_id: str | None, module_name: str | None,
         interaction_id: str | None = None) -> None:
    cursor.phase = phase
    cursor.step_id = step_id
    cursor.module_name = module_name
    cursor.interaction_id = interaction_id
    cursor.intent = None
    if phase != FAILED:
        cursor.error = None


def fold(events: list[dict[str, Any]]) -> Cursor:
    cursor = Cursor()
    for event in events:
        apply(cursor, event)
    return cursor
