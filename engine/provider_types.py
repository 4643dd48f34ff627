"""Types of the provider port (providers.md §3–§4): requests, results and errors.

They live in the engine because the engine is the port's owner; `providers/` implements the
clients against them and never the other way round (GEN-1, GEN-3).
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Literal, Protocol

import msgspec


class ContentPart(msgspec.Struct, kw_only=True):
    type: Literal["text", "image_url", "image_base64", "image_path"]
    value: str
    detail: str | None = None


class Message(msgspec.Struct, kw_only=True):
    role: Literal["system", "user", "assistant"]
    content: list[ContentPart]


class LLMRequest(msgspec.Struct, kw_only=True):
    model: str
    messages: list[Message]
    temperature: float | None = None
    max_tokens: int | None = None
    output_schema: dict[str, Any] | None = None
    reasoning_effort: str | None = None
    metadata: dict[str, Any] | None = None
    cache_system_message: bool | None = None
    cache_user_prefix: bool | None = None
    api_endpoint: str | None = None
    seed: int | None = None


class Usage(msgspec.Struct, kw_only=True):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    display_name: str = ""


class LLMResult(msgspec.Struct, kw_only=True):
    content: Any
    content_text: str
    model: str
    usage: Usage
    finish_reason: str | None = None


class ModelCapabilities(msgspec.Struct, kw_only=True):
    vision: bool = False
    structured_output: bool = False
    temperature: bool = True
    reasoning_effort: bool = False
    max_output_tokens: int = 4096
    api_endpoint: str | None = None


class ContentItem(msgspec.Struct, kw_only=True):
    url: str
    content_type: str
    seed: int = -1
    extension: str | None = None


class UsageInfo(msgspec.Struct, kw_only=True):
    provider: str
    model: str
    display_name: str
    action_type: str
    total_cost: float = 0.0
    image_count: int | None = None
    duration_seconds: float | None = None
    credits: float | None = None
    audio_type: str | None = None
    characters: int | None = None


class GenerationResult(msgspec.Struct, kw_only=True):
    content: list[ContentItem]
    raw_response: dict[str, Any] = {}
    provider_task_id: str | None = None
    preview_url: str | None = None
    usage: UsageInfo | None = None


class PreviewInfo(msgspec.Struct, kw_only=True):
    resolution: dict[str, Any]
    credits: dict[str, Any]


# ---------------------------------------------------------------- errors (providers.md §3.2)


class ProviderError(Exception):
    """Root of provider errors; `retryable` drives the retry loop of api.llm."""

    retryable: bool = False
    error_code: str = "provider_error"

    def __init__(self, message: str, *, retryable: bool | None = None,
                 error_code: str | None = None, status_code: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        if retryable is not None:
            self.retryable = retryable
        if error_code is not None:
            self.error_code = error_code
        self.status_code = status_code
        self.retry_after = retry_after


class AuthenticationError(ProviderError):
    error_code = "auth"


class RateLimitError(ProviderError):
    retryable = True
    error_code = "rate_limited"


class ProviderTimeoutError(ProviderError):
    retryable = True
    error_code = "timeout"


class ServerError(ProviderError):
    retryable = True
    error_code = "server_error"


class InvalidRequestError(ProviderError):
    error_code = "invalid_request"


class InsufficientCreditsError(ProviderError):
    error_code = "insufficient_credits"


class ProviderUnavailable(ProviderError):
    error_code = "unavailable"


class GenerationError(ProviderError):
    error_code = "generation_failed"


class ProviderCancelled(ProviderError):
    error_code = "cancelled"


# ---------------------------------------------------------------- provider protocols

Credentials = dict[str, str]
ProgressCallback = Callable[[dict[str, Any]], None]


class LLMProvider(Protocol):
    provider_id: str

    def capabilities(self, model: str) -> ModelCapabilities: ...
    def default_model(self) -> str: ...
    def call(self, request: LLMRequest, credentials: Credentials) -> LLMResult: ...
    def supports_streaming(self, model: str) -> bool: ...
    def call_streaming(self, request: LLMRequest, credentials: Credentials, cancel: Any,
                       on_chunk: Callable[[str], None] | None) -> LLMResult: ...


class MediaProvider(Protocol):
    provider_id: str
    actions: tuple[str, ...]
    concurrency: int

    def format_params(self, params: dict[str, Any]) -> dict[str, Any]: ...
    def txt2img(self, prompt: str, params: dict[str, Any],
                progress: ProgressCallback) -> GenerationResult: ...
    def img2img(self, source_image: str, prompt: str, params: dict[str, Any],
                progress: ProgressCallback) -> GenerationResult: ...
    def img2vid(self, source_image: str, prompt: str, params: dict[str, Any],
                progress: ProgressCallback) -> GenerationResult: ...
    def txt2audio(self, prompt: str, params: dict[str, Any],
                  progress: ProgressCallback) -> GenerationResult: ...
    def get_preview_info(self, action: str, params: dict[str, Any]) -> PreviewInfo: ...
    def fetch_content(self, item: ContentItem, max_bytes: int) -> Iterator[bytes]:
        """The bytes of a generated item, in chunks: a data URL is decoded, a vendor URL is
        downloaded with whatever authentication that vendor needs. More than `max_bytes`
        raises `ProviderError(error_code="content_too_large")`."""
        ...


class MediaProviderClass(Protocol):
    """Static provider information, available without credentials."""

    provider_id: str
    actions: tuple[str, ...]
    concurrency: int

    def get_data_schema(self, action: str) -> dict[str, Any]: ...
    def get_metadata(self, action: str) -> dict[str, Any]: ...


class HttpFetcher(Protocol):
    def fetch(self, method: str, url: str, headers: dict[str, str] | None, json_body: Any,
              params: dict[str, Any] | None, timeout_s: float) -> tuple[int, dict[str, str], bytes]: ...


class ProviderSet(Protocol):
    def llm(self, name: str) -> LLMProvider: ...
    def media(self, name: str, credentials: Credentials) -> MediaProvider: ...
    def media_class(self, name: str) -> MediaProviderClass: ...
    def fetcher(self) -> HttpFetcher: ...
    def for_call(self, mock: bool) -> "ProviderSet": ...
