"""Answers of the production routes that are not engine views: auth, listings, run checks,
tasks, models and health (issue 11 item 5).

They belong with `engine/wire.py` (one set of structs used end to end) and live in this sibling
module only to keep files under the size limit. The routes return them, so `/schema` shows what
each route really sends; field names and order are those the routes sent as plain dicts.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from engine.wire import WorkflowStatus

# ---------------------------------------------------------------- auth (wire-api.md §6.1)

#: `(?!\n)$`: the end of the string in Python's `re` as in JavaScript (a bare `$` also matches
#: before a final newline in Python, which would let "abc\n" through)
USERNAME_PATTERN = r"^[A-Za-z0-9_]{3,32}(?!\n)$"
#: blank (no email), or one `@` with no `@` or space at either end (surrounding space ignored)
EMAIL_PATTERN = r"^\s*(?:[^@\s][^@]*@[^@]*[^@\s])?\s*$"
Username = Annotated[str, msgspec.Meta(pattern=USERNAME_PATTERN)]
Password = Annotated[str, msgspec.Meta(min_length=8, max_length=128)]
Email = Annotated[str, msgspec.Meta(pattern=EMAIL_PATTERN, max_length=254)]


class RegisterRequest(msgspec.Struct, kw_only=True):
    invitation_code: str
    username: Username
    password: Password
    email: Email | None = None


class LoginRequest(msgspec.Struct, kw_only=True):
    identifier: str
    password: str


class AccessKeyCreateRequest(msgspec.Struct, kw_only=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    expires_in_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] | None = None


class MessageView(msgspec.Struct, kw_only=True):
    message: str


class UserView(msgspec.Struct, kw_only=True):
    user_id: str
    email: str | None
    username: str
    role: str | None


class LoginView(UserView, kw_only=True):
    message: str


class InvitationView(msgspec.Struct, kw_only=True):
    invitation_code: str
    remaining_uses: int
    expires_at: str | None


class AccessKeyCreated(msgspec.Struct, kw_only=True):
    """The key itself is shown once, here; only its hash is stored."""

    access_key_id: str
    name: str
    access_key: str
    created_at: str | None
    expires_at: str | None


class AccessKeyView(msgspec.Struct, kw_only=True):
    access_key_id: str
    name: str
    created_at: str | None
    last_used_at: str | None
    expires_at: str | None
    is_active: bool


class AccessKeysView(msgspec.Struct, kw_only=True):
    access_keys: list[AccessKeyView]


class RevokedView(msgspec.Struct, kw_only=True):
    revoked: bool


# ---------------------------------------------------------------- media preview (providers.md §4.5)

#: engine/media_catalog.py's PROVIDER_ACTIONS (tests/acceptance/test_openapi_contract.py compares)
MediaProviderName = Literal["leonardo", "openai", "midjourney", "stable_diffusion", "elevenlabs"]
MediaActionType = Literal["txt2img", "img2img", "img2vid", "txt2audio"]


class MediaPreviewRequest(msgspec.Struct, kw_only=True):
    provider: MediaProviderName
    action_type: MediaActionType
    params: dict[str, Any] = {}
    ai_config: dict[str, Any] | None = None
    mock: bool = True  # virtual server only (no run there); production uses the run's mode


# ---------------------------------------------------------------- runs (wire-api.md §6.2, §6.4)


class RunCheck(msgspec.Struct, kw_only=True, omit_defaults=True):
    """`GET /workflow/check`: `{exists: false}`, or the active run with its position."""

    exists: bool
    workflow_run_id: str | None = None
    status: WorkflowStatus | None = None
    current_step: str | None = None
    current_module: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class CancelView(msgspec.Struct, kw_only=True):
    message: str
    workflow_run_id: str
    cancelled: int


class DeletedView(msgspec.Struct, kw_only=True):
    deleted: bool
    workflow_run_id: str


class ActiveRun(msgspec.Struct, kw_only=True):
    workflow_run_id: str
    project_name: str | None
    workflow_template_name: str | None
    workflow_template_id: str | None
    status: WorkflowStatus | None
    current_step: str | None
    current_step_name: str | None
    current_module: str | None
    completed_steps: list[str]
    mock: bool
    created_at: str | None
    updated_at: str | None
    completed_at: str | None
    current_workflow_version_id: str | None


class ActiveRunsView(msgspec.Struct, kw_only=True):
    workflows: list[ActiveRun]
    count: int


# ---------------------------------------------------------------- templates (wire-api.md §6.5)


class VersionSummary(msgspec.Struct, kw_only=True):
    workflow_version_id: str
    created_at: str | None
    content_hash: str | None
    source_type: str | None
    version_type: str | None


class TemplateHead(msgspec.Struct, kw_only=True):
    """Template fields plus the web UI's access flags (global templates are read-only)."""

    template_id: str
    template_name: str
    name: str | None
    scope: str
    visibility: str
    is_owner: bool
    is_global: bool
    can_edit: bool


class TemplateDetail(TemplateHead, kw_only=True):
    versions: list[VersionSummary]


class TemplateListItem(TemplateHead, kw_only=True):
    created_at: str | None
    updated_at: str | None
    versions: list[VersionSummary]


class TemplatesPage(msgspec.Struct, kw_only=True):
    templates: list[TemplateListItem]
    count: int


class VersionDetail(VersionSummary, kw_only=True):
    template_id: str
    template_name: str
    definition: dict[str, Any] | None
    is_owner: bool
    is_global: bool
    can_edit: bool
    redirect_to: str | None = None


# ---------------------------------------------------------------- media tasks (wire-api.md §6.7)


class TaskQueued(msgspec.Struct, kw_only=True):
    task_id: str
    status: Literal["queued"] = "queued"


class TaskView(msgspec.Struct, kw_only=True):
    """What a client may see of a task: no params, no worker internals, never a key."""

    task_id: str
    actor: str | None
    status: str | None
    workflow_run_id: str | None
    interaction_id: str | None
    sub_action_id: str | None
    provider: str | None
    progress: dict[str, Any] | None
    result: Any
    error: Any
    created_at: str | None
    started_at: str | None
    completed_at: str | None


class TasksView(msgspec.Struct, kw_only=True):
    tasks: list[TaskView]


# ---------------------------------------------------------------- streams (wire-api.md §4)


class SSEEvent(msgspec.Struct, kw_only=True):
    """One event of a `text/event-stream` answer as a client parses it (`: ping` comments are
    not events): the frame's `event` name, its `id` and `data`, the JSON payload's text."""

    event: str
    data: str
    id: str | None = None


# ---------------------------------------------------------------- virtual server (§5.8)


class MockDataResponse(msgspec.Struct, kw_only=True, omit_defaults=True):
    """`POST /workflow/mock-data`: `response` (an answer to `interaction_request`), or `data`
    (values of `schema`) with `warnings`."""

    response: dict[str, Any] | None = None
    data: list[Any] | None = None
    warnings: list[str] | None = None


# ---------------------------------------------------------------- misc (wire-api.md §6.6)


class ModelEntry(msgspec.Struct, kw_only=True):
    id: str
    name: str


class ProviderModels(msgspec.Struct, kw_only=True):
    name: str
    default: str
    models: list[ModelEntry]


class ModelsView(msgspec.Struct, kw_only=True):
    default_provider: str
    default_model: str
    providers: dict[str, ProviderModels]


class HealthView(msgspec.Struct, kw_only=True):
    status: Literal["healthy", "unhealthy"]
    service: str
    database: Literal["connected", "not connected"]
