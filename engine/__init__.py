"""The workflow engine: a synchronous, deterministic library shared by both servers.

This module is the engine's public API: the servers (and client/) import only the names in
`__all__` (tests/unit/test_import_rules.py checks it). Everything else is internal and may move.
Nothing inside the engine imports this package itself, so importing it cannot close a circle.
"""

from __future__ import annotations

import jinja2

_MIN_JINJA = (3, 1, 6)


def _version_tuple(text: str) -> tuple[int, ...]:
    parts: list[int] = []
    for piece in text.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


# GEN-7: the sandbox relies on fixes shipped in Jinja2 3.1.6; refuse anything older.
if _version_tuple(jinja2.__version__) < _MIN_JINJA:
    raise ImportError("engine requires jinja2 >= 3.1.6, found " + jinja2.__version__)

# ---- the engine and how to call it
from engine.admission import admission_gate  # noqa: E402

# ---- helpers the servers' routes build on
from engine.autorespond import generate_answer, selection_candidates  # noqa: E402
from engine.clock import SystemClock, iso_z, utc_ms  # noqa: E402
from engine.commands import StartCommand  # noqa: E402
from engine.content_cache import ContentCache  # noqa: E402
from engine.disconnect import cancel_on_disconnect, unless_abandoned  # noqa: E402

# ---- errors (one root: EngineError)
from engine.errors import (  # noqa: E402
    BadRequest,
    ConcurrentModification,
    EngineError,
    ExecutionError,
    InvalidVirtualDb,
    MockNotAllowed,
    NotFound,
    Overloaded,
    RequestError,
    SettingsError,
    StoreUnavailable,
    VirtualDbTooLarge,
    WorkflowInvalid,
)
from engine.fold_cache import FoldCache  # noqa: E402
from engine.global_templates import GLOBAL_OWNER, is_global  # noqa: E402
from engine.http_drain import DrainPacing  # noqa: E402
from engine.ids import MonotonicIds  # noqa: E402
from engine.interpreter import freeze_startup_heap, set_switch_interval  # noqa: E402
from engine.json_body import decode_body  # noqa: E402

# ---- the protocol: request limits, SSE framing and every struct that crosses HTTP
from engine.json_depth import depth_within, json_depth  # noqa: E402
from engine.logsetup import configure_logging  # noqa: E402
from engine.media_files import hashed_media_path, media_type_for, resolve_media_path  # noqa: E402
from engine.mock_budget import MockBudget, MockSchemaError  # noqa: E402
from engine.mock_data import generate_mock  # noqa: E402
from engine.modules.registry import ModuleRegistry, default_registry  # noqa: E402
from engine.modules.user.select_paths import lookup  # noqa: E402
from engine.outcomes import ExecOptions  # noqa: E402
from engine.pool import BUSY_MESSAGE, EnginePool  # noqa: E402
from engine.ports import (  # noqa: E402
    CancelToken,
    Clock,
    IdGenerator,
    PipelineEvaluator,
    ProviderSet,
    Store,
)
from engine.processor import WorkflowEngine  # noqa: E402
from engine.progress import error_response  # noqa: E402
from engine.provider_types import ContentPart, LLMRequest, Message, PreviewInfo  # noqa: E402
from engine.settings import EngineSettings  # noqa: E402

# ---- settings parsing shared by both servers (README "Settings")
from engine.settings_env import (  # noqa: E402
    MIN_SECRET_BYTES,
    SHARED_FIELDS,
    Parser,
    SharedSettings,
    build,
    parse_bool,
    parse_choice,
    parse_float,
    parse_int,
    parse_text,
    read_fields,
)
from engine.sse_frames import (  # noqa: E402
    SSE_PING,
    FrameCounter,
    cancelled_frame,
    run_progress,
    sse_frame,
    sub_action_error_frame,
    sub_action_frame,
    sub_action_progress,
)
from engine.status_display import plain_tokens, token_totals  # noqa: E402
from engine.sub_actions import SubActionInfo  # noqa: E402
from engine.token_claims import VERSION_CLAIM, claims_problem, token_version  # noqa: E402
from engine.upload import load_workflow_folder, load_workflow_zip  # noqa: E402
from engine.validation import validate_schema, validate_workflow  # noqa: E402
from engine.virtual import VIRTUAL_PROJECT, VIRTUAL_USER  # noqa: E402
from engine.wire import (  # noqa: E402
    AutoRespondConfig,
    ErrorBody,
    EventFilters,
    EventsView,
    GenerationsView,
    InteractionDataView,
    InteractionHistoryView,
    InteractionRequest,
    InteractionResponseData,
    MockDataRequest,
    ProgressEvent,
    RunStatusView,
    StateView,
    SubActionEvent,
    SubActionOutcome,
    Target,
    ValidationErrorItem,
    VirtualEventsRequest,
    VirtualGenerationsRequest,
    VirtualReadRequest,
    VirtualRespondRequest,
    VirtualResumeConfirmRequest,
    VirtualStartRequest,
    VirtualSubActionRequest,
    VirtualWorkflowResponse,
    WorkflowProgress,
    WorkflowResponse,
    auto_respond_config,
)
from engine.wire_frames import (  # noqa: E402
    RUN_TERMINAL_EVENTS,
    SUB_ACTION_TERMINAL_EVENTS,
    CancelledFrame,
    ProgressFrame,
    StartedFrame,
    SubActionComplete,
    SubActionError,
)
from engine.wire_requests import (  # noqa: E402
    AccessKeyCreateRequest,
    JumpRequest,
    JumpToInteractionRequest,
    LoginRequest,
    MediaActionType,
    MediaPreviewRequest,
    MediaProviderName,
    RegisterRequest,
    RespondRequest,
    ResumeConfirmRequest,
    ResumeRequest,
    RetryRequest,
    StartByVersionRequest,
    StartWorkflowRequest,
    StreamRespondRequest,
    SubActionRequest,
)
from engine.wire_routes import (  # noqa: E402
    AccessKeyCreated,
    AccessKeysView,
    AccessKeyView,
    ActiveRun,
    ActiveRunsView,
    CancelView,
    DeletedView,
    HealthView,
    InvitationView,
    LoginView,
    MessageView,
    MockDataResponse,
    ModelsView,
    RevokedView,
    RunCheck,
    SSEEvent,
    TaskQueued,
    TasksView,
    TaskView,
    TemplateDetail,
    TemplateHead,
    TemplateListItem,
    TemplatesPage,
    UserView,
    VersionDetail,
    VersionSummary,
)
from engine.wire_web import (  # noqa: E402
    ApiCallFilesView,
    ApiCallsView,
    CloneVersionResponse,
    DefinitionView,
    FileContentView,
    FilesRunState,
    FilesView,
    GuestAccessRequest,
    PublishGlobalRequest,
    PublishGlobalResponse,
    RunsPage,
    RunSummary,
    SessionUser,
    StateV2View,
    TokensView,
)
from engine.workflow_cache import workflow_cache  # noqa: E402
from engine.workflow_index import WorkflowIndex  # noqa: E402

