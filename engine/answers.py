"""Answering an interaction: intent, validation, persistence and the response half (engine.md §9).

Everything that can reject an answer runs before the first write (ENG-5): a rejected answer
leaves no event, no answer record and no run update behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

import engine.cursor as cur
from engine.autorespond import generate_answer
from engine.cursor import Intent
from engine.errors import (
    Cancelled,
    EngineError,
    InvalidTarget,
    ModuleNotFound,
    ModuleNotRegistered,
    RequestError,
    StepNotFound,
)
from engine.execution import Runner
from engine.jsonutil import sha256_tag
from engine.mock_budget import MockBudget, MockSchemaError
from engine.modules.base import InteractiveModule
from engine.navigation import check_retry_scope, do_jump, do_retry, jump_scope_ok
from engine.outcomes import CANCELLATIONS, Stop
from engine.session import PendingAnswer
from engine.validation import evaluate_option_validations
from engine.wire import InteractionRequest, InteractionResponseData, ValidationErrorItem
from engine.workflow_index import ModuleRef

Doc = dict[str, Any]


def response_builtins(response: InteractionResponseData) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(response)
    return data


def response_hash(response: InteractionResponseData) -> str:
    return sha256_tag(response_builtins(response))


@dataclass
class Answer:
    """A validated answer ready to persist: the module, its intent and resolved targets."""

    ref: ModuleRef
    module: InteractiveModule
    request_event: Doc
    response: InteractionResponseData
    intent: Intent
    option: Doc | None
    jump_ref: ModuleRef | None
    retry_ref: ModuleRef | None
    feedback: str


def _options(ref: ModuleRef) -> list[dict[str, Any]]:
    retryable = ref.config.get("retryable") or {}
    return [o for o in (retryable.get("options") or []) if isinstance(o, dict)]


def _option_by_id(ref: ModuleRef, option_id: str | None) -> Doc | None:
    if option_id is None:
        return None
    for option in _options(ref):
        if option.get("id") == option_id:
            return option
    return None


def prepare(runner: Runner, interaction_id: str,
            response: InteractionResponseData) -> Answer | Stop:
    """Steps 3–6 of §9.2: lookups, cancel, intent, targets and validation. Writes nothing."""
    s = runner.s
    request_event = s.latest_request_event(interaction_id)
    if request_event is None:
        raise AssertionError("pending interaction without a request event")
    step_id = str(request_event["step_id"])
    module_name = str(request_event["module_name"])
    ref = s.index.find(step_id, module_name)
    if ref is None:  # the interaction's position is not in the current version (ENG-21)
        details = {"reason": "position not in current workflow version", "step_id": step_id,
                   "module_name": module_name}
        if not s.index.has_step(step_id):
            return Stop.error(StepNotFound(f"Step '{step_id}' not found in workflow",
                                           details=details))
        return Stop.error(ModuleNotFound(f"Module '{module_name}' not found in step '{step_id}'",
                                         details=details))
    module_id = str((s.request_event(interaction_id) or request_event)["data"].get("module_id")
                    or ref.module_id)
    try:
        module = runner.ctx.registry.get(module_id)
    except ModuleNotRegistered as exc:
        return Stop.error(exc)
    if not isinstance(module, InteractiveModule):
        return Stop.error(ModuleNotRegistered(f"Module '{module_id}' is not interactive"))
    if response.cancelled:
        return Stop.error(Cancelled("Interaction cancelled by user"))

    action = _option_by_id(ref, response.action_id)
    intent: Intent = "continue"
    option: Doc | None = None
    jump_ref: ModuleRef | None = None
    retry_ref: ModuleRef | None = None
    feedback = ""
    if response.jump_back_requested or (action and action.get("mode") == "jump"):
        intent = "jump"
        found = _resolve_jump(runner, ref, response)
        if isinstance(found, Stop):
            return found
        option, jump_ref = found
    elif response.retry_requested or (action and str(action.get("mode", "")).startswith("retry")):
        intent = "retry"
        found_retry = _resolve_retry(runner, ref, response, action)
        if isinstance(found_retry, Stop):
            return found_retry
        option, retry_ref, feedback = found_retry

    errors: list[ValidationErrorItem] = []
    warnings: list[ValidationErrorItem] = []
    if action is not None:
        errors, warnings = evaluate_option_validations(list(action.get("validations") or []),
                                                       response)
    if intent == "continue":
        data = request_event["data"]
        request = msgspec.convert(data["request"], type=InteractionRequest)
        for item in module.validate_response(request, data.get("resolved_inputs") or {},
                                             response, data.get("module_state") or {}):
            (warnings if item.severity == "warning" else errors).append(item)
        warnings = [w for w in warnings if w.id not in set(response.confirmed_warnings)]
    if errors or warnings:
        return Stop("validation_failed", ref, validation_errors=errors,
                    validation_warnings=warnings, interaction_id=interaction_id)
    return Answer(ref, module, request_event, response, intent, option, jump_ref, retry_ref,
                  feedback)


def _resolve_jump(runner: Runner, ref: ModuleRef, response: InteractionResponseData
                  ) -> tuple[dict[str, Any], ModuleRef] | Stop:
    x = response.jump_back_target
    chosen: Doc | None = None
    for option in _options(ref):
        if option.get("mode") != "jump":
            continue
        if x and (option.get("id") == x or option.get("target_module") == x):
            chosen = option
            break
    if chosen is None and not x:
        action = _option_by_id(ref, response.action_id)
        if action is not None and action.get("mode") == "jump":
            chosen = action
    if chosen is None:
        return Stop.error(ModuleNotFound(f"Jump target '{x}' not found", details={"target": x}))
    index = runner.s.index
    module_name = str(chosen.get("target_module") or "")
    step_id = chosen.get("target_step")
    if not step_id:
        found = index.by_name(module_name)
        if found is None:
            return Stop.error(ModuleNotFound(f"Jump target '{module_name}' not found",
                                         details={"target_module": module_name}))
        step_id = found.step_id
    try:
        target = index.require_target(str(step_id), module_name)
    except EngineError as exc:
        return Stop.error(exc)
    if not jump_scope_ok(runner.s, target):
        return Stop.error(InvalidTarget("Jump target is after the current position",
                                    details={"target_step": step_id, "target_module": module_name}))
    return chosen, target


def _resolve_retry(runner: Runner, ref: ModuleRef, response: InteractionResponseData,
                   action: Doc | None) -> tuple[dict[str, Any], ModuleRef, str] | Stop:
    option = action if action and str(action.get("mode", "")).startswith("retry") else None
    if option is None:
        for mode in ("retry", "retry_all", "retry_selected"):
            option = next((o for o in _options(ref) if o.get("mode") == mode), None)
            if option is not None:
                break
    if option is None:
        return Stop.error(InvalidTarget(f"Module '{ref.module_name}' has no retry option",
                                    details={"module_name": ref.module_name}))
    name = str(option.get("target_module") or ref.module_name)
    target = runner.s.index.find(ref.step_id, name) or runner.s.index.by_name(name)
    if target is None:
        return Stop.error(ModuleNotFound(f"Retry target '{name}' not found",
                                     details={"target_module": name}))
    try:
        check_retry_scope(runner.s, target)
    except EngineError as exc:
        return Stop.error(exc)
    feedback = response.retry_feedback or str((option.get("feedback") or {}).get(
        "default_message") or "")
    return option, target, feedback


def persist_and_act(runner: Runner, answer: Answer, *, auto: bool) -> Stop | None:
    """Steps 7–8 of §9.2: write the response and the answer record, then act on the intent."""
    s = runner.s
    interaction_id = str(answer.request_event["data"]["interaction_id"])
    provenance = "mock" if (auto or runner.mock) else "live"
    response_event = s.append("interaction_response", answer.ref.step_id, answer.ref.module_name, {
        "interaction_id": interaction_id, "module_id": answer.ref.module_id,
        "response": response_builtins(answer.response), "response_hash": response_hash(answer.response),
        "intent": answer.intent, "action_id": answer.response.action_id, "auto": auto,
    }, provenance=provenance)
    record_answer(runner, interaction_id, response_event)
    if answer.intent == "continue":
        return response_half(runner, answer.ref, answer.module, answer.request_event,
                             answer.response, provenance)
    if answer.intent == "retry":
        assert answer.retry_ref is not None
        do_retry(runner, answer.retry_ref, answer.feedback, list(answer.response.retry_groups),
                 "response", interaction_id, answer.option.get("id") if answer.option else None)
        return None
    assert answer.jump_ref is not None
    do_jump(runner, answer.jump_ref, "response")
    return None


def record_answer(runner: Runner, interaction_id: str, response_event: Doc) -> None:
    s = runner.s
    now = runner.ctx.clock.now()
    s.store.insert_answer({
        "workflow_run_id": s.run_id, "interaction_id": interaction_id,
        "branch_id": response_event["branch_id"],
        "response_hash": response_event["data"]["response_hash"],
        "sequence": response_event["sequence"], "outcome": None,
        "created_at": now, "updated_at": now,
    })
    s.answers.append(PendingAnswer(interaction_id, response_event["branch_id"]))


def response_half(runner: Runner, ref: ModuleRef, module: InteractiveModule,
                  request_event: Doc, response: InteractionResponseData,
                  provenance: str | None) -> Stop | None:
    """Run `execute_with_response` with the stored inputs and module state (§9.5, ENG-4).

    The run's state is handed over without a copy, as for a module's execution (the context's
    `ReadOnlyState` copies what is read): a deep copy of the whole state per answer made a
    respond cost grow with the run's history (issue 13)."""
    data = request_event["data"]
    state = runner.s.module_state()
    sequence = _latest_started_sequence(runner, ref)
    context = runner.context(ref, state, sequence)
    try:
        outputs = module.execute_with_response(dict(data.get("resolved_inputs") or {}), context,
                                               response, dict(data.get("module_state") or {}))
    except RequestError:
        raise  # a store outage or a lost race is not a module failure (ENG-54)
    except CANCELLATIONS:
        return Stop("cancelled", ref)
    except Exception as exc:  # noqa: BLE001 - module failures are results
        return runner.fail(ref, "response", runner.wrap(module, exc))
    return runner.complete(ref, outputs, provenance=provenance, phase="response")


