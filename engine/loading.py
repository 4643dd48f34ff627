"""Loading a run for an operation: ownership, branch, lineage, version and index (engine.md §5).

Another user's run looks exactly like a missing one (AUTH-5), and a fork a crash interrupted is
finished before anything reads the session (§5.1).
"""

from __future__ import annotations

from typing import Any

from engine.context import EngineContext
from engine.errors import NotFound
from engine.forks import repair_interrupted_fork
from engine.session import RunSession
from engine.workflow_index import index_for


def require_run(ctx: EngineContext, user_id: str, run_id: str) -> dict[str, Any]:
    """The run document if `user_id` owns it; otherwise the same `NotFound` as a missing run."""
    run = ctx.store.get_run(run_id)
    if run is None or run.get("user_id") != user_id:
        raise NotFound("Workflow run not found", details={"workflow_run_id": run_id})
    return run


def load_session(ctx: EngineContext, user_id: str, run_id: str,
                 mock: bool | None = None) -> RunSession:
    """A session over the run's current branch; `mock` overrides the run's flag (virtual only)."""
    run = require_run(ctx, user_id, run_id)
    branch = ctx.store.get_branch(str(run["current_branch_id"]))
    if branch is None:
        raise NotFound("Workflow run branch not found", details={"workflow_run_id": run_id})
    events = ctx.store.lineage_events(run_id, list(branch["lineage"]))
    version = ctx.store.get_version(str(run["current_workflow_version_id"]))
    if version is None:
        raise NotFound("Workflow version not found", details={"workflow_run_id": run_id})
    index = index_for(str(version["workflow_version_id"]), version["resolved_workflow"])
    effective_mock = bool(run.get("mock")) if (mock is None or ctx.mode == "production") else mock
    session = RunSession(store=ctx.store, clock=ctx.clock, ids=ctx.ids, run=run, branch=branch,
                         events=events, version=version, index=index,
                         next_sequence=ctx.store.max_sequence(run_id) + 1, mock=effective_mock)
    repair_interrupted_fork(session, ctx.clock)
    return session
