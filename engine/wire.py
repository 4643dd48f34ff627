"""Every msgspec struct that crosses HTTP, shared by both servers and stored by the engine.

One struct per wire type is used end to end (WIRE-1): the engine stores `InteractionRequest`
and `InteractionResponseData` as builtins of these same structs and rebuilds them with
`msgspec.convert`, so no field is lost between storage and the API.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from engine.errors import NotFound

WorkflowStatus = Literal[
    "created", "processing", "awaiting_input", "completed", "error", "validation_failed"
]
InteractionType = Literal[
    "text_input", "select_from_structured", "review_grouped", "file_input", "file_download",
    "form_input", "media_generation", "resume_choice", "retry_options",
]


class WorkflowProgress(msgspec.Struct, kw_only=True):
    current_step: str | None = None
    current_step_name: str | None = None
    current_module: str | None = None
    completed_steps: list[str] = []
    total_steps: int = 0
    step_index: int = 0
    module_index: int = 0


class InteractionOption(msgspec.Struct, kw_only=True):
    id: str
    label: str
    description: str = ""
    metadata: dict[str, Any] = {}


class InteractionRequest(msgspec.Struct, kw_only=True):
    interaction_id: str
    interaction_type: InteractionType
    title: str = ""
    options: list[InteractionOption] = []
    min_selections: int = 1
    max_selections: int = 1
    allow_custom: bool = False
    default_selection: Any = None
    groups: dict[str, Any] = {}
    display_data: dict[str, Any] = {}
    multiline: bool = False
    placeholder: str = ""
    default_value: str = ""
    allow_empty: bool = False
    yes_label: str = "Yes"
    no_label: str = "No"
    default_confirm: bool | None = None
    accepted_types: list[str] = []
    multiple_files: bool = False
    base_path: str = ""
    context: dict[str, Any] = {}
    extra_options: list[InteractionOption] = []
    resolver_schema: dict[str, Any] | None = None
    file_content: Any = None
    file_name: str = ""
    file_content_type: str = "text"
    file_destination: str = "root"
    form_schema: dict[str, Any] = {}
    form_type: str = ""
    form_defaults: list[dict[str, Any]] = []


class InteractionResponseData(msgspec.Struct, kw_only=True):
    value: Any = None
    selected_indices: list[Any] = []
    selected_options: list[dict[str, Any]] = []
    custom_value: Any = None
    cancelled: bool = False
    retry_requested: bool = False
    retry_groups: list[Any] = []
    retry_feedback: str = ""
    jump_back_requested: bool = False
    jump_back_target: str = ""
    file_written: bool = False
    file_path: str = ""
    file_error: str = ""
    form_data: list[Any] | dict[str, Any] = []
    selected_content_id: str | None = None
    selected_content: dict[str, Any] | None = None
    generations: dict[str, list[dict[str, Any]]] = {}
    action_id: str | None = None
    confirmed_warnings: list[str] = []


class ValidationErrorItem(msgspec.Struct, kw_only=True):
    id: str
    field: str = ""
    rule: str = ""
    message: str = ""
    severity: Literal["error", "warning"] = "error"


class WorkflowResponse(msgspec.Struct, kw_only=True):
    workflow_run_id: str
    status: WorkflowStatus
    message: str = ""
    progress: WorkflowProgress | None = None
    interaction_request: InteractionRequest | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    validation_errors: list[ValidationErrorItem] = []
    validation_warnings: list[ValidationErrorItem] = []


class VirtualWorkflowResponse(WorkflowResponse, kw_only=True):
    """A virtual response (issue 9 item 1): `virtual_run_id` (= `workflow_run_id`), the blob and
    `editor_flat_state` at the top; `X-Virtual-Db-In: result` asks for Rev 3's shape instead."""

    virtual_run_id: str = ""
    virtual_db: str | None = None
    state: dict[str, Any] | None = None


class ErrorBody(msgspec.Struct, kw_only=True):
    error: str
    error_type: str
    details: dict[str, Any] = {}
    detail: str = ""  # the same message under the name the web UI shows (issue 10)


class Target(msgspec.Struct, frozen=True, kw_only=True):
    step_id: str
    module_name: str


