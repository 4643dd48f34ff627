"""Shared helpers for the engine behaviour tests: a script-A driver, a provider set that records
LLM requests, and a store wrapper that simulates crashes after the n-th write (ENG-22)."""

from __future__ import annotations

from typing import Any, Callable

import msgspec

from engine.errors import StoreUnavailable
from engine.modules.base import ExecutableModule
from engine.modules.registry import MODULE_CLASSES, ModuleRegistry
from engine.modules.user.select import UserSelectModule
from engine.processor import StartCommand, WorkflowEngine
from engine.provider_types import Credentials, LLMRequest, LLMResult
from engine.wire import (
    EventFilters,
    InteractionRequest,
    InteractionResponseData,
    SubActionEvent,
    WorkflowResponse,
)
from tests.acceptance.script_a import ANSWERS, IMAGE_PARAMS, image_answer
from tests.conftest import make_engine, mock_only_providers

USER = "alice"


def resp(body: dict[str, Any]) -> InteractionResponseData:
    return msgspec.convert(body, InteractionResponseData)


def all_scope() -> EventFilters:
    return EventFilters(scope="all", limit=5000)


class RecordingLLM:
    """Wraps an LLM provider and keeps every request it receives."""

    def __init__(self, inner: Any, log: list[LLMRequest]) -> None:
        self.inner = inner
        self.log = log
        self.provider_id = inner.provider_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def call(self, request: LLMRequest, credentials: Credentials) -> LLMResult:
        self.log.append(request)
        return self.inner.call(request, credentials)

    def call_streaming(self, request: LLMRequest, credentials: Credentials, cancel: Any,
                       on_chunk: Any) -> LLMResult:
        self.log.append(request)
        return self.inner.call_streaming(request, credentials, cancel, on_chunk)


class RecordingProviders:
    """A provider set (live constructors raise) that records the mock flag of every view and
    every LLM request, so tests can prove which mode a call used (ENG-33, ENG-44)."""

    def __init__(self, inner: Any | None = None) -> None:
        self.inner = inner or mock_only_providers()
        self.views: list[bool] = []
        self.requests: list[LLMRequest] = []

    def for_call(self, mock: bool) -> "RecordingProviders":
        self.views.append(mock)
        view = RecordingProviders(self.inner.for_call(mock))
        view.views, view.requests = self.views, self.requests
        return view

    def llm(self, name: str) -> Any:
        return RecordingLLM(self.inner.llm(name), self.requests)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def request_text(request: LLMRequest) -> list[tuple[str, str]]:
    """(role, text) of every message of an LLM request."""
    out = []
    for message in request.messages:
        text = "".join(part.value for part in message.content if part.type == "text")
        out.append((message.role, text))
    return out


class Walk:
    """Drives one production run of cuddle_crew through the engine with script A."""

    def __init__(self, workflow: dict[str, Any], *, eng: WorkflowEngine | None = None,
                 project: str = "p1", user: str = USER) -> None:
        self.eng = eng or make_engine()
        self.user = user
        self.responses: dict[str, WorkflowResponse] = {}
        self.progress: list[SubActionEvent] = []
        self.first = self.eng.start(StartCommand(user_id=user, project_name=project,
                                                 workflow=workflow, mock=True))
        self.run_id = self.first.workflow_run_id
        self.last = self.first

    @property
    def request(self) -> InteractionRequest:
        assert self.last.interaction_request is not None, self.last
        return self.last.interaction_request

    @property
    def pending_module(self) -> str:
        return str(self.request.context["module_name"])

    @property
    def iid(self) -> str:
        return self.request.interaction_id

    def answer(self, body: dict[str, Any], interaction_id: str | None = None) -> WorkflowResponse:
        module = self.pending_module
        r = self.eng.respond(self.user, self.run_id, interaction_id or self.iid, resp(body))
        self.responses[module] = r
        if r.status in ("awaiting_input", "completed"):
            self.last = r
        return r

    def sub_action(self, sub_action_id: str, params: dict[str, Any]) -> Any:
        return self.eng.run_sub_action(self.user, self.run_id, self.iid, sub_action_id, params,
                                       self.progress.append)

    def answer_script(self, until: str | None = None) -> WorkflowResponse:
        """Answer script A (A4 through the image sub-action) until `until` is pending."""
        while self.last.status == "awaiting_input" and self.pending_module != until:
            module = self.pending_module
            if module == "generate_and_select_images_v2":
                outcome = self.sub_action("image_generation", IMAGE_PARAMS)
                assert outcome.status == "completed", outcome
                r = self.answer(image_answer(outcome.sub_action_result))
            else:
                r = self.answer(ANSWERS[module])
            assert r.status in ("awaiting_input", "completed"), (module, r)
        return self.last

    def state(self) -> dict[str, Any]:
        return self.eng.get_state_view(self.user, self.run_id).state

    def events(self, *, scope_all: bool = False) -> list[Any]:
        filters = all_scope() if scope_all else None
        return self.eng.list_events(self.user, self.run_id, filters).events

    def event_types(self) -> list[str]:
        return [e.event_type for e in self.events()]

    def run_doc(self) -> dict[str, Any]:
        return self.eng.store.get_run(self.run_id)  # type: ignore[no-any-return]

    def snapshot(self) -> dict[str, Any]:
        return self.eng.store.export()  # type: ignore[attr-defined,no-any-return]