__all__ = [
    # the engine and how to call it
    "BUSY_MESSAGE", "CancelToken", "Clock", "DrainPacing", "EngineError", "EnginePool", "EngineSettings",
    "ExecOptions", "IdGenerator", "ModuleRegistry", "MonotonicIds", "PipelineEvaluator",
    "ProviderSet", "StartCommand", "Store", "SubActionInfo", "SystemClock", "VIRTUAL_PROJECT",
    "VIRTUAL_USER", "WorkflowEngine", "WorkflowIndex", "admission_gate", "cancel_on_disconnect",
    "configure_logging", "default_registry", "error_response", "freeze_startup_heap", "iso_z",
    "set_switch_interval", "unless_abandoned", "utc_ms",
    # process-local caches (issue 13)
    "ContentCache", "FoldCache", "workflow_cache",
    # errors
    "BadRequest", "ConcurrentModification", "ExecutionError", "InvalidVirtualDb",
    "MockNotAllowed", "NotFound", "Overloaded", "RequestError", "SettingsError",
    "StoreUnavailable", "VirtualDbTooLarge", "WorkflowInvalid",
    # settings parsing
    "MIN_SECRET_BYTES", "SHARED_FIELDS", "Parser", "SharedSettings", "build", "parse_bool",
    "parse_choice", "parse_float", "parse_int", "parse_text", "read_fields",
    # the protocol
    "SSE_PING", "FrameCounter", "cancelled_frame", "depth_within", "json_depth", "run_progress",
    "sse_frame", "sub_action_error_frame", "sub_action_frame", "sub_action_progress",
    "AccessKeyCreateRequest", "AutoRespondConfig", "ErrorBody", "EventFilters", "EventsView",
    "GenerationsView", "InteractionDataView", "InteractionHistoryView", "InteractionRequest",
    "InteractionResponseData", "JumpRequest", "JumpToInteractionRequest", "LoginRequest",
    "MediaPreviewRequest", "MockDataRequest", "ProgressEvent", "RegisterRequest",
    "RespondRequest", "ResumeRequest", "RetryRequest", "RunStatusView", "StartByVersionRequest",
    "StartWorkflowRequest", "StateView", "StreamRespondRequest", "SubActionEvent",
    "SubActionOutcome", "SubActionRequest", "Target", "ValidationErrorItem",
    "VirtualGenerationsRequest", "VirtualReadRequest", "VirtualRespondRequest",
    "VirtualEventsRequest", "VirtualResumeConfirmRequest", "VirtualStartRequest",
    "VirtualSubActionRequest",
    "VirtualWorkflowResponse", "WorkflowProgress", "WorkflowResponse", "auto_respond_config",
    "ApiCallFilesView", "ApiCallsView", "CloneVersionResponse", "DefinitionView",
    "FileContentView", "FilesRunState", "FilesView", "GuestAccessRequest",
    "PublishGlobalRequest", "PublishGlobalResponse", "RunSummary", "RunsPage", "SessionUser",
    "StateV2View", "TokensView",
    "AccessKeyCreated", "AccessKeysView", "AccessKeyView", "ActiveRun", "ActiveRunsView",
    "CancelView", "DeletedView", "HealthView", "InvitationView", "LoginView", "MessageView",
    "MockDataResponse", "ModelsView", "ResumeConfirmRequest", "RevokedView", "RunCheck",
    "SSEEvent", "TaskQueued", "TasksView", "TaskView", "TemplateDetail", "TemplateHead",
    "TemplateListItem", "TemplatesPage", "UserView", "VersionDetail", "VersionSummary",
    "decode_body", "MediaActionType", "MediaProviderName",
    "RUN_TERMINAL_EVENTS", "SUB_ACTION_TERMINAL_EVENTS", "CancelledFrame", "ProgressFrame",
    "StartedFrame", "SubActionComplete", "SubActionError",
    # helpers
    "ContentPart", "GLOBAL_OWNER", "LLMRequest", "Message", "MockBudget", "MockSchemaError",
    "PreviewInfo", "VERSION_CLAIM", "claims_problem", "generate_answer", "generate_mock",
    "hashed_media_path", "is_global", "load_workflow_folder", "load_workflow_zip", "lookup",
    "media_type_for", "plain_tokens", "resolve_media_path", "selection_candidates",
    "token_totals", "token_version", "validate_schema", "validate_workflow",
]
