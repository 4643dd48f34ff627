"""Loading a run for an operation: ownership, branch, lineage, version and index (engine.md §5).

Another user's run looks exactly like a missing one (AUTH-5), and a fork a crash interrupted is
finished before anything reads the session (§5.1). With the caches on, the lineage comes from
the run's fold (engine/fold_cache.py) checked with one read, and the session is kept as the
run's new fold when the operation ends.
"""

from __future__ import annotations

from typing import Any

import engine.cursor as cur
from engine.context import EngineContext
from engine.errors import NotFound
from engine.fold_cache import Fold, FoldCache, same_event, stored_event_bytes, take_fold
from engine.forks import repair_interrupted_fork
from engine.session import RunSession, apply_state
from engine.workflow_index import index_for

Doc = dict[str, Any]


def _folds(ctx: EngineContext) -> FoldCache:
    folds = ctx.folds
    assert folds is not None  # set by EngineContext.__post_init__
    return folds


def require_run(ctx: EngineContext, user_id: str, run_id: str) -> dict[str, Any]:
    """The run document if `user_id` owns it; otherwise the same `NotFound` as a missing run."""
    return _owned(ctx.store.get_run(run_id), user_id, run_id)


def _owned(run: Doc | None, user_id: str, run_id: str) -> Doc:
    if run is None or run.get("user_id") != user_id:
        raise NotFound("Workflow run not found", details={"workflow_run_id": run_id})
    return run


def load_session(ctx: EngineContext, user_id: str, run_id: str,
                 mock: bool | None = None) -> RunSession:
    """A session over the run's current branch; `mock` overrides the run's flag (virtual only)."""
    folds = _candidates(ctx, run_id)
    if not folds:
        run, newer = require_run(ctx, user_id, run_id), None
    else:  # the run and the fold's check in one go (the production store reads both at once)
        found, newer = ctx.store.run_and_events_from(run_id, folds[0].sequence)
        run = _owned(found, user_id, run_id)
    effective_mock = bool(run.get("mock")) if (mock is None or ctx.mode == "production") else mock
    session = None
    if folds and newer is not None:
        session = _from_folds(ctx, folds, run, newer, effective_mock)
    if session is None:
        session = _load_full(ctx, run, effective_mock)
    repair_interrupted_fork(session, ctx.clock)
    return session


def _candidates(ctx: EngineContext, run_id: str) -> tuple[Fold, ...]:
    """The folds a load checks: on the virtual server all the run's (each blob the editor
    sends holds the run at some checkpoint), in production the newest only (its store only
    moves forward, so an older anchor never serves)."""
    folds = _folds(ctx).candidates(run_id)
    return folds if ctx.mode == "virtual" else folds[:1]


def _load_full(ctx: EngineContext, run: Doc, mock: bool) -> RunSession:
    """Read the branch, the lineage and the version, and fold the lineage."""
    run_id = str(run["workflow_run_id"])
    branch = ctx.store.get_branch(str(run["current_branch_id"]))
    if branch is None:
        raise NotFound("Workflow run branch not found", details={"workflow_run_id": run_id})
    events = ctx.store.lineage_events(run_id, list(branch["lineage"]))
    version = ctx.store.get_version(str(run["current_workflow_version_id"]))
    if version is None:
        raise NotFound("Workflow version not found", details={"workflow_run_id": run_id})
    index = index_for(str(version["workflow_version_id"]), version["resolved_workflow"])
    if not _folds(ctx).enabled or not events:
        return RunSession(store=ctx.store, clock=ctx.clock, ids=ctx.ids, run=run, branch=branch,
                          events=events, version=version, index=index,
                          next_sequence=ctx.store.max_sequence(run_id) + 1, mock=mock)
    # the events from the last lineage event on give the run's highest sequence (an index
    # range, where the highest-sequence query of the path above may scan the run's events);
    # the fold keeps the indexed workflow, so the folds of one version share one copy
    version = {**version, "resolved_workflow": index.workflow}
    last = events[-1]
    session = RunSession(store=ctx.store, clock=ctx.clock, ids=ctx.ids, run=run, branch=branch,
                         events=events, version=version, index=index,
                         next_sequence=int(last["sequence"]) + 1, mock=mock, anchor=last)
    fold_forward(session, ctx.store.events_from(run_id, int(last["sequence"])))
    _folds(ctx).record(False)
    keep_fold(ctx, session, None, stored_event_bytes(ctx.store, run_id))
    return session