def _latest_started_sequence(runner: Runner, ref: ModuleRef) -> int:
    for event in reversed(runner.s.events):
        if event["event_type"] == "module_started" and event.get("module_name") == ref.module_name:
            return int(event["sequence"])
    return 0


def finish_interrupted_response(runner: Runner) -> Stop | None:
    """Resume after an `interaction_response` whose effect was not written (§7.2)."""
    s = runner.s
    c = s.cursor
    interaction_id = c.interaction_id or ""
    response_event = s.response_event(interaction_id)
    request_event = s.latest_request_event(interaction_id)
    if response_event is None or request_event is None:
        raise AssertionError("response_received without its events")
    ref = s.index.require_position(c.step_id, c.module_name)
    response = msgspec.convert(response_event["data"]["response"], InteractionResponseData)
    intent = c.intent or "continue"
    if intent == "continue":
        module = runner.ctx.registry.get(str(request_event["data"].get("module_id") or ref.module_id))
        assert isinstance(module, InteractiveModule)
        provenance = "mock" if (response_event["data"].get("auto") or runner.mock) else "live"
        return response_half(runner, ref, module, request_event, response, provenance)
    if intent == "retry":
        retry = _resolve_retry(runner, ref, response, _option_by_id(ref, response.action_id))
        if isinstance(retry, Stop):
            return retry
        option, target, feedback = retry
        do_retry(runner, target, feedback, list(response.retry_groups), "response",
                 interaction_id, option.get("id"))
        return None
    jump = _resolve_jump(runner, ref, response)
    if isinstance(jump, Stop):
        return jump
    do_jump(runner, jump[1], "response")
    return None


