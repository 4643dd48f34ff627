"""Moving a run's position: forks, retry, jump back, jump to interaction, run to target.

Retry stays on the current branch (ENG-29); every move backwards forks a new branch whose
lineage is the old one cut before the fork point (engine.md §5.1, §11, §12, §14).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine import cursor as cur
from engine.errors import InvalidTarget, ModuleNotFound
from engine.progress import flat_position
from engine.session import RunSession
from engine.workflow_index import ModuleRef

if TYPE_CHECKING:
    from engine.execution import Runner


def fork_lineage(s: RunSession, keep_through: int, new_branch_id: str
                 ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The lineage of a branch cut after `keep_through`, and the lineage events it keeps."""
    kept = [e for e in s.events if e["sequence"] <= keep_through]
    last_by_branch: dict[str, dict[str, Any]] = {}
    for event in kept:
        last_by_branch[event["branch_id"]] = event
    lineage: list[dict[str, Any]] = []
    for entry in s.branch["lineage"]:
        last = last_by_branch.get(entry["branch_id"])
        if last is None:
            continue
        cut = entry.get("cutoff_sequence")
        new_cut = keep_through if cut is None else min(int(cut), keep_through)
        lineage.append({"branch_id": entry["branch_id"], "cutoff_sequence": new_cut,
                        "cutoff_event_id": last["event_id"]})
    lineage.append({"branch_id": new_branch_id, "cutoff_sequence": None, "cutoff_event_id": None})
    return lineage, kept


def _branch_doc(s: RunSession, branch_id: str, lineage: list[dict[str, Any]], reason: str,
                now: Any) -> dict[str, Any]:
    return {"branch_id": branch_id, "workflow_run_id": s.run_id, "lineage": lineage,
            "parent_branch_id": s.branch_id, "fork_reason": reason, "created_at": now}


def fork(s: RunSession, keep_through: int, reason: str, first_event: tuple[str, str | None,
         str | None, dict[str, Any]], ids_new_branch: str, now: Any) -> dict[str, Any]:
    """Create a branch keeping lineage events with sequence ≤ `keep_through` (§5.1).

    The first event on the new branch is written before the branch document and the run
    pointer, so the unique sequence key arbitrates concurrent forks.
    """
    lineage, kept = fork_lineage(s, keep_through, ids_new_branch)
    branch = _branch_doc(s, ids_new_branch, lineage, reason, now)
    s.switch_branch(branch, kept)
    event_type, step_id, module_name, data = first_event
    s.append(event_type, step_id, module_name, data)
    s.store.insert_branch(branch)
    s.store.update_run(s.run_id, {"current_branch_id": ids_new_branch})
    s.run["current_branch_id"] = ids_new_branch
    return branch


def fork_point(s: RunSession, target: ModuleRef) -> dict[str, Any] | None:
    """`E` of §11 step 4: the target's last start, else the first start of a later module."""
    for event in reversed(s.events):
        if event["event_type"] == "module_started" and event.get("module_name") == target.module_name \
                and event.get("step_id") == target.step_id:
            return event
    for event in s.events:
        if event["event_type"] != "module_started":
            continue
        ref = s.index.find(str(event.get("step_id")), str(event.get("module_name")))
        if ref is not None and ref.flat_index > target.flat_index:
            return event
    return None


def repair_interrupted_fork(s: RunSession, clock: Any) -> bool:
    """Finish a fork whose `jump_requested` was written but not its branch or run pointer.

    A crash between the writes of §5.1 leaves the event behind; every reader completes steps
    4–5 from it before doing anything else.
    """
    last_seq = s.events[-1]["sequence"] if s.events else 0
    if s.next_sequence - 1 <= last_seq:
        return False
    docs, _total = s.store.find_events(s.run_id, None, "jump_requested", None, last_seq, 50)
    for doc in docs:
        data = doc.get("data") or {}
        new_branch = data.get("new_branch_id")
        if data.get("from_branch_id") != s.branch_id or new_branch in (None, s.branch_id) \
                or doc["branch_id"] != new_branch:
            continue
        if data.get("source") == "interaction":
            answered = s.response_event(str(data.get("interaction_id")))
            keep = int(answered["sequence"]) - 1 if answered else None
            reason = "jump_to_interaction"
        else:
            target = s.index.find(str(data.get("target_step")), str(data.get("target_module")))
            point = fork_point(s, target) if target is not None else None
            keep = int(point["sequence"]) - 1 if point else None
            reason = "target" if data.get("source") == "target" else "jump"
        if keep is None:
            continue
        lineage, kept = fork_lineage(s, keep, str(new_branch))
        branch = s.store.get_branch(str(new_branch))
        if branch is None:
            branch = _branch_doc(s, str(new_branch), lineage, reason, clock.now())
            s.store.insert_branch(branch)
        s.store.update_run(s.run_id, {"current_branch_id": new_branch})
        s.run["current_branch_id"] = new_branch
        s.switch_branch(branch, kept + [doc])
        return True
    return False


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


def do_retry(runner: "Runner", target: ModuleRef, feedback: str, retry_groups: list[Any],
             source: str, interaction_id: str | None, option_id: str | None) -> None:
    runner.s.append("retry_requested", target.step_id, target.module_name, {
        "target_step": target.step_id, "target_module": target.module_name, "feedback": feedback,
        "retry_groups": retry_groups, "source": source, "interaction_id": interaction_id,
        "option_id": option_id})


def _step_started_in(events: list[dict[str, Any]], step_id: str) -> bool:
    started = False
    for event in events:
        if event.get("step_id") != step_id:
            continue
        if event["event_type"] == "step_started":
            started = True
        elif event["event_type"] == "step_completed":
            started = False
    return started


def do_jump(runner: "Runner", target: ModuleRef, source: str) -> None:
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
    new_branch = runner.eng.ids.new_id("br_")
    data["new_branch_id"] = new_branch
    data["step_started"] = _step_started_in(kept, target.step_id)
    fork(s, keep, reason, ("jump_requested", target.step_id, target.module_name, data),
         new_branch, runner.eng.clock.now())


def jump_to_interaction(runner: "Runner", request_event: dict[str, Any],
                        response_event: dict[str, Any]) -> None:
    """Reopen an answered interaction on a new branch without executing anything (§12)."""
    s = runner.s
    new_branch = runner.eng.ids.new_id("br_")
    interaction_id = request_event["data"]["interaction_id"]
    data = {"target_step": request_event["step_id"], "target_module": request_event["module_name"],
            "from_branch_id": s.branch_id, "new_branch_id": new_branch, "source": "interaction",
            "interaction_id": interaction_id, "step_started": True}
    fork(s, int(response_event["sequence"]) - 1, "jump_to_interaction",
         ("jump_requested", request_event["step_id"], request_event["module_name"], data),
         new_branch, runner.eng.clock.now())


def latest_config_hash(s: RunSession, ref: ModuleRef) -> str | None:
    for event in reversed(s.events):
        if event["event_type"] == "module_started" and event.get("module_name") == ref.module_name \
                and event.get("step_id") == ref.step_id:
            return (event.get("data") or {}).get("config_hash")
    return None


def approach_target(runner: "Runner", target: ModuleRef) -> bool:
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


def require_module(s: RunSession, module_name: str) -> ModuleRef:
    ref = s.index.by_name(module_name)
    if ref is None:
        raise ModuleNotFound(f"Module '{module_name}' not found", details={"module_name": module_name})
    return ref


def default_retry_feedback(s: RunSession, target: Any) -> str:
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
