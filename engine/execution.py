"""Executing one module (engine.md §8.1) for the driver loop of engine/driver.py.

A `Runner` lives for one operation. It owns the session, the call's options and the stop
conditions (target, cancellation, deadline, execution limit); each step returns a `Stop`
telling the caller why it stopped, or None to go on. Responses are built from stops elsewhere.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import msgspec

from engine.context import EngineContext
from engine.errors import (
    EngineError,
    ExecutionFailed,
    RequestError,
    UnsupportedModuleType,
)
from engine.input_check import check_inputs
from engine.jsonutil import NonJsonValue, get_path, normalize
from engine.modules.base import ExecutionContext, InteractiveModule, ModuleBase
from engine.outcomes import (
    CANCELLATIONS,
    ExecOptions,
    ModuleCancelled,
    ModulePhase,
    Stop,
    arm_deadline,
)
from engine.provider_types import ProviderSet
from engine.sanitize import sanitize_message, strip_keys
from engine.session import ReadOnlyState, RunSession, event_size
from engine.templating import template_context
from engine.wire import InteractionRequest, ProgressEvent
from engine.workflow_index import ModuleRef

log = logging.getLogger("engine.execution")

MAX_MODULES_PER_OPERATION = 10_000
#: answers a pending interaction on the driver's behalf (auto-respond, §14.3); None: go on
PendingHook = Callable[["Runner", ModuleRef, str], "Stop | None"]

__all__ = ["MAX_MODULES_PER_OPERATION", "ExecOptions", "ModuleCancelled", "PendingHook",
           "Runner", "Stop"]


class Runner:
    """One operation's execution state: the session, the call's options and the stop rules."""

    def __init__(self, ctx: EngineContext, session: RunSession, opts: ExecOptions,
                 on_pending: PendingHook | None = None) -> None:
        self.ctx = ctx
        self.s = session
        self.opts = opts
        #: what the driver does at a pending interaction that is not the target (auto-respond)
        self.on_pending = on_pending
        self.mock = bool(session.mock)
        self.providers: ProviderSet = ctx.providers.for_call(self.mock)
        self.target_done: ModuleRef | None = None
        self.auto_responses: list[dict[str, Any]] = []
        self.executed = 0
        self.started_at = time.monotonic()
        arm_deadline(opts, ctx.settings.operation_deadline_s)
        #: the §8.1 phase of the module being run, named by `module_error` if it breaks
        self.module_phase: ModulePhase = "execute"
        self.ai_config = dict(session.run.get("ai_config") or {})
        #: a changed run-level AI config to store with the projection (ENG-10)
        self.new_ai_config: dict[str, Any] | None = None

    def adopt_ai_config(self) -> None:
        """Adopt the call's AI config without keys (ENG-10); the operation's `finish` writes it
        after the operation's events, so the first write stays an event insert (ENG-6)."""
        if self.opts.ai_config is None:
            return
        cleaned = strip_keys(self.opts.ai_config)
        self.ai_config = dict(cleaned)
        if cleaned != self.s.run.get("ai_config"):
            self.new_ai_config = cleaned

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
        limit = self.ctx.settings.operation_deadline_s
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
            module = self.ctx.registry.get(ref.module_id)
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
        # a module's own work may take long or reach outside the run: what the operation has
        # written so far is made first (a store that holds writes back, db/write_batch.py), so
        # readers see the module running and nothing it does precedes the events it follows
        s.store.flush()
        try:
            outputs = module.execute(inputs, context)
        except RequestError:
            raise  # a store outage or a lost race is not a module failure (ENG-54)
        except CANCELLATIONS:
            return Stop("cancelled", ref)
        except Exception as exc:  # noqa: BLE001 - module failures are results (ENG-54)
            return self.fail(ref, "execute", self.wrap(module, exc))
        return self.complete(ref, outputs)

    def resolve(self, raw: dict[str, Any], state: dict[str, Any], ref: ModuleRef) -> dict[str, Any]:
        namespace = template_context(state, self.step_config(ref), self.s.index.config,
                                     self.ctx.clock)
        return self.ctx.templates.resolve_inputs(raw, namespace)

    def step_config(self, ref: ModuleRef) -> dict[str, Any]:
        return self.s.index.step(ref.step_id)

    def request_interaction(self, ref: ModuleRef, module: InteractiveModule,
                            inputs: dict[str, Any], context: ExecutionContext) -> Stop | None:
        try:
            result = module.get_interaction_request(inputs, context)
        except RequestError:
            raise  # a store outage or a lost race is not a module failure (ENG-54)
        except CANCELLATIONS:
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
        if event_size(data) > self.ctx.settings.max_event_bytes:
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
                 phase: ModulePhase = "execute") -> Stop | None:
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
        if event_size(data) > self.ctx.settings.max_event_bytes:
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

    def fail(self, ref: ModuleRef, phase: ModulePhase, exc: EngineError) -> Stop:
        message = self.sanitize(exc.message)
        self.s.append("module_error", ref.step_id, ref.module_name, {
            "module_id": ref.module_id, "module_index": ref.module_index, "phase": phase,
            "error_type": exc.error_type, "error": message})
        return Stop.error(exc, message, ref)

    def sanitize(self, text: str) -> str:
        return sanitize_message(text, list(self.opts.credentials.values()))

    # ------------------------------------------------------------------ contexts

    def context(self, ref: ModuleRef, state: dict[str, Any], sequence: int) -> ExecutionContext:
        s, ctx = self.s, self.ctx
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
            store=ctx.store, pipeline=ctx.pipeline, clock=ctx.clock,
            media_base_path=ctx.settings.media_base_path, cancel=self.opts.cancel,
            lineage=s.lineage, settings=ctx.settings, new_id=ctx.ids.new_id,
            progress_sink=self._ticker(ref), llm=ctx.llm, templates=ctx.templates,
        )

    def _ticker(self, ref: ModuleRef) -> Callable[[str, dict[str, Any] | None], None]:
        """A module's `context.progress`: each message is a `tick` of the module."""
        def tick(message: str, data: dict[str, Any] | None = None) -> None:
            self.emit("tick", ref, message)
        return tick

    def retry_history(self, ref: ModuleRef) -> list[dict[str, str]]:
        """Conversation turns for a retried module, from lineage events only (§10, ENG-30)."""
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
    return json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