def auto_answer(runner: Runner, ref: ModuleRef, interaction_id: str) -> Stop | None:
    """Answer an upstream interaction automatically (engine.md §14.3); None means continue.

    The operation runner hands this to the driver as the runner's `on_pending` hook when the
    call asks for auto-respond."""
    config = runner.opts.auto_respond
    assert config is not None
    pending = Stop("awaiting", ref, interaction_id=interaction_id)
    if len(runner.auto_responses) >= runner.ctx.settings.max_auto_responses:
        return pending
    request_event = runner.s.latest_request_event(interaction_id)
    if request_event is None:
        return pending
    scripted = config.answers.get(ref.module_name)
    if scripted is not None:
        response = scripted
    else:
        request = msgspec.convert(request_event["data"]["request"], InteractionRequest)
        try:
            generated = generate_answer(
                request, seed=config.seed, mock=runner.mock, retryable=ref.config.get("retryable"),
                step_id=ref.step_id, module_name=ref.module_name, new_hex=runner.ctx.ids.new_hex,
                mock_budget=MockBudget(runner.ctx.settings.mock_data_max_bytes))
        except MockSchemaError:  # a form schema demanding too much: no answer can be generated
            generated = None
        if generated is None:
            return pending
        response = generated
    entry: dict[str, Any] = {"step_id": ref.step_id, "module_name": ref.module_name,
                             "interaction_id": interaction_id,
                             "response": response_builtins(response), "accepted": False,
                             "validation_errors": []}
    runner.auto_responses.append(entry)
    prepared = prepare(runner, interaction_id, response)
    if isinstance(prepared, Stop):  # any rejection (ENG-5) leaves the interaction pending
        entry["validation_errors"] = [msgspec.to_builtins(e) for e in
                                      prepared.validation_errors + prepared.validation_warnings]
        return pending
    entry["accepted"] = True
    return persist_and_act(runner, prepared, auto=True)


def is_pending(runner: Runner, interaction_id: str) -> bool:
    c = runner.s.cursor
    return c.phase == cur.AWAITING and c.interaction_id == interaction_id
