"""Sub-actions: work triggered while an interaction is pending (engine.md §13).

The run lock is held only while checking and writing (steps 1–3 and 6–9), so a long media
generation never blocks answering (ENG-34). The two kinds run in engine/sub_action_kinds.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Literal

import msgspec

from engine.context import EngineContext
from engine.errors import (
    EngineError,
    ExecutionFailed,
    InteractionNotFound,
    InteractionNotPending,
    ModuleNotFound,
    RequestError,
)
from engine.execution import Runner
from engine.input_check import check_inputs
from engine.jsonutil import normalize
from engine.loading import load_session
from engine.modules.base import InteractiveModule
from engine.outcomes import ExecOptions, ModuleCancelled
from engine.progress import request_from_event
from engine.provider_types import ProviderCancelled
from engine.result_mapping import apply_result_mapping
from engine.sanitize import sanitize_message
from engine.session import RunSession
from engine.sub_action_close import LOST_ERROR_TYPE, execution_closed
from engine.sub_action_kinds import SubActionCall, kind_of, requesting_module_id, run_self, run_target
from engine.wire import SubActionEvent, SubActionOutcome
from engine.workflow_index import ModuleRef

log = logging.getLogger("engine.sub_actions")
Doc = dict[str, Any]
Emit = Callable[[SubActionEvent], None]

__all__ = ["SubActionInfo", "apply_result_mapping", "check_sub_action", "run_sub_action"]


def find_sub_action(s: RunSession, interaction_id: str, sub_action_id: str) -> tuple[ModuleRef, Doc]:
    """Request-level checks of §13.1 step 1; raises 404/409 errors, writes nothing."""
    if s.pending_interaction_id() != interaction_id:
        if s.store.find_interaction_requests(s.run_id, interaction_id):
            raise InteractionNotPending("Interaction is not pending",
                                        details={"interaction_id": interaction_id})
        raise InteractionNotFound("Interaction not found", details={"interaction_id": interaction_id})
    event = s.latest_request_event(interaction_id)
    assert event is not None
    ref = s.index.require_position(event["step_id"], event["module_name"])
    for item in ref.config.get("sub_actions") or []:
        if isinstance(item, dict) and item.get("id") == sub_action_id:
            return ref, item
    raise ModuleNotFound(f"Sub-action '{sub_action_id}' not found",
                         details={"sub_action_id": sub_action_id})


class SubActionInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What a sub-action is, so a server can route it (e.g. media generations to a job queue)."""

    kind: Literal["self", "target"]
    module_id: str  # the interactive module that offers the sub-action


def check_sub_action(ctx: EngineContext, user_id: str, run_id: str, interaction_id: str,
                     sub_action_id: str) -> SubActionInfo:
    """Pre-stream validation for the servers (SSE-4); read-only, returns the sub-action's kind."""
    s = load_session(ctx, user_id, run_id)
    ref, config = find_sub_action(s, interaction_id, sub_action_id)
    actions = [a for a in config.get("actions") or [] if isinstance(a, dict)]
    return SubActionInfo(kind=kind_of(actions),
                         module_id=requesting_module_id(s, interaction_id, ref))


def run_sub_action(ctx: EngineContext, user_id: str, run_id: str, interaction_id: str,
                   sub_action_id: str, params: Doc, emit: Emit,
                   opts: ExecOptions) -> SubActionOutcome:
    started_at = time.monotonic()

    def progress(message: str, status: str | None = None, data: Doc | None = None) -> None:
        try:
            emit(SubActionEvent(execution_id=call.execution_id, message=message, status=status,
                                progress=data,
                                elapsed_ms=int((time.monotonic() - started_at) * 1000)))
        except Exception:
            log.exception("sub-action emit failed")

    call = SubActionCall(ctx=ctx, user_id=user_id, run_id=run_id, interaction_id=interaction_id,
                         sub_action_id=sub_action_id, params=params, opts=opts)
    outcome = SubActionOutcome(workflow_run_id=run_id, execution_id=None,
                               sub_action_id=sub_action_id, interaction_id=interaction_id,
                               status="error")
    with ctx.locks.hold(run_id):
        s = load_session(ctx, user_id, run_id, opts.mock)
        try:
            call.ref, call.config = find_sub_action(s, interaction_id, sub_action_id)
        except ModuleNotFound as exc:
            return _failed(outcome, exc)
        call.kind = kind_of(call.actions())
        call.execution_id = outcome.execution_id = sub_action_id + "_" + ctx.ids.new_hex()
        request_event = s.latest_request_event(interaction_id)
        assert request_event is not None
        s.append("sub_action_started", call.ref.step_id, call.ref.module_name, {
            "execution_id": call.execution_id, "sub_action_id": sub_action_id,
            "interaction_id": interaction_id, "kind": call.kind, "params": normalize(params)})
        parent_state = s.state_snapshot()
        mock = s.mock
    progress(str(call.config.get("loading_label") or "Processing..."))
    try:
        if call.kind == "self":
            result = run_self(call, s, request_event, mock, lambda d: progress(
                str((d.get("progress") or {}).get("message") or d.get("message") or ""),
                d.get("status"), d.get("progress")))
        else:
            call.child_run_id, result = run_target(call, s, parent_state, mock,
                                                   lambda m: progress(m))
        result = normalize(result)
    except RequestError:
        raise  # store outages and lost races propagate (ENG-54)
    except (ModuleCancelled, ProviderCancelled):
        return _write_failure(call, outcome, EngineError("Sub-action cancelled",
                                                         error_type="cancelled"))
    except EngineError as exc:
        return _write_failure(call, outcome, exc)
    except Exception as exc:  # noqa: BLE001
        return _write_failure(call, outcome, ExecutionFailed(f"Sub-action failed: {exc}"))
    return _complete(call, outcome, result)


