"""Wire structs of the production routes the web UI needs beyond the core API (issue 10).

They belong with `engine/wire.py` (one set of structs used end to end) and live in this sibling
module only to keep files under the size limit; the routes declare them as request bodies and
return types, so they also describe those routes in OpenAPI (`/schema`). Field names follow the
web UI's client (`ui/shared/src/core/api.ts`, `api-types.ts`).
"""

from __future__ import annotations

from typing import Any

import msgspec

from engine.wire import WorkflowStatus


class GuestAccessRequest(msgspec.Struct, kw_only=True):
    invitation_code: str


class SessionUser(msgspec.Struct, kw_only=True):
    """Login, register and guest-access answers (the tokens travel as cookies)."""

    user_id: str
    username: str
    email: str | None = None
    role: str | None = None
    message: str = ""
    is_guest: bool = False


class PublishGlobalRequest(msgspec.Struct, kw_only=True):
    source_version_id: str


class PublishGlobalResponse(msgspec.Struct, kw_only=True):
    global_template_id: str
    inserted: int
    existing: int


class CloneVersionResponse(msgspec.Struct, kw_only=True):
    template_id: str
    version_id: str
    template_name: str
    is_new_template: bool
    is_new_version: bool


class DisplayField(msgspec.Struct, kw_only=True):
    id: str
    label: str
    value: str


class TokenTotals(msgspec.Struct, kw_only=True):
    """Sums over a run's `tokens` documents (live calls only; mock calls record none)."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    total_cost: float = 0.0


class RunSummary(msgspec.Struct, kw_only=True):
    """One run as the status display and the runs list show it (`status_display` rendered)."""

    workflow_run_id: str
    project_name: str
    workflow_template_name: str
    workflow_template_id: str | None
    status: WorkflowStatus
    mock: bool
    current_step: str | None
    current_step_name: str | None
    current_module: str | None
    completed_steps: list[str]
    created_at: str | None
    updated_at: str | None
    completed_at: str | None
    current_workflow_version_id: str | None
    display_fields: list[DisplayField]
    layout: list[list[str]]
    token_totals: TokenTotals = msgspec.field(default_factory=TokenTotals)
    tokens: list[dict[str, Any]] = []


class RunsPage(msgspec.Struct, kw_only=True):
    workflows: list[RunSummary]
    count: int
    total: int


class TokensView(msgspec.Struct, kw_only=True):
    workflow_run_id: str
    tokens: list[dict[str, Any]]
    totals: TokenTotals


class DefinitionView(msgspec.Struct, kw_only=True):
    """`version_id`/`raw_definition` are the web UI's names for `workflow_version_id` and the
    execution-group source (`source_definition`); both spellings are sent."""

    workflow_run_id: str
    workflow_version_id: str | None
    version_id: str | None
    definition: dict[str, Any] | None
    source_workflow_version_id: str | None = None
    source_definition: dict[str, Any] | None = None
    raw_definition: dict[str, Any] | None = None


class FilesRunState(msgspec.Struct, kw_only=True):
    status: str
    current_step: str | None
    current_step_name: str | None


class FilesView(msgspec.Struct, kw_only=True):
    workflow_run_id: str
    files: list[dict[str, Any]]
    count: int
    workflow_state: FilesRunState


class FileContentView(msgspec.Struct, kw_only=True):
    """One workflow file with its content (`WorkflowFileContent` of the web UI)."""

    file_id: str
    workflow_run_id: str
    category: str
    group_id: str | None
    filename: str
    content_type: str
    content: Any
    metadata: dict[str, Any]
    created_at: str | None


class ApiCallsView(msgspec.Struct, kw_only=True):
    workflow_run_id: str
    api_calls: list[dict[str, Any]]
    count: int


class ApiCallFilesView(msgspec.Struct, kw_only=True):
    workflow_run_id: str
    group_id: str
    files: list[dict[str, Any]]
    count: int


class StateV2View(msgspec.Struct, kw_only=True):
    """`GET /workflow/{id}/state/v2`: `state = {steps, state_mapped, files}`."""

    workflow_run_id: str
    status: WorkflowStatus
    state: dict[str, Any]

