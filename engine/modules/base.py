"""Module interface (modules.md §1): declarations, base classes and execution contexts.

Modules are stateless (MOD-core-1): everything they need arrives in the resolved inputs and the
context, and everything they keep goes back to the engine as outputs or `module_state`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Literal, Mapping

import msgspec

from engine.errors import ModuleExecutionError
from engine.wire import InteractionRequest, InteractionResponseData, ValidationErrorItem

__all__ = ["ExecutableModule", "ExecutionContext", "InteractionRequestResult",
           "InteractiveModule", "ModuleBase", "ModuleExecutionError", "ModuleInput",
           "ModuleOutput", "SubActionContext"]

if TYPE_CHECKING:
    from engine.llm_call import LLMHelper
    from engine.ports import CancelToken, Clock, PipelineEvaluator, ProviderSet, Store
    from engine.settings import EngineSettings
    from engine.templating import TemplateEngine


class ModuleInput(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    type: str
    required: bool = True
    default: Any = None
    description: str = ""


class ModuleOutput(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    type: str = "any"
    description: str = ""


class InteractionRequestResult(msgspec.Struct, kw_only=True):
    request: InteractionRequest
    module_state: dict[str, Any] = {}


@dataclass
class ExecutionContext:
    """What a module sees while it runs (modules.md §1.4). Read-only except for the methods."""

    workflow_run_id: str
    branch_id: str
    user_id: str
    workflow_template_id: str
    workflow_template_name: str
    workflow_version_id: str
    step_id: str
    step_name: str
    step: Mapping[str, Any]
    module_name: str
    module_index: int
    module_id: str
    sequence: int
    config: Mapping[str, Any]
    state: Mapping[str, Any]
    retryable: dict[str, Any] | None
    sub_actions: list[Any] | None
    mock: bool
    ai_config: dict[str, Any]
    credentials: dict[str, str]
    providers: "ProviderSet"
    store: "Store"
    pipeline: "PipelineEvaluator"
    clock: "Clock"
    media_base_path: str
    cancel: "CancelToken | None"
    lineage: list[dict[str, Any]]
    settings: EngineSettings
    new_id: Callable[[str], str]
    #: the shared LLM call helper (modules.md §5.1)
    llm: LLMHelper
    #: the sandboxed template engine (SEC-12: the only template evaluator)
    templates: TemplateEngine
    progress_sink: Callable[[str, dict[str, Any] | None], None] | None = None

    @property
    def provenance(self) -> Literal["mock", "live"]:
        return "mock" if self.mock else "live"

    @property
    def scope(self) -> Literal["mock", "live"]:
        return "mock" if self.mock else "live"

    def progress(self, message: str, data: dict[str, Any] | None = None) -> None:
        if self.progress_sink is not None:
            self.progress_sink(message, data)

    def now(self) -> datetime:
        return self.clock.now()


@dataclass
class SubActionContext:
    """What a self sub-action routine sees (modules.md §1.4)."""

    workflow_run_id: str
    execution_id: str
    interaction_id: str
    step_id: str
    module_name: str
    request: InteractionRequest
    resolved_inputs: dict[str, Any]
    module_state: dict[str, Any]
    params: dict[str, Any]
    mock: bool
    credentials: dict[str, str]
    providers: "ProviderSet"
    store: "Store"
    clock: "Clock"
    new_id: Callable[[str], str]
    cancel: "CancelToken | None"
    media_base_path: str
    progress_sink: Callable[[dict[str, Any]], None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: live generations: size cap of one downloaded file, and the URL form of a stored copy
    #: (`{run_id}`, `{content_id}`, `{ext}`, `{sha256}`; None keeps the provider's URL)
    media_max_bytes: int = 268435456
    media_url_template: str | None = None

    @property
    def provenance(self) -> Literal["mock", "live"]:
        return "mock" if self.mock else "live"

    def progress(self, data: dict[str, Any]) -> None:
        if self.progress_sink is not None:
            self.progress_sink(data)


class ModuleBase:
    module_id: ClassVar[str]
    kind: ClassVar[Literal["executable", "interactive"]]
    interaction_type: ClassVar[str | None] = None
    inputs: ClassVar[tuple[ModuleInput, ...]] = ()
    outputs: ClassVar[tuple[ModuleOutput, ...]] = ()
    #: undeclared inputs are normally ignored; a module that reads them sets this
    accepts_undeclared_inputs: ClassVar[bool] = False


class ExecutableModule(ModuleBase):
    kind: ClassVar[Literal["executable", "interactive"]] = "executable"

    def execute(self, inputs: dict[str, Any], context: ExecutionContext) -> dict[str, Any]:
        raise NotImplementedError


class InteractiveModule(ModuleBase):
    kind: ClassVar[Literal["executable", "interactive"]] = "interactive"

    def get_interaction_request(self, inputs: dict[str, Any],
                                context: ExecutionContext) -> InteractionRequestResult:
        raise NotImplementedError

    def validate_response(self, request: InteractionRequest, inputs: dict[str, Any],
                          response: InteractionResponseData,
                          module_state: dict[str, Any]) -> list[ValidationErrorItem]:
        return []

    def execute_with_response(self, inputs: dict[str, Any], context: ExecutionContext,
                              response: InteractionResponseData,
                              module_state: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def refresh_interaction_request(self, previous: InteractionRequest, inputs: dict[str, Any],
                                    module_state: dict[str, Any],
                                    context: ExecutionContext) -> InteractionRequestResult:
        return self.get_interaction_request(inputs, context)

    # Optional capability (self sub-actions): def sub_action(self, context: SubActionContext) -> dict