def _complete(call: SubActionCall, outcome: SubActionOutcome, result: Any) -> SubActionOutcome:
    """Steps 6–9: map the result into the state, write the end event, refresh the request."""
    ctx, ref = call.ctx, call.ref
    assert ref is not None
    with ctx.locks.hold(call.run_id):
        s = load_session(ctx, call.user_id, call.run_id, call.opts.mock)
        if execution_closed(s.events, call.execution_id):  # swept as lost meanwhile: one end only
            return _failed(outcome, _closed_as_lost())
        try:
            state_mapped = apply_result_mapping(s.state, result,
                                                call.config.get("result_mapping") or [])
        except EngineError as exc:
            return _write_failure_locked(call, s, outcome, exc)
        applied = s.pending_interaction_id() == call.interaction_id
        if not applied:
            state_mapped = {}
        s.append("sub_action_completed", ref.step_id, ref.module_name, {
            "execution_id": call.execution_id, "sub_action_id": call.sub_action_id,
            "interaction_id": call.interaction_id, "kind": call.kind,
            "child_workflow_run_id": call.child_run_id, "result": result,
            "state_mapped": state_mapped, "applied": applied})
        refreshed = False
        if applied and state_mapped:
            refreshed = _refresh(call, s)
    outcome.status = "completed"
    outcome.updated_state = state_mapped
    outcome.sub_action_result = result
    outcome.applied = applied
    outcome.interaction_refreshed = refreshed
    return outcome


def _failed(outcome: SubActionOutcome, exc: EngineError) -> SubActionOutcome:
    outcome.status = "cancelled" if exc.error_type == "cancelled" else "error"
    outcome.error_type = exc.error_type
    outcome.message = exc.message
    outcome.details = dict(exc.details)
    return outcome


def _closed_as_lost() -> EngineError:
    return EngineError("Sub-action was closed as lost before it ended", error_type=LOST_ERROR_TYPE)


def _write_failure(call: SubActionCall, outcome: SubActionOutcome,
                   exc: EngineError) -> SubActionOutcome:
    with call.ctx.locks.hold(call.run_id):
        s = load_session(call.ctx, call.user_id, call.run_id)
        return _write_failure_locked(call, s, outcome, exc)


def _write_failure_locked(call: SubActionCall, s: RunSession, outcome: SubActionOutcome,
                          exc: EngineError) -> SubActionOutcome:
    """Write `sub_action_failed` with the error sanitised against the call's credentials (ENG-53)."""
    ref = call.ref
    assert ref is not None
    message = sanitize_message(exc.message, call.secrets)
    exc.message = message
    if execution_closed(s.events, call.execution_id):  # already closed as lost: one end only
        return _failed(outcome, _closed_as_lost())
    s.append("sub_action_failed", ref.step_id, ref.module_name, {
        "execution_id": call.execution_id, "sub_action_id": call.sub_action_id,
        "interaction_id": call.interaction_id, "kind": call.kind,
        "child_workflow_run_id": call.child_run_id, "error_type": exc.error_type,
        "error": message})
    return _failed(outcome, exc)


def _refresh(call: SubActionCall, s: RunSession) -> bool:
    """Re-resolve inputs and rebuild the pending request (§13.5); failures are logged only."""
    ref, interaction_id = call.ref, call.interaction_id
    assert ref is not None
    event = s.latest_request_event(interaction_id)
    if event is None:
        return False
    runner = Runner(call.ctx, s, call.opts)
    try:
        module = call.ctx.registry.get(str(event["data"].get("module_id") or ref.module_id))
        assert isinstance(module, InteractiveModule)
        state = s.state_snapshot()
        inputs = runner.resolve(ref.config.get("inputs") or {}, state, ref)
        inputs = check_inputs(module, inputs)
        context = runner.context(ref, state, s.next_sequence)
        previous = request_from_event(event)
        result = module.refresh_interaction_request(previous, inputs,
                                                    dict(event["data"].get("module_state") or {}),
                                                    context)
        request = runner.complete_request(result.request, ref)
        request.interaction_id = interaction_id
        s.append("interaction_refreshed", ref.step_id, ref.module_name, {
            "interaction_id": interaction_id, "execution_id": call.execution_id,
            "request": normalize(request), "resolved_inputs": normalize(inputs),
            "module_state": normalize(result.module_state)})
        return True
    except Exception:
        log.exception("interaction refresh failed for %s", interaction_id)
        return False