class CrashingStore:
    """Delegates to a real store and raises after the n-th write (ENG-22 crash points)."""

    WRITES = {"append_event", "insert_run", "insert_branch", "update_run", "insert_answer",
              "set_answer_outcome", "upsert_keyword", "insert_version", "insert_file",
              "get_or_create_template", "insert_version_history", "touch_template",
              "insert_token_usage", "insert_generation_metadata", "touch_option_usage",
              "update_generation_metadata", "insert_generated_content", "delete_run_cascade"}

    def __init__(self, inner: Any, crash_at: int) -> None:
        self.inner = inner
        self.crash_at = crash_at
        self.writes = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if name not in self.WRITES:
            return attr

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            self.writes += 1
            if self.writes == self.crash_at:
                raise StoreUnavailable("simulated crash")
            return attr(*args, **kwargs)

        return wrapped


def no_op(_event: Any) -> None:
    return None


Emit = Callable[[SubActionEvent], None]


# ---------------------------------------------------------------------- a scriptable module

PROBES: dict[str, Callable[[dict[str, Any], Any], Any]] = {}


class ProbeModule(ExecutableModule):
    """`test.probe`: returns its inputs, or what `PROBES[module_name]` returns (or raises)."""

    module_id = "test.probe"
    accepts_undeclared_inputs = True

    def execute(self, inputs: dict[str, Any], context: Any) -> Any:
        probe = PROBES.get(context.module_name)
        if probe is not None:
            return probe(inputs, context)
        return {k: v for k, v in inputs.items() if not k.startswith("_")}


class ProbeSelect(UserSelectModule):
    """`test.select`: `user.select` whose response half and self sub-action can be scripted
    through `PROBES["<name>:response"]` and `PROBES["<name>:sub_action"]`."""

    module_id = "test.select"

    def execute_with_response(self, inputs: dict[str, Any], context: Any, response: Any,
                              module_state: dict[str, Any]) -> Any:
        probe = PROBES.get(context.module_name + ":response")
        if probe is not None:
            return probe(inputs, context)
        return super().execute_with_response(inputs, context, response, module_state)

    def sub_action(self, context: Any) -> Any:
        return PROBES[context.module_name + ":sub_action"](context.params, context)


def probe_registry() -> ModuleRegistry:
    return ModuleRegistry(MODULE_CLASSES + (ProbeModule, ProbeSelect))


def probe_engine(**kwargs: Any) -> WorkflowEngine:
    """An engine whose registry also knows `test.probe`."""
    eng = make_engine(**kwargs)
    eng.registry = probe_registry()
    return eng


SELECT_SCHEMA = {"type": "array", "items": {"type": "object", "_ux": {"selectable": True}}}


def probe_workflow(workflow_id: str = "probe") -> dict[str, Any]:
    """Two steps: s1 = gen (probe) + pick (user.select with retry, jump and two sub-actions),
    s2 = fin (probe). Small enough to assert exact event data."""
    return {
        "workflow_id": workflow_id, "name": "Probe",
        "steps": [
            {"step_id": "s1", "name": "Step {step_number}: First", "modules": [
                {"module_id": "test.probe", "name": "gen",
                 "inputs": {"items": [{"id": "a"}, {"id": "b"}]},
                 "outputs_to_state": {"items": "things"}},
                {"module_id": "user.select", "name": "pick",
                 "inputs": {"resolver_schema": {"type": "object",
                                                "properties": {"data": {"resolver": "server"}}},
                            "prompt": "Pick one", "data": "{{ state.things }}",
                            "schema": SELECT_SCHEMA},
                 "outputs_to_state": {"selected_data": "picked"},
                 "retryable": {"default_option": "continue", "options": [
                     {"id": "continue", "mode": "continue", "label": "Continue"},
                     {"id": "again", "mode": "retry", "label": "Again", "target_module": "gen",
                      "feedback": {"enabled": True, "default_message": "try again"}},
                     {"id": "back", "mode": "jump", "label": "Back", "target_step": "s1",
                      "target_module": "gen"},
                     {"id": "strict", "mode": "continue", "label": "Strict", "validations": [
                         {"id": "need_value", "rule": "response_field_required",
                          "field": "value", "severity": "error", "message": "Value needed",
                          "validator": ["server"]},
                         {"id": "warn_custom", "rule": "response_field_not_empty",
                          "field": "custom_value", "severity": "warning",
                          "message": "No custom value", "validator": ["server"]},
                         {"id": "webui_only", "rule": "response_field_required",
                          "field": "file_path", "severity": "error", "message": "UI only",
                          "validator": ["webui"]}]}]},
                 "sub_actions": [
                     {"id": "more", "label": "More", "actions": [
                         {"type": "target_sub_action", "module_id": "test.probe",
                          "name": "more_items", "inputs": {"items": [{"id": "c"}]}}],
                      "result_mapping": [{"source": "more_items.items", "target": "things",
                                          "mode": "merge"}]},
                     {"id": "boom", "label": "Boom", "actions": [
                         {"type": "target_sub_action", "module_id": "test.probe",
                          "name": "explode"}]}]},
            ]},
            {"step_id": "s2", "name": "Second", "modules": [
                {"module_id": "test.probe", "name": "fin",
                 "inputs": {"resolver_schema": {"properties": {"x": {"resolver": "server"}}},
                            "x": "{{ state.picked.id }}"},
                 "outputs_to_state": {"x": "final_x"}},
            ]},
        ],
    }
