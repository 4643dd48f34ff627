"""Executing forward: the loop of engine.md §8 and the execution of one module (§8.1).

A `Runner` lives for one operation. It owns the session, the call's options and the stop
conditions (target, auto-respond, cancellation, execution limit) and returns a `Stop` telling
the caller why it stopped; responses are built from stops elsewhere.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine import cursor as cur
from engine.errors import (
    RequestError,
    Cancelled,
    EngineError,
    ExecutionFailed,
    ModuleExecutionError,
    UnsupportedModuleType,
)
from engine.input_check import check_inputs
from engine.jsonutil import NonJsonValue, get_path, normalize
from engine.modules.base import ExecutionContext, InteractiveModule, ModuleBase
from engine.provider_types import ProviderCancelled
from engine.sanitize import sanitize_message
from engine.session import ReadOnlyState, RunSession, event_size
from engine.templating import template_context
from engine.wire import AutoRespondConfig, InteractionRequest, ProgressEvent, Target
from engine.workflow_index import ModuleRef

if TYPE_CHECKING:
    from engine.ports import CancelToken, ProgressSink
    from engine.processor import WorkflowEngine

log = logging.getLogger("engine.execution")

MAX_MODULES_PER_OPERATION = 10_000


@dataclass
class ExecOptions:
    """Per-call execution options (engine.md §2.1)."""

    mock: bool | None = None
    credentials: dict[str, str] = field(default_factory=dict)
    ai_config: dict[str, Any] | None = None
    cancel: "CancelToken | None" = None
    progress: "ProgressSink | None" = None
    target: Target | None = None
    auto_respond: AutoRespondConfig | None = None
    #: `time.monotonic()` after which the operation stops at the next module boundary; set by
    #: the operation's first `Runner` from `WFE_OPERATION_DEADLINE_S` (issue 15)
    deadline: float | None = None


@dataclass
class Stop:
    """Why forward execution stopped."""

    kind: str  # awaiting | target_completed | workflow_completed | error | cancelled | validation_failed
    ref: ModuleRef | None = None
    error_type: str | None = None
    message: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    validation_errors: list[Any] = field(default_factory=list)
    validation_warnings: list[Any] = field(default_factory=list)
    interaction_id: str | None = None


def arm_deadline(opts: ExecOptions, deadline_s: float) -> None:
    """Start the operation's clock once, at its entry point, so loading and storing count too."""
    if opts.deadline is None:
        opts.deadline = time.monotonic() + deadline_s


class ModuleCancelled(Exception):
    """A provider call noticed the cancel token: the module writes nothing (ENG-49)."""


