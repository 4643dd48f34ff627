"""Moving a run's position: retry, jump back, jump to an interaction, approach a target.

Retry stays on the current branch (ENG-29); every move backwards forks a new branch through
engine/forks.py (engine.md §11, §12, §14). Scope checks raise before anything is written.
"""

from __future__ import annotations

from typing import Any

import engine.cursor as cur
from engine.errors import InvalidTarget
from engine.execution import Runner
from engine.forks import fork, fork_point
from engine.outcomes import MoveSource
from engine.progress import flat_position
from engine.session import RunSession
from engine.workflow_index import ModuleRef

Doc = dict[str, Any]


def cursor_module_index(s: RunSession) -> tuple[str | None, int]:
    """The cursor's step and module index within it (after_step: the step's last module)."""
    c = s.cursor
    if c.step_id is None:
        return None, -1
    if c.module_name is None:
        return c.step_id, len(s.index.step_modules(c.step_id)) - 1
    ref = s.index.find(c.step_id, c.module_name)
    return c.step_id, (ref.module_index if ref else -1)


def check_retry_scope(s: RunSession, target: ModuleRef) -> None:
    reason = {"reason": "retry target must be in the current step at or before the current module"}
    if s.cursor.phase == cur.COMPLETED:
        raise InvalidTarget("A completed run cannot be retried", details=dict(reason))
    c = s.cursor
    if c.step_id is not None and (c.module_name is not None or not s.index.has_step(c.step_id)):
        s.index.require_position(c.step_id, c.module_name)  # ENG-21 before the scope check
    step_id, module_index = cursor_module_index(s)
    if step_id != target.step_id or target.module_index > module_index:
        raise InvalidTarget(f"Module '{target.module_name}' cannot be retried from here",
                            details=dict(reason))


def jump_scope_ok(s: RunSession, target: ModuleRef) -> bool:
    if s.cursor.phase == cur.COMPLETED:
        return True
    ref = None
    if s.cursor.step_id is not None and s.cursor.module_name is not None:
        ref = s.index.find(s.cursor.step_id, s.cursor.module_name)
    position = ref.flat_index if ref is not None else flat_position(s.index, s.cursor)
    return target.flat_index <= position


def do_retry(runner: Runner, target: ModuleRef, feedback: str, retry_groups: list[Any],
             source: MoveSource, interaction_id: str | None, option_id: str | None) -> None:
    runner.s.append("retry_requested", target.step_id, target.module_name, {
        "target_step": target.step_id, "target_module": target.module_name, "feedback": feedback,
        "retry_groups": retry_groups, "source": source, "interaction_id": interaction_id,
        "option_id": option_id})


def _step_started_in(events: list[Doc], step_id: str) -> bool:
    started = False
    for event in events:
        if event.get("step_id") != step_id:
            continue
        if event["event_type"] == "step_started":
            started = True
        elif event["event_type"] == "step_completed":
            started = False
    return started


def do_jump(runner: Runner, target: ModuleRef, source: MoveSource) -> None:
    """Fork before the target's last start and write `jump_requested` (§11 steps 4–5)."""
    s = runner.s
    fork_event = fork_point(s, target)
    reason = "target" if source == "target" else "jump"
    data = {"target_step": target.step_id, "target_module": target.module_name,
            "from_branch_id": s.branch_id, "new_branch_id": s.branch_id, "source": source,
            "interaction_id": None, "step_started": False}
    if fork_event is None:
        data["step_started"] = _step_started_in(s.events, target.step_id)
        s.append("jump_requested", target.step_id, target.module_name, data)
        return
    keep = int(fork_event["sequence"]) - 1
    kept = [e for e in s.events if e["sequence"] <= keep]
    new_branch = runner.ctx.ids.new_id("br_")
    data["new_branch_id"] = new_branch
    data["step_started"] = _step_started_in(kept, target.step_id)
    fork(s, keep, reason, ("jump_requested", target.step_id, target.module_name, data),
         new_branch, runner.ctx.clock.now())


def jump_to_interaction(runner: Runner, request_event: Doc, response_event: Doc) -> None:
    """Reopen an answered interaction on a new branch without executing anything (§12)."""
    s = runner.s
    new_branch = runner.ctx.ids.new_id("br_")
    interaction_id = request_event["data"]["interaction_id"]
    data = {"target_step": request_event["step_id"], "target_module": request_event["module_name"],
            "from_branch_id": s.branch_id, "new_branch_id": new_branch, "source": "interaction",
            "interaction_id": interaction_id, "step_started": True}
    fork(s, int(response_event["sequence"]) - 1, "jump_to_interaction",
         ("jump_requested", request_event["step_id"], request_event["module_name"], data),
         new_branch, runner.ctx.clock.now())


def latest_config_hash(s: RunSession, ref: ModuleRef) -> str | None:
    for event in reversed(s.events):
        if event["event_type"] == "module_started" and event.get("module_name") == ref.module_name \
                and event.get("step_id") == ref.step_id:
            found = (event.get("data") or {}).get("config_hash")
            return None if found is None else str(found)
    return None


def approach_target(runner: Runner, target: ModuleRef) -> bool:
    """Steps 2–5 of §14.1. Returns False when the target's interaction is already pending."""
    s = runner.s
    c = flat_position(s.index, s.cursor)
    t = target.flat_index
    if t < c:
        do_jump(runner, target, "target")
        return True
    if t == c and s.cursor.phase == cur.AWAITING:
        if latest_config_hash(s, target) != s.index.config_hash(target):
            do_jump(runner, target, "target")
            return True
        return False
    return True


def default_retry_feedback(s: RunSession, target: ModuleRef) -> str:
    """The default message of a retry option on the cursor's module that targets `target`."""
    c = s.cursor
    ref = s.index.find(c.step_id or "", c.module_name or "")
    if ref is None:
        return ""
    for option in (ref.config.get("retryable") or {}).get("options") or []:
        if str(option.get("mode", "")).startswith("retry") and \
                (option.get("target_module") or ref.module_name) == target.module_name:
            return str((option.get("feedback") or {}).get("default_message") or "")
    return ""
