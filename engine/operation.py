"""The one operation runner: lock → load → body → finish, never raising an execution error.

Every executing operation is a body (a function of a `Runner`) handed to `run_operation`. The
runner arms the deadline at the operation's entry, serialises on the run's lock, loads the
session and runs the body so that no exception can strand the run (issue 15): an unexpected one
closes the open module with a typed `module_error` (`internal_error` unless it is an engine
error), so the run is in a coherent `error` state that retry, jump or continue can leave.

Request errors (a store outage, a lost race, a missing run) still propagate: they are not the
run's fault, and the crash-recovery rules re-run the open module next time (ENG-22, ENG-54). If
closing the module fails too (the store is broken), the original exception propagates and the
servers answer 500 `internal_error`; the run is then exactly as after a crash.

`finish` rewrites the run projection (ENG-9), stores the answers' outcomes (§18.1) and builds the
response from the stop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import msgspec

import engine.cursor as cur
from engine.answers import auto_answer
from engine.context import EngineContext
from engine.errors import EngineError, ExecutionError, InternalError, RequestError
from engine.execution import Runner
from engine.loading import forget_fold, keep_fold, load_session
from engine.outcomes import CANCELLATIONS, ExecOptions, Stop, arm_deadline
from engine.progress import run_projection
from engine.responses import response_for_stop
from engine.session import RunSession
from engine.wire import WorkflowResponse

log = logging.getLogger("engine.operation")

#: what a body returns: why it stopped, or a response that is already final (a stored replay)
Outcome = Stop | WorkflowResponse
Body = Callable[[Runner], Outcome]

PROJECTION_KEYS = ("status", "current_step", "current_step_name", "current_module",
                   "completed_steps", "error_type", "error_message", "completed_at")


def new_runner(ctx: EngineContext, session: RunSession, opts: ExecOptions, *,
               adopt_ai_config: bool = True) -> Runner:
    """A runner with the driver's auto-answer hook when the call asks for auto-respond."""
    hook = auto_answer if opts.auto_respond is not None else None
    runner = Runner(ctx, session, opts, on_pending=hook)
    if adopt_ai_config:
        runner.adopt_ai_config()
    return runner


def run_operation(ctx: EngineContext, user_id: str, run_id: str, opts: ExecOptions, body: Body,
                  *, adopt_ai_config: bool = True) -> WorkflowResponse:
    """Run `body` as one operation on the run. With `adopt_ai_config=False` the body decides
    when the call's AI config is taken over (an answer adopts it only once accepted, ENG-5)."""
    arm_deadline(opts, ctx.settings.operation_deadline_s)
    with ctx.locks.hold(run_id):
        session = load_session(ctx, user_id, run_id, opts.mock)
        try:
            runner = new_runner(ctx, session, opts, adopt_ai_config=adopt_ai_config)
            outcome = run_guarded(runner, body)
            response = outcome if isinstance(outcome, WorkflowResponse) else finish(runner, outcome)
            ctx.store.flush()  # writes a store held back land before the lock is released
        except BaseException:
            forget_fold(ctx, run_id)
            _flush_quietly(ctx)
            raise
        keep_fold(ctx, session, session.fold_base)
        return response


def _flush_quietly(ctx: EngineContext) -> None:
    """An operation that raised: what it wrote is written as without a batch; its error wins."""
    try:
        ctx.store.flush()
    except Exception:
        log.warning("writes of a failed operation could not be made", exc_info=True)


def finish(runner: Runner, stop: Stop) -> WorkflowResponse:
    """Rewrite the projection, record answer outcomes and build the response."""
    s, store, clock = runner.s, runner.ctx.store, runner.ctx.clock
    response = response_for_stop(runner, stop)
    projection = run_projection(s.index, s.cursor, s.events, clock.now())
    changed = any(s.run.get(k) != projection[k] for k in PROJECTION_KEYS)
    if runner.new_ai_config is not None:
        projection["ai_config"] = runner.new_ai_config
        changed = True
    # A refused operation (bad target, position missing from the version, cancelled before
    # any module) writes nothing at all, not even the projection (ENG-5, ENG-21, ENG-48).
    refused = s.writes == 0 and stop.kind in ("error", "cancelled")
    if not refused and (s.writes or changed):
        store.update_run(s.run_id, projection)
        s.run.update(projection)
    if s.answers:
        outcome = msgspec.to_builtins(response)
        now = clock.now()
        for answer in s.answers:
            store.set_answer_outcome(s.run_id, answer.interaction_id, answer.branch_id,
                                     outcome, now)
    return response


# ---------------------------------------------------------------------- never strand a run


def run_guarded(runner: Runner, body: Body) -> Outcome:
    """`body(runner)`, with every exception but a request error turned into a stop."""
    try:
        return body(runner)
    except RequestError:
        raise
    except CANCELLATIONS:
        return Stop("cancelled")
    except ExecutionError as exc:
        if _open_module(runner) is None:
            return Stop.error(exc, runner.sanitize(exc.message))
        return close_open_module(runner, exc)
    except Exception as exc:
        log.exception("unexpected error in an operation on run %s", runner.s.run_id)
        return close_open_module(runner, _internal(runner, exc))


def _open_module(runner: Runner) -> tuple[str, str] | None:
    """(step_id, module_name) of a module started but not ended on the lineage, if any."""
    c = runner.s.cursor
    if c.phase in (cur.RUNNING, cur.RESPONSE) and c.step_id and c.module_name:
        return c.step_id, c.module_name
    return None


def _internal(runner: Runner, exc: Exception) -> EngineError:
    if isinstance(exc, EngineError):
        return exc
    where = _open_module(runner)
    place = f" in module '{where[1]}'" if where else ""
    return InternalError(f"Unexpected error{place} ({type(exc).__name__}); the run stopped "
                         "there and can be retried or continued",
                         details={"exception": type(exc).__name__})


def close_open_module(runner: Runner, exc: EngineError) -> Stop:
    """Write `module_error` for the open module (if any) and return the matching error stop."""
    where = _open_module(runner)
    ref = runner.s.index.find(*where) if where is not None else None
    if ref is None:
        return Stop.error(exc, runner.sanitize(exc.message))
    phase = "response" if runner.s.cursor.phase == cur.RESPONSE else runner.module_phase
    return runner.fail(ref, phase, exc)