def _from_folds(ctx: EngineContext, folds: tuple[Fold, ...], run: Doc, newer: list[Doc],
                mock: bool) -> RunSession | None:
    """The session from the first of `folds` whose anchor the store holds, else None. `newer`
    holds the run's events from the first fold's anchor on; a later candidate is read again
    only when its anchor comes before what was read."""
    read_from = folds[0].sequence  # `newer` holds the run's events from this sequence on
    for n, fold in enumerate(folds):
        if not fold.matches(run):
            continue
        if n > 0 and fold.sequence < read_from:
            newer = ctx.store.events_from(fold.run_id, fold.sequence)
            read_from = fold.sequence
        at = fold.sequence - read_from  # sequences are contiguous: else a miss, never a wrong hit
        if at < len(newer) and int(newer[at]["sequence"]) == fold.sequence \
                and same_event(newer[at], fold.anchor):
            return _from_fold(ctx, fold, run, newer[at:], mock)
    if ctx.mode != "virtual":
        _folds(ctx).drop(str(run["workflow_run_id"]))
    return None


def _from_fold(ctx: EngineContext, fold: Fold, run: Doc, newer: list[Doc],
               mock: bool) -> RunSession:
    """The session from `fold`, whose anchor the store holds as the first of `newer` (the
    run's events from the anchor's sequence on)."""
    folds = _folds(ctx)
    start = fold.sequence
    folds.record(True)
    folds.used(fold)
    session = RunSession(store=ctx.store, clock=ctx.clock, ids=ctx.ids, run=run,
                         branch=fold.branch, events=list(fold.events), version=fold.version,
                         index=fold.index, next_sequence=start + 1, mock=mock,
                         cursor=fold.cursor.copy(), state=dict(fold.state), anchor=fold.anchor,
                         prefolded=True, fold_base=fold, nodes=dict(fold.nodes))
    if len(newer) > 1:
        fold_forward(session, newer[1:])
        keep_fold(ctx, session, fold)
    return session


def fold_forward(session: RunSession, newer: list[Doc]) -> None:
    """Fold the run's events written after the session's anchor (by sequence, all branches):
    those of the session's branch extend its lineage, every one moves the next sequence."""
    for event in newer:
        sequence = int(event["sequence"])
        if sequence < session.next_sequence:
            continue
        if event.get("branch_id") == session.branch_id:
            session.events.append(event)
            cur.apply(session.cursor, event)
            apply_state(session.state, event, session.nodes)
        session.next_sequence = sequence + 1
        session.anchor = event


def keep_fold(ctx: EngineContext, session: RunSession, base: Fold | None,
              events_bytes: int | None = None) -> None:
    """Keep the session's lineage as the run's fold (a copy; the session goes on changing);
    `events_bytes`: the store's estimate of its events' size, when it has one."""
    folds = _folds(ctx)
    if session.anchor is None or not folds.enabled:
        return
    fold = take_fold(session.run_id, str(session.run.get("user_id")), session.branch,
                     session.version, session.index, session.events, session.cursor,
                     session.state, session.nodes, session.anchor, base,
                     folds.version_bytes(session.version), events_bytes)
    session.fold_base = fold
    folds.put(fold, keep_others=ctx.mode == "virtual")


def forget_fold(ctx: EngineContext, run_id: str) -> None:
    """An operation that failed midway may have written what its session does not show."""
    _folds(ctx).drop(run_id)
