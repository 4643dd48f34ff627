"""Sub-actions: work triggered while an interaction is pending (engine.md §13).

The run lock is held only while checking and writing (steps 1–3 and 6–9), so a long media
generation never blocks answering (ENG-34). Target sub-actions run in a child run with a
synthetic step; self sub-actions call the interactive module's own routine.
"""

from __future__ import annotations

import copy
import logging
import time
from typing import TYPE_CHECKING, Any, Callable, Literal

import msgspec

from engine.errors import (
    EngineError,
    ExecutionFailed,
    InteractionNotFound,
    InteractionNotPending,
    ModuleNotFound,
    RequestError,
    UnsupportedModuleType,
)
from engine.execution import ExecOptions, ModuleCancelled, Runner
from engine.guard import run_guarded
from engine.jsonutil import get_path, normalize
from engine.modules.base import InteractiveModule, SubActionContext
from engine.progress import request_from_event
from engine.provider_types import ProviderCancelled
from engine.session import RunSession, flat_state
from engine.sub_action_close import LOST_ERROR_TYPE, execution_closed
from engine.wire import ProgressEvent, SubActionEvent, SubActionOutcome
from engine.workflow_index import WorkflowIndex

if TYPE_CHECKING:
    from engine.processor import WorkflowEngine

log = logging.getLogger("engine.sub_actions")
Emit = Callable[[SubActionEvent], None]


def find_sub_action(s: RunSession, interaction_id: str, sub_action_id: str) -> tuple[Any, dict[str, Any]]:
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


def _actions(config: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in config.get("actions") or [] if isinstance(a, dict)]


def _kind(actions: list[dict[str, Any]]) -> Literal["self", "target"]:
    return "self" if actions and actions[0].get("type") == "self_sub_action" else "target"


def _module_id(s: RunSession, interaction_id: str, ref: Any) -> str:
    """The interactive module that asked for `interaction_id` (its request event says which)."""
    event = s.request_event(interaction_id) or s.latest_request_event(interaction_id) or {}
    return str((event.get("data") or {}).get("module_id") or ref.module_id)


def check_sub_action(eng: "WorkflowEngine", user_id: str, run_id: str, interaction_id: str,
                     sub_action_id: str) -> SubActionInfo:
    """Pre-stream validation for the servers (SSE-4); read-only, returns the sub-action's kind."""
    s = eng.load(user_id, run_id)
    ref, config = find_sub_action(s, interaction_id, sub_action_id)
    return SubActionInfo(kind=_kind(_actions(config)), module_id=_module_id(s, interaction_id, ref))