class AutoRespondConfig(msgspec.Struct, kw_only=True):
    seed: int | None = None
    answers: dict[str, InteractionResponseData] = {}


# ---------------------------------------------------------------- views (engine.md §3.3, §4.4, §6)


class ModuleStateView(msgspec.Struct, kw_only=True):
    module_name: str
    module_id: str
    status: str
    outputs: dict[str, Any] | None = None
    state_mapped: dict[str, Any] | None = None
    interaction_id: str | None = None
    error: str | None = None
    executions: int = 0


class StepStateView(msgspec.Struct, kw_only=True):
    step_id: str
    name: str
    status: str
    modules: list[ModuleStateView] = []


class StateView(msgspec.Struct, kw_only=True):
    """engine.md §6.3 amended by issue 9: `steps`, `state_mapped`, `files` are the trees of
    engine/state_tree.py; `step_summaries` is the module status list §6.3 called `steps`."""
    workflow_run_id: str
    status: WorkflowStatus
    state: dict[str, Any]
    steps: dict[str, Any]
    state_mapped: dict[str, Any]
    files: list[dict[str, Any]]
    mock_tainted: bool
    step_summaries: list[StepStateView]


class InteractionHistoryItem(msgspec.Struct, kw_only=True):
    interaction_id: str
    step_id: str | None
    module_name: str | None
    module_id: str | None
    interaction_type: str | None
    request: InteractionRequest | None
    response: InteractionResponseData
    intent: str
    auto: bool
    provenance: str
    requested_at: str | None
    responded_at: str
    timestamp: str  # the response time again, under the name clients read (issue 9 item 6)


class InteractionHistoryView(msgspec.Struct, kw_only=True):
    workflow_run_id: str
    interactions: list[InteractionHistoryItem]
    pending_interaction: InteractionRequest | None


class InteractionDataView(msgspec.Struct, kw_only=True):
    workflow_run_id: str
    interaction_id: str
    display_data: dict[str, Any]
    interaction_request: InteractionRequest


class RunStatusView(msgspec.Struct, kw_only=True):
    workflow_run_id: str
    project_name: str
    workflow_template_name: str
    workflow_template_id: str
    workflow_version_id: str
    status: WorkflowStatus
    mock: bool
    progress: WorkflowProgress | None
    interaction_request: InteractionRequest | None
    created_at: str | None
    updated_at: str | None
    completed_at: str | None


class EventView(msgspec.Struct, kw_only=True):
    event_id: str
    sequence: int
    branch_id: str
    event_type: str
    timestamp: str
    provenance: str
    step_id: str | None
    module_name: str | None
    data: dict[str, Any]


class EventsView(msgspec.Struct, kw_only=True):
    workflow_run_id: str
    events: list[EventView]
    total_count: int


class ContentItemView(msgspec.Struct, kw_only=True):
    content_id: str
    url: str
    content_type: str


class GenerationView(msgspec.Struct, kw_only=True):
    metadata_id: str
    provider: str
    action_type: str
    prompt_id: str
    status: str
    urls: list[str]
    content_ids: list[str]
    content_items: list[ContentItemView]
    request_params: dict[str, Any]
    provenance: str
    created_at: str | None


class GenerationsView(msgspec.Struct, kw_only=True):
    workflow_run_id: str
    interaction_id: str
    generations: list[GenerationView]


# ---------------------------------------------------------------- engine command structs


class EventFilters(msgspec.Struct, kw_only=True):
    scope: Literal["lineage", "all"] = "lineage"
    event_type: str | None = None
    module_name: str | None = None
    after_sequence: int | None = None
    limit: int = 500


class StoredWorkflow(msgspec.Struct, kw_only=True):
    template_id: str
    source_version_id: str
    content_hash: str
    created: bool


class SubActionEvent(msgspec.Struct, kw_only=True):
    kind: Literal["progress"] = "progress"
    execution_id: str
    message: str = ""
    elapsed_ms: int = 0
    status: str | None = None
    progress: dict[str, Any] | None = None


