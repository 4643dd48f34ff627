"""Request bodies of the production routes (wire-api.md §6.1/§6.2).

The sibling of engine/wire.py (one set of structs used end to end), kept apart only to keep
files under the size limit. Input structs ignore unknown fields, as every msgspec struct does
by default.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from engine.wire import InteractionResponseData

ProjectName = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class StartWorkflowRequest(msgspec.Struct, kw_only=True):
    project_name: ProjectName
    workflow_content: str | dict[str, Any]
    workflow_entry_point: str | None = None
    force_new: bool = False
    capabilities: list[str] = []
    ai_config: dict[str, Any] | None = None
    mock: bool | None = None  # absent: the server's default (WFE_DEFAULT_MOCK)


class StartByVersionRequest(msgspec.Struct, kw_only=True):
    project_name: ProjectName
    force_new: bool = False
    capabilities: list[str] = []
    ai_config: dict[str, Any] | None = None
    mock: bool | None = None


class RespondRequest(msgspec.Struct, kw_only=True):
    workflow_run_id: str
    interaction_id: str
    response: InteractionResponseData
    ai_config: dict[str, Any] | None = None


class RetryRequest(msgspec.Struct, kw_only=True):
    workflow_run_id: str
    target_module: str
    feedback: str | None = None
    ai_config: dict[str, Any] | None = None


class JumpRequest(msgspec.Struct, kw_only=True):
    workflow_run_id: str
    target_step_id: str
    target_module_name: str
    ai_config: dict[str, Any] | None = None


class JumpToInteractionRequest(msgspec.Struct, kw_only=True):
    workflow_run_id: str
    interaction_id: str
    ai_config: dict[str, Any] | None = None


class ResumeRequest(msgspec.Struct, kw_only=True):
    ai_config: dict[str, Any] | None = None
    workflow_content: str | dict[str, Any] | None = None  # resume with new content (§15.2)
    workflow_entry_point: str | None = None
    capabilities: list[str] = []


class SubActionRequest(msgspec.Struct, kw_only=True):
    interaction_id: str
    sub_action_id: str
    params: dict[str, Any] = {}
    ai_config: dict[str, Any] | None = None


class StreamRespondRequest(msgspec.Struct, kw_only=True):
    interaction_id: str
    response: InteractionResponseData
    ai_config: dict[str, Any] | None = None
    workflow_run_id: str | None = None


class RegisterRequest(msgspec.Struct, kw_only=True):
    invitation_code: str
    username: str
    password: str
    email: str | None = None


class LoginRequest(msgspec.Struct, kw_only=True):
    identifier: str
    password: str


class AccessKeyCreateRequest(msgspec.Struct, kw_only=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    expires_in_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] | None = None


class MediaPreviewRequest(msgspec.Struct, kw_only=True):
    provider: str
    action_type: str
    params: dict[str, Any] = {}
    ai_config: dict[str, Any] | None = None
    mock: bool = True  # virtual server only (no run there); production uses the run's mode