def run_sub_action(eng: "WorkflowEngine", user_id: str, run_id: str, interaction_id: str,
                   sub_action_id: str, params: dict[str, Any], emit: Emit,
                   opts: ExecOptions) -> SubActionOutcome:
    started_at = time.monotonic()

    def progress(message: str, status: str | None = None, data: dict[str, Any] | None = None,
                 execution_id: str = "") -> None:
        try:
            emit(SubActionEvent(execution_id=execution_id, message=message, status=status,
                                progress=data, elapsed_ms=int((time.monotonic() - started_at) * 1000)))
        except Exception:  # noqa: BLE001 - a sink never breaks execution
            log.exception("sub-action emit failed")

    outcome = SubActionOutcome(workflow_run_id=run_id, execution_id=None,
                               sub_action_id=sub_action_id, interaction_id=interaction_id,
                               status="error")
    with eng.locks.hold(run_id):
        s = eng.load(user_id, run_id, opts.mock)
        try:
            ref, config = find_sub_action(s, interaction_id, sub_action_id)
        except ModuleNotFound as exc:
            return _failed(outcome, exc)
        actions = _actions(config)
        kind = _kind(actions)
        execution_id = sub_action_id + "_" + eng.ids.new_hex()
        outcome.execution_id = execution_id
        request_event = s.latest_request_event(interaction_id)
        assert request_event is not None
        s.append("sub_action_started", ref.step_id, ref.module_name, {
            "execution_id": execution_id, "sub_action_id": sub_action_id,
            "interaction_id": interaction_id, "kind": kind, "params": normalize(params)})
        parent_state = s.state_snapshot()
        mock = s.mock
    progress(str(config.get("loading_label") or "Processing..."), execution_id=execution_id)
    secrets = [v for v in opts.credentials.values() if v]
    child_run_id: str | None = None
    try:
        if kind == "self":
            result = _run_self(eng, s, ref, request_event, actions, params, execution_id, mock,
                               opts, lambda d: progress(str((d.get("progress") or {}).get(
                                   "message") or d.get("message") or ""), d.get("status"),
                                   d.get("progress"), execution_id))
        else:
            child_run_id, result = _run_target(eng, s, config, actions, params, execution_id,
                                               parent_state, mock, opts,
                                               lambda m: progress(m, execution_id=execution_id))
        result = normalize(result)
    except RequestError:
        raise  # store outages and lost races propagate (ENG-54)
    except (ModuleCancelled, ProviderCancelled) as exc:
        return _write_failure(eng, user_id, run_id, ref, outcome, execution_id, sub_action_id,
                              interaction_id, kind, child_run_id,
                              EngineError("Sub-action cancelled", error_type="cancelled"), exc,
                              secrets)
    except EngineError as exc:
        return _write_failure(eng, user_id, run_id, ref, outcome, execution_id, sub_action_id,
                              interaction_id, kind, child_run_id, exc, exc, secrets)
    except Exception as exc:  # noqa: BLE001
        return _write_failure(eng, user_id, run_id, ref, outcome, execution_id, sub_action_id,
                              interaction_id, kind, child_run_id,
                              ExecutionFailed(f"Sub-action failed: {exc}"), exc, secrets)

    with eng.locks.hold(run_id):
        s = eng.load(user_id, run_id, opts.mock)
        if execution_closed(s.events, execution_id):  # swept as lost meanwhile: one end only
            return _failed(outcome, _closed_as_lost())
        try:
            state_mapped = apply_result_mapping(s.state, result, config.get("result_mapping") or [])
        except EngineError as exc:
            return _write_failure_locked(s, ref, outcome, execution_id, sub_action_id,
                                         interaction_id, kind, child_run_id, exc, secrets)
        applied = s.pending_interaction_id() == interaction_id
        if not applied:
            state_mapped = {}
        s.append("sub_action_completed", ref.step_id, ref.module_name, {
            "execution_id": execution_id, "sub_action_id": sub_action_id,
            "interaction_id": interaction_id, "kind": kind, "child_workflow_run_id": child_run_id,
            "result": result, "state_mapped": state_mapped, "applied": applied})
        refreshed = False
        if applied and state_mapped:
            refreshed = _refresh(eng, s, ref, interaction_id, execution_id, opts)
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


def _write_failure(eng: "WorkflowEngine", user_id: str, run_id: str, ref: Any,
                   outcome: SubActionOutcome, execution_id: str, sub_action_id: str,
                   interaction_id: str, kind: str, child_run_id: str | None, exc: EngineError,
                   original: BaseException, secrets: list[str]) -> SubActionOutcome:
    with eng.locks.hold(run_id):
        s = eng.load(user_id, run_id)
        return _write_failure_locked(s, ref, outcome, execution_id, sub_action_id, interaction_id,
                                     kind, child_run_id, exc, secrets)


def _write_failure_locked(s: RunSession, ref: Any, outcome: SubActionOutcome, execution_id: str,
                          sub_action_id: str, interaction_id: str, kind: str,
                          child_run_id: str | None, exc: EngineError,
                          secrets: list[str]) -> SubActionOutcome:
    """Write `sub_action_failed` with the error sanitised against the call's credentials (ENG-53)."""
    from engine.sanitize import sanitize_message

    message = sanitize_message(exc.message, secrets)
    exc.message = message
    if execution_closed(s.events, execution_id):  # already closed as lost: one end only
        return _failed(outcome, _closed_as_lost())
    s.append("sub_action_failed", ref.step_id, ref.module_name, {
        "execution_id": execution_id, "sub_action_id": sub_action_id,
        "interaction_id": interaction_id, "kind": kind, "child_workflow_run_id": child_run_id,
        "error_type": exc.error_type, "error": message})
    return _failed(outcome, exc)


# ---------------------------------------------------------------------- result mapping (§13.4)