class SubActionOutcome(msgspec.Struct, kw_only=True):
    workflow_run_id: str
    execution_id: str | None
    sub_action_id: str
    interaction_id: str
    status: Literal["completed", "error", "cancelled"]
    updated_state: dict[str, Any] = {}
    sub_action_result: Any = None
    applied: bool = False
    interaction_refreshed: bool = False
    error_type: str | None = None
    message: str | None = None
    details: dict[str, Any] = {}


class ProgressEvent(msgspec.Struct, kw_only=True):
    kind: Literal["started", "module_started", "module_completed", "tick", "sub_action_progress"]
    step_id: str | None = None
    module_name: str | None = None
    message: str = ""
    elapsed_ms: int = 0
    data: dict[str, Any] | None = None


# ---------------------------------------------------------------- virtual server request bodies


class VirtualRunRef(msgspec.Struct, kw_only=True):
    """The run of a virtual request: `workflow_run_id` or its alias `virtual_run_id` (the
    reference editor's name, issue 9 item 2); naming two different runs is a 400."""

    workflow_run_id: str | None = None
    virtual_run_id: str | None = None

    def __post_init__(self) -> None:
        alias = self.virtual_run_id or None
        if alias is not None and self.workflow_run_id and self.workflow_run_id != alias:
            # one of the two is not the blob's run: a run the request cannot find (issue 15)
            raise NotFound("workflow_run_id and virtual_run_id name different runs",
                           details={"workflow_run_id": self.workflow_run_id,
                                    "virtual_run_id": alias})
        self.workflow_run_id = self.workflow_run_id or alias


class VirtualStartRequest(VirtualRunRef, kw_only=True):
    workflow: dict[str, Any]
    target_step_id: str
    target_module_name: str
    virtual_db: str | None = None
    mock: bool = True
    auto_respond: bool | AutoRespondConfig | None = False
    ai_config: dict[str, Any] | None = None
    capabilities: list[str] = []


class VirtualRespondRequest(VirtualRunRef, kw_only=True):
    workflow: dict[str, Any]
    virtual_db: str
    target_step_id: str
    target_module_name: str
    interaction_id: str
    response: InteractionResponseData
    mock: bool = True
    auto_respond: bool | AutoRespondConfig | None = False
    ai_config: dict[str, Any] | None = None
    capabilities: list[str] = []


class VirtualResumeConfirmRequest(VirtualStartRequest, kw_only=True):
    """`POST /workflow/resume/confirm`: continue the blob's run, with the (possibly edited)
    workflow stored as a new version, to the target (issue 9 item 3)."""

    virtual_db: str


class VirtualSubActionRequest(VirtualRunRef, kw_only=True):
    virtual_db: str
    interaction_id: str
    sub_action_id: str
    workflow: dict[str, Any] | None = None
    params: dict[str, Any] = {}
    mock: bool = True
    ai_config: dict[str, Any] | None = None


class VirtualReadRequest(VirtualRunRef, kw_only=True):
    virtual_db: str


class VirtualGenerationsRequest(VirtualRunRef, kw_only=True):
    virtual_db: str
    interaction_id: str
    content_type: Literal["image", "video", "audio"]


class VirtualEventsRequest(VirtualRunRef, kw_only=True):
    """`POST /workflow/events`: the run's events in a blob, filtered as production's
    `GET /workflow/{id}/events` (issue 14: clients read a preview's event types)."""

    virtual_db: str
    scope: Literal["lineage", "all"] = "lineage"
    event_type: str | None = None
    module_name: str | None = None
    after_sequence: int | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=5000)] = 5000


class MockDataRequest(msgspec.Struct, kw_only=True):
    schema: dict[str, Any] | None = None
    interaction_request: InteractionRequest | None = None
    count: Annotated[int, msgspec.Meta(ge=1, le=100)] = 1
    context: str | None = None
    seed: int | None = 0
    mode: Literal["generated", "llm"] = "generated"


def auto_respond_config(value: bool | AutoRespondConfig | None) -> AutoRespondConfig | None:
    """Normalise the wire form (`true` means `{}`, `false`/null disable) to a config or None."""
    if value is None or value is False:
        return None
    if value is True:
        return AutoRespondConfig()
    return value
