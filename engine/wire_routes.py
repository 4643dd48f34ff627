"""Answers of the production routes that are not engine views: auth, listings, run checks,
tasks, models and health (issue 11 item 5).

They belong with `engine/wire.py` (one set of structs used end to end) and live in this sibling
module only to keep files under the size limit. The routes return them, so `/schema` shows what
each route really sends; field names and order are those the routes sent as plain dicts.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from engine.wire import WorkflowStatus

# ---------------------------------------------------------------- auth (wire-api.md §6.1)


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


class HealthView(msgspec.Struct, kw_only=True, omit_defaults=True):
    """`degraded` (503) says why and, while the database breaker is open, since when."""

    status: Literal["healthy", "degraded"]
    service: str
    database: Literal["connected", "not connected"]
    reason: str | None = None
    since: str | None = None