class Runner:
    def __init__(self, engine: "WorkflowEngine", session: RunSession, opts: ExecOptions) -> None:
        self.eng = engine
        self.s = session
        self.opts = opts
        self.mock = bool(session.mock)
        self.providers = engine.providers.for_call(self.mock)
        self.target_done: ModuleRef | None = None
        self.auto_responses: list[dict[str, Any]] = []
        self.executed = 0
        self.started_at = time.monotonic()
        arm_deadline(opts, engine.settings.operation_deadline_s)
        #: the §8.1 phase of the module being run, named by `module_error` if it breaks
        self.module_phase = "execute"
        self.ai_config = dict(session.run.get("ai_config") or {})
        #: a changed run-level AI config to store with the projection (ENG-10)
        self.new_ai_config: dict[str, Any] | None = None

    # ------------------------------------------------------------------ progress

    def emit(self, kind: str, ref: ModuleRef | None, message: str) -> None:
        sink = self.opts.progress
        if sink is None:
            return
        try:
            sink(ProgressEvent(kind=kind, step_id=ref.step_id if ref else None,  # type: ignore[arg-type]
                               module_name=ref.module_name if ref else None, message=message,
                               elapsed_ms=int((time.monotonic() - self.started_at) * 1000)))
        except Exception:  # a sink must never break execution
            log.exception("progress sink failed")

    def cancelled(self) -> bool:
        return self.opts.cancel is not None and self.opts.cancel.is_cancelled()

    def past_deadline(self, step_id: str, module_name: str | None) -> Stop | None:
        """A `deadline_exceeded` stop once the operation's deadline has passed (issue 15).

        Checked only at module boundaries, so nothing is half-written; at least one module runs
        per operation, so a run always makes progress however long loading took.
        """
        if self.executed == 0 or self.opts.deadline is None or time.monotonic() < self.opts.deadline:
            return None
        limit = self.eng.settings.operation_deadline_s
        where = f"module '{module_name}'" if module_name else f"step '{step_id}'"
        return Stop("error", None, "deadline_exceeded",
                    f"Operation stopped at its deadline of {limit:g} s (WFE_OPERATION_DEADLINE_S) "
                    f"before {where}; the progress is saved and continuing the run goes on "
                    "from there",
                    {"deadline_s": limit, "setting": "WFE_OPERATION_DEADLINE_S",
                     "modules_executed": self.executed, "step_id": step_id,
                     "module_name": module_name})

    def is_target(self, ref: ModuleRef) -> bool:
        t = self.opts.target
        return t is not None and t.step_id == ref.step_id and t.module_name == ref.module_name

    # ------------------------------------------------------------------ the loop (§8)

    def drive(self) -> Stop:
        from engine.answers import auto_answer, finish_interrupted_response

        s, index = self.s, self.s.index
        while True:
            c = s.cursor
            phase = c.phase
            if phase == cur.COMPLETED:
                if self.target_done is not None:
                    return Stop("target_completed", self.target_done)
                return Stop("workflow_completed")
            if phase == cur.AWAITING:
                ref = index.require_position(c.step_id, c.module_name)
                if self.is_target(ref) or self.opts.auto_respond is None:
                    return Stop("awaiting", ref, interaction_id=c.interaction_id)
                outcome = auto_answer(self, ref, c.interaction_id or "")
                if outcome is not None:
                    return outcome
                continue
            if phase == cur.RESPONSE:
                stop = finish_interrupted_response(self)
                if stop is not None:
                    return stop
                continue
            if phase == cur.AFTER_MODULE:
                ref = index.require_position(c.step_id, c.module_name)
                mods = index.step_modules(ref.step_id)
                if ref.module_index == len(mods) - 1:
                    s.append("step_completed", ref.step_id, None, {"step_index": ref.step_index})
                    continue
                if self.target_done is not None:
                    return Stop("target_completed", self.target_done)
                stop = self.run_module(mods[ref.module_index + 1])
            elif phase == cur.AFTER_STEP:
                pos = index.step_pos.get(c.step_id or "")
                if pos is None:
                    index.require_position(c.step_id, None)
                    raise AssertionError("unreachable")
                if pos == index.total_steps - 1:
                    s.append("workflow_completed", None, None, {})
                    continue
                if self.target_done is not None:
                    return Stop("target_completed", self.target_done)
                stop = self.enter_step(pos + 1)
            elif phase == cur.START:
                if index.total_steps == 0:
                    s.append("workflow_completed", None, None, {})
                    continue
                stop = self.enter_step(0)
            else:  # BEFORE, RUNNING, FAILED: (re-)execute the cursor module
                ref = index.require_position(c.step_id, c.module_name)
                stop = self.run_module(ref)
            if stop is not None:
                return stop

    def enter_step(self, pos: int) -> Stop | None:
        step_id = str(self.s.index.steps[pos].get("step_id"))
        mods = self.s.index.step_modules(step_id)
        if not mods:
            if self.cancelled():
                return Stop("cancelled")
            late = self.past_deadline(step_id, None)
            if late is not None:
                return late
            self.executed += 1
            self.s.append("step_started", step_id, None,
                          {"step_index": pos, "step_name": self.s.index.step_name(step_id)})
            self.s.append("step_completed", step_id, None, {"step_index": pos})
            return None
        return self.run_module(mods[0])

    # ------------------------------------------------------------------ one module (§8.1)

    def run_module(self, ref: ModuleRef) -> Stop | None:
        s = self.s
        if self.cancelled():
            return Stop("cancelled", ref)
        late = self.past_deadline(ref.step_id, ref.module_name)
        if late is not None:
            return late
        self.executed += 1
        if self.executed > MAX_MODULES_PER_OPERATION:
            return Stop("error", ref, "execution_failed", "execution limit reached")
        if ref.step_id not in s.cursor.started_steps:
            s.append("step_started", ref.step_id, None,
                     {"step_index": ref.step_index, "step_name": s.index.step_name(ref.step_id)})
        retry = s.cursor.retry if s.cursor.retry and s.cursor.retry[:2] == (
            ref.step_id, ref.module_name) else None
        started = s.append("module_started", ref.step_id, ref.module_name,
                           {"module_id": ref.module_id, "module_index": ref.module_index,
                            "config_hash": s.index.config_hash(ref)})
        self.emit("module_started", ref, "Running " + ref.module_name)
        self.module_phase = "resolve"
        if ref.module_id == "pipeline.execution_groups":
            return self.fail(ref, "resolve", UnsupportedModuleType(
                "pipeline.execution_groups cannot be executed; it is expanded at upload"))
        try:
            module = self.eng.registry.get(ref.module_id)
        except EngineError as exc:
            return self.fail(ref, "resolve", exc)
        state = s.module_state(None if retry is None else {
            "_retry_conversation_history": self.retry_history(ref), "_retry_feedback": retry[2]})
        try:
            inputs = self.resolve(ref.config.get("inputs") or {}, state, ref)
        except EngineError as exc:
            return self.fail(ref, "resolve", exc)
        self.module_phase = "validate_inputs"
        try:
            inputs = check_inputs(module, inputs)
        except EngineError as exc:
            return self.fail(ref, "validate_inputs", exc)
        context = self.context(ref, state, started["sequence"])
        if isinstance(module, InteractiveModule):
            self.module_phase = "request"
            return self.request_interaction(ref, module, inputs, context)
        self.module_phase = "execute"
        try:
            outputs = module.execute(inputs, context)  # type: ignore[attr-defined]
        except RequestError:
            raise  # a store outage or a lost race is not a module failure (ENG-54)
        except (ModuleCancelled, ProviderCancelled, Cancelled):
            return Stop("cancelled", ref)
        except Exception as exc:  # noqa: BLE001 - module failures are results (ENG-54)
            return self.fail(ref, "execute", self.wrap(module, exc))
        return self.complete(ref, outputs)

    def resolve(self, raw: dict[str, Any], state: dict[str, Any], ref: ModuleRef) -> dict[str, Any]:
        ctx = template_context(state, self.step_config(ref), self.s.index.config, self.eng.clock)
        return self.eng.templates.resolve_inputs(raw, ctx)

    def step_config(self, ref: ModuleRef) -> dict[str, Any]:
        return self.s.index.step(ref.step_id)

    def request_interaction(self, ref: ModuleRef, module: InteractiveModule,
                            inputs: dict[str, Any], context: ExecutionContext) -> Stop | None:
        try:
            result = module.get_interaction_request(inputs, context)
        except RequestError:
            raise  # a store outage or a lost race is not a module failure (ENG-54)
        except (ModuleCancelled, ProviderCancelled, Cancelled):
            return Stop("cancelled", ref)
        except Exception as exc:  # noqa: BLE001
            return self.fail(ref, "request", self.wrap(module, exc))
        request = self.complete_request(result.request, ref)
        data = {
            "interaction_id": request.interaction_id,
            "module_id": ref.module_id,
            "module_index": ref.module_index,
            "request": normalize(request),
            "resolved_inputs": self.safe_normalize(inputs),
            "resolver_schema": self.raw_resolver_schema(ref),
            "module_state": self.safe_normalize(result.module_state),
            "step_context": {"step_id": ref.step_id, "step_name": self.s.index.step_name(ref.step_id),
                             "module_name": ref.module_name, "module_index": ref.module_index},
        }
        if event_size(data) > self.eng.settings.max_event_bytes:
            return self.fail(ref, "request", ExecutionFailed("module outputs exceed the size limit"))
        self.s.append("interaction_requested", ref.step_id, ref.module_name, data)
        return None

    @staticmethod
    def safe_normalize(value: Any) -> Any:
        try:
            return normalize(value)
        except NonJsonValue:
            return None

    def raw_resolver_schema(self, ref: ModuleRef) -> dict[str, Any] | None:
        inputs = ref.config.get("inputs") or {}
        schema = inputs.get("resolver_schema") if isinstance(inputs, dict) else None
        return copy.deepcopy(schema) if isinstance(schema, dict) else None

    def complete_request(self, request: InteractionRequest, ref: ModuleRef) -> InteractionRequest:
        ctx = dict(request.context)
        ctx.update({"module_id": ref.module_id, "step_id": ref.step_id,
                    "module_name": ref.module_name})
        request.context = ctx
        request.resolver_schema = self.raw_resolver_schema(ref)
        return request

    def complete(self, ref: ModuleRef, outputs: Any, *, provenance: str | None = None,
                 phase: str = "execute") -> Stop | None:
        """Normalise outputs, map them into state and write `module_completed` (§8.1 step 6).

        `phase` is `response` for the response half, whose failures carry that phase (§9.5).
        """
        try:
            outputs = normalize(outputs if outputs is not None else {})
        except NonJsonValue as exc:
            return self.fail(ref, phase, ExecutionFailed(
                f"Module '{ref.module_id}' returned a non-JSON value: {exc}"))
        if not isinstance(outputs, dict):
            return self.fail(ref, phase, ExecutionFailed(
                f"Module '{ref.module_id}' must return an object"))
        mapping = ref.config.get("outputs_to_state") or {}
        state_mapped = {key: copy.deepcopy(get_path(outputs, path)) for path, key in mapping.items()}
        data = {"module_id": ref.module_id, "module_index": ref.module_index,
                "outputs": outputs, "state_mapped": state_mapped}
        if event_size(data) > self.eng.settings.max_event_bytes:
            return self.fail(ref, phase, ExecutionFailed("module outputs exceed the size limit"))
        self.s.append("module_completed", ref.step_id, ref.module_name, data, provenance=provenance)
        self.emit("module_completed", ref, "Completed " + ref.module_name)
        if self.is_target(ref):
            self.target_done = ref
        return None

    def wrap(self, module: ModuleBase, exc: Exception) -> EngineError:
        if isinstance(exc, EngineError):
            return exc
        return ExecutionFailed(f"Module '{module.module_id}' failed: {exc}")

    def fail(self, ref: ModuleRef, phase: str, exc: EngineError) -> Stop:
        message = self.sanitize(exc.message)
        self.s.append("module_error", ref.step_id, ref.module_name, {
            "module_id": ref.module_id, "module_index": ref.module_index, "phase": phase,
            "error_type": exc.error_type, "error": message})
        return Stop("error", ref, exc.error_type, message, dict(exc.details))

    def sanitize(self, text: str) -> str:
        return sanitize_message(text, list(self.opts.credentials.values()))

    # ------------------------------------------------------------------ contexts

    def context(self, ref: ModuleRef, state: dict[str, Any], sequence: int) -> ExecutionContext:
        s, eng = self.s, self.eng
        run = s.run
        return ExecutionContext(
            workflow_run_id=s.run_id, branch_id=s.branch_id, user_id=str(run["user_id"]),
            workflow_template_id=str(run["workflow_template_id"]),
            workflow_template_name=str(run["workflow_template_name"]),
            workflow_version_id=str(run["current_workflow_version_id"]),
            step_id=ref.step_id, step_name=s.index.step_name(ref.step_id),
            step=self.step_config(ref), module_name=ref.module_name,
            module_index=ref.module_index, module_id=ref.module_id, sequence=sequence,
            config=s.index.config, state=ReadOnlyState(state),
            retryable=copy.deepcopy(ref.config.get("retryable")),
            sub_actions=copy.deepcopy(ref.config.get("sub_actions")),
            mock=self.mock, ai_config=dict(self.ai_config),
            credentials=dict(self.opts.credentials), providers=self.providers,
            store=eng.store, pipeline=eng.pipeline, clock=eng.clock,
            media_base_path=eng.media_base_path, cancel=self.opts.cancel, lineage=s.lineage,
            settings=eng.settings, new_id=eng.ids.new_id,
            progress_sink=lambda message, data=None: self.emit("tick", ref, message),
            llm=eng.llm, templates=eng.templates,
        )

    def retry_history(self, ref: ModuleRef) -> list[dict[str, str]]:
        """Conversation turns for a retried module, from lineage events only (§10, ENG-30)."""
        import msgspec

        turns: list[dict[str, str]] = []
        for event in self.s.events:
            kind = event["event_type"]
            if kind == "module_completed" and event.get("module_name") == ref.module_name \
                    and event.get("step_id") == ref.step_id:
                outputs = event["data"].get("outputs") or {}
                response = outputs.get("response")
                content: str | None = None
                if isinstance(response, str):
                    content = response
                elif isinstance(response, (dict, list)):
                    content = _indent_json(msgspec.json.encode(response))
                elif isinstance(outputs.get("response_text"), str):
                    content = outputs["response_text"]
                if content is not None:
                    turns.append({"role": "assistant", "content": content})
            elif kind == "retry_requested" and event.get("module_name") == ref.module_name:
                feedback = event["data"].get("feedback") or ""
                if feedback:
                    turns.append({"role": "user", "content": "FEEDBACK FROM USER: " + feedback})
        return turns


def _indent_json(raw: bytes) -> str:
    import json

    return json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