def _merge(existing: Any, new: Any, target: str) -> list[Any]:
    existing = [] if existing is None else existing
    new = [] if new is None else new
    if not isinstance(existing, list) or not isinstance(new, list):
        raise ExecutionFailed(f"merge requires arrays at '{target}'")
    return existing + new


def apply_result_mapping(state: dict[str, Any], result: Any,
                         mapping: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in mapping:
        value = copy.deepcopy(get_path(result, str(item.get("source") or "")))
        target = str(item.get("target") or "")
        mode = item.get("mode") or "replace"
        top, _, rest = target.partition(".")
        base = copy.deepcopy(out[top] if top in out else state.get(top))
        if not rest:
            new_top = _merge(base, value, target) if mode == "merge" else value
        else:
            if not isinstance(base, dict):
                base = {}
            node = base
            parts = rest.split(".")
            for part in parts[:-1]:
                if not isinstance(node.get(part), dict):
                    node[part] = {}
                node = node[part]
            leaf = parts[-1]
            node[leaf] = _merge(node.get(leaf), value, target) if mode == "merge" else value
            new_top = base
        out[top] = new_top
    return out


# ---------------------------------------------------------------------- kinds


def _run_self(eng: "WorkflowEngine", s: RunSession, ref: Any, request_event: dict[str, Any],
              actions: list[dict[str, Any]], params: dict[str, Any], execution_id: str,
              mock: bool, opts: ExecOptions, report: Callable[[dict[str, Any]], None]) -> Any:
    data = request_event["data"]
    module_id = _module_id(s, str(data["interaction_id"]), ref)
    module = eng.registry.get(module_id)
    routine = getattr(module, "sub_action", None)
    if routine is None:
        raise UnsupportedModuleType(f"Module '{module_id}' has no sub-action routine")
    merged = dict(actions[0].get("params") or {})
    merged.update(params)
    context = SubActionContext(
        workflow_run_id=s.run_id, execution_id=execution_id,
        interaction_id=str(data["interaction_id"]), step_id=ref.step_id,
        module_name=ref.module_name, request=request_from_event(request_event),
        resolved_inputs=copy.deepcopy(data.get("resolved_inputs") or {}),
        module_state=copy.deepcopy(data.get("module_state") or {}), params=merged, mock=mock,
        credentials=dict(opts.credentials), providers=eng.providers.for_call(mock),
        store=eng.store, clock=eng.clock, new_id=eng.ids.new_id, cancel=opts.cancel,
        media_base_path=eng.media_base_path, progress_sink=report,
        media_max_bytes=eng.settings.media_max_bytes,
        media_url_template=eng.settings.media_url_template)
    return routine(context)


def _deep_merge(base: Any, extra: Any) -> Any:
    if isinstance(base, dict) and isinstance(extra, dict):
        out = dict(base)
        for key, value in extra.items():
            out[key] = _deep_merge(base.get(key), value) if key in base else copy.deepcopy(value)
        return out
    return copy.deepcopy(extra)


def resolve_actions(index: WorkflowIndex, actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Turn target actions into module configs (§13.2 step 1)."""
    modules: list[dict[str, Any]] = []
    for action in actions:
        ref_spec = action.get("ref")
        if isinstance(ref_spec, dict):
            found = index.require_target(str(ref_spec.get("step_id")), str(ref_spec.get("module_name")))
            config = copy.deepcopy(found.config)
            for key in ("module_id", "name", "outputs_to_state"):
                if action.get(key) is not None:
                    config[key] = copy.deepcopy(action[key])
            if isinstance(action.get("inputs"), dict):
                config["inputs"] = _deep_merge(config.get("inputs") or {}, action["inputs"])
            if isinstance(action.get("overrides"), dict):
                config = _deep_merge(config, action["overrides"])
        else:
            config = {k: copy.deepcopy(v) for k, v in action.items() if k not in ("type", "ref")}
        config.setdefault("name", config.get("module_id"))
        modules.append(config)
    return modules


def _run_target(eng: "WorkflowEngine", parent: RunSession, config: dict[str, Any],
                actions: list[dict[str, Any]], params: dict[str, Any], execution_id: str,
                parent_state: dict[str, Any], mock: bool, opts: ExecOptions,
                report: Callable[[str], None]) -> tuple[str, dict[str, Any]]:
    modules = resolve_actions(parent.index, actions)
    for module_config in modules:
        if module_config.get("module_id") == "pipeline.execution_groups":  # expanded at upload only
            raise UnsupportedModuleType("pipeline.execution_groups cannot run in a sub-action")
        module = eng.registry.get(str(module_config.get("module_id")))
        if isinstance(module, InteractiveModule):
            raise UnsupportedModuleType(
                f"Interactive module '{module_config.get('module_id')}' cannot run in a sub-action")
    step = {"step_id": "sub_action_" + execution_id,
            "name": "Sub-action " + str(config.get("id")), "modules": modules}
    workflow = {"workflow_id": parent.index.workflow.get("workflow_id"),
                "config": parent.index.config, "steps": [step]}
    child_id = eng.ids.new_id("wf_sub_" if eng.mode == "production" else "virtual_sub_")
    run = parent.run
    from engine.runs import new_run_documents

    child_run, branch, created = new_run_documents(
        eng, run_id=child_id, user_id=str(run["user_id"]), project_name=str(run["project_name"]),
        template_id=str(run["workflow_template_id"]),
        template_name=str(run["workflow_template_name"]), version=parent.version, mock=mock,
        ai_config=run.get("ai_config"), parent_run_id=parent.run_id, execution_id=execution_id)
    child = RunSession(store=eng.store, clock=eng.clock, ids=eng.ids, run=child_run,
                       branch=branch, events=[], version=parent.version,
                       index=WorkflowIndex(workflow), next_sequence=1, mock=mock)
    child.append("workflow_created", None, None, created)
    eng.store.insert_branch(branch)
    eng.store.insert_run(child_run)
    seeded = dict(parent_state)
    feedback = config.get("feedback") or {}
    if feedback.get("enabled") and isinstance(params.get("feedback"), str) and params["feedback"]:
        seeded[str(feedback.get("state_key") or "_retry_feedback")] = params["feedback"]
    child.state = seeded

    def sink(event: ProgressEvent) -> None:
        if event.kind == "module_started":
            report(event.message)

    runner = Runner(eng, child, ExecOptions(mock=mock, credentials=opts.credentials,
                                            cancel=opts.cancel, progress=sink))
    stop = run_guarded(runner, lambda r: r.drive())
    eng.finish(runner, stop)
    if stop.kind == "cancelled":
        raise ModuleCancelled()
    if stop.kind != "workflow_completed":
        raise EngineError(stop.message or "Sub-action module failed",
                          error_type=stop.error_type or "execution_failed",
                          details=dict(stop.details))
    return child_id, flat_state(child.events)


def _refresh(eng: "WorkflowEngine", s: RunSession, ref: Any, interaction_id: str,
             execution_id: str, opts: ExecOptions) -> bool:
    """Re-resolve inputs and rebuild the pending request (§13.5); failures are logged only."""
    event = s.latest_request_event(interaction_id)
    if event is None:
        return False
    runner = Runner(eng, s, opts)
    try:
        module = eng.registry.get(str(event["data"].get("module_id") or ref.module_id))
        assert isinstance(module, InteractiveModule)
        state = s.state_snapshot()
        inputs = runner.resolve(ref.config.get("inputs") or {}, state, ref)
        from engine.input_check import check_inputs

        inputs = check_inputs(module, inputs)
        context = runner.context(ref, state, s.next_sequence)
        previous = request_from_event(event)
        result = module.refresh_interaction_request(previous, inputs,
                                                    dict(event["data"].get("module_state") or {}),
                                                    context)
        request = runner.complete_request(result.request, ref)
        request.interaction_id = interaction_id
        s.append("interaction_refreshed", ref.step_id, ref.module_name, {
            "interaction_id": interaction_id, "execution_id": execution_id,
            "request": normalize(request), "resolved_inputs": normalize(inputs),
            "module_state": normalize(result.module_state)})
        return True
    except Exception:  # noqa: BLE001 - a failed refresh keeps the previous request
        log.exception("interaction refresh failed for %s", interaction_id)
        return False


__all__ = ["SubActionInfo", "apply_result_mapping", "check_sub_action", "msgspec", "run_sub_action"]
