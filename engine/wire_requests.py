"""Request bodies of the production routes (wire-api.md §6.1/§6.2).

The sibling of engine/wire.py (one set of structs used end to end), kept apart only to keep
files under the size limit. Input structs ignore unknown fields, as every msgspec struct does
by default.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

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


class ResumeConfirmRequest(ResumeRequest, kw_only=True):
    workflow_content: str | dict[str, Any]  # the content the confirmation accepts


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


#: `(?!\n)$`: the end of the string in Python's `re` as in JavaScript (a bare `$` also matches
#: before a final newline in Python, which would let "abc\n" through)
USERNAME_PATTERN = r"^[A-Za-z0-9_]{3,32}(?!\n)$"
#: blank (no email), or one `@` with no `@` or space at either end (surrounding space ignored)
EMAIL_PATTERN = r"^\s*(?:[^@\s][^@]*@[^@]*[^@\s])?\s*$"
Username = Annotated[str, msgspec.Meta(pattern=USERNAME_PATTERN)]
Password = Annotated[str, msgspec.Meta(min_length=8, max_length=128)]
Email = Annotated[str, msgspec.Meta(pattern=EMAIL_PATTERN, max_length=254)]


class RegisterRequest(msgspec.Struct, kw_only=True):
    """The shape rules are the ones auth/repo.py checks, stated so the schema carries them."""

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


#: engine/media_catalog.py's PROVIDER_ACTIONS (tests/acceptance/test_openapi_contract.py compares)
MediaProviderName = Literal["leonardo", "openai", "midjourney", "stable_diffusion", "elevenlabs"]
MediaActionType = Literal["txt2img", "img2img", "img2vid", "txt2audio"]


class MediaPreviewRequest(msgspec.Struct, kw_only=True):
    provider: MediaProviderName
    action_type: MediaActionType
    params: dict[str, Any] = {}
    ai_config: dict[str, Any] | None = None
    mock: bool = True  # virtual server only (no run there); production uses the run's mode
