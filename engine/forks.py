"""Branches: cutting a lineage, forking a run, and finishing a fork a crash interrupted.

Every move backwards forks a new branch whose lineage is the old one cut before the fork point
(engine.md §5.1); retry stays on the current branch (ENG-29). These functions work on a
`RunSession` alone, so loading can repair a run before any operation looks at it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.ports import Clock
from engine.session import RunSession
from engine.workflow_index import ModuleRef

Doc = dict[str, Any]
#: (event_type, step_id, module_name, data) of the first event on a new branch
FirstEvent = tuple[str, str | None, str | None, Doc]


def fork_lineage(s: RunSession, keep_through: int, new_branch_id: str) -> tuple[list[Doc], list[Doc]]:
    """The lineage of a branch cut after `keep_through`, and the lineage events it keeps."""
    kept = [e for e in s.events if e["sequence"] <= keep_through]
    last_by_branch: dict[str, Doc] = {}
    for event in kept:
        last_by_branch[event["branch_id"]] = event
    lineage: list[Doc] = []
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


def branch_doc(s: RunSession, branch_id: str, lineage: list[Doc], reason: str,
               now: datetime) -> Doc:
    return {"branch_id": branch_id, "workflow_run_id": s.run_id, "lineage": lineage,
            "parent_branch_id": s.branch_id, "fork_reason": reason, "created_at": now}


def fork(s: RunSession, keep_through: int, reason: str, first_event: FirstEvent,
         new_branch_id: str, now: datetime) -> Doc:
    """Create a branch keeping lineage events with sequence ≤ `keep_through` (§5.1).

    The first event on the new branch is written before the branch document and the run
    pointer, so the unique sequence key arbitrates concurrent forks.
    """
    lineage, kept = fork_lineage(s, keep_through, new_branch_id)
    branch = branch_doc(s, new_branch_id, lineage, reason, now)
    s.switch_branch(branch, kept)
    event_type, step_id, module_name, data = first_event
    s.append(event_type, step_id, module_name, data)
    s.store.insert_branch(branch)
    s.store.update_run(s.run_id, {"current_branch_id": new_branch_id})
    s.run["current_branch_id"] = new_branch_id
    return branch


def fork_point(s: RunSession, target: ModuleRef) -> Doc | None:
    """`E` of §11 step 4: the target's last start, else the first start of a later module."""
    event: Doc
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


def repair_interrupted_fork(s: RunSession, clock: Clock) -> bool:
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
            branch = branch_doc(s, str(new_branch), lineage, reason, clock.now())
            s.store.insert_branch(branch)
        s.store.update_run(s.run_id, {"current_branch_id": new_branch})
        s.run["current_branch_id"] = new_branch
        s.switch_branch(branch, [*kept, doc])
        return True
    return False
