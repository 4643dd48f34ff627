"""What every live LLM client shares (providers.md §3): the key check, one JSON exchange, one
SSE exchange with the stall watchdog, and the result built from text, usage and finish reason.

A vendor client says only what differs: how a request becomes a body, where it goes, which
headers carry the key, and how the vendor's answer and event stream read (`prepare`, `path`,
`headers`, `read_result`, `read_stream`). Each call builds its own HTTP client with the key
passed in `credentials` (PRV-1), over the same transport seam as the media clients.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Generic, TypeVar

import httpx

from engine.provider_types import Credentials, LLMRequest, LLMResult, ModelCapabilities
from providers.llm import models
from providers.llm.common import parse_content, require_key, strip_fences
from providers.llm.http_client import ClientOptions, post_json, sse_opener
from providers.llm.streaming import SSEEvent, pump_events

P = TypeVar("P")  # the vendor's prepared request
OnChunk = Callable[[str], None] | None
#: (prompt tokens, completion tokens, cached tokens)
Usage = tuple[int, int, int]


class LLMClientBase(Generic[P]):
    provider_id: str
    vendor: ClassVar[str]
    default_base_url: ClassVar[str]

    def __init__(self, *, base_url: str | None = None,
                 transport: httpx.BaseTransport | None = None,
                 provider_timeout_s: float = 300.0, stream_chunk_timeout_s: float = 180.0,
                 cancel_check_interval_s: float = 0.1) -> None:
        self.options = ClientOptions(base_url=base_url or self.default_base_url,
                                     transport=transport, provider_timeout_s=provider_timeout_s,
                                     stream_chunk_timeout_s=stream_chunk_timeout_s,
                                     cancel_check_interval_s=cancel_check_interval_s)

    def capabilities(self, model: str) -> ModelCapabilities:
        return models.capabilities(model, self.provider_id)

    def default_model(self) -> str:
        return models.default_model(self.provider_id)

    def supports_streaming(self, model: str) -> bool:
        return True

    def call(self, request: LLMRequest, credentials: Credentials) -> LLMResult:
        key = require_key(credentials, self.provider_id)
        prepared = self.prepare(request, stream=False)
        data = post_json(self.options, self.path(prepared), self.headers(key, prepared),
                         self.body(prepared), self.vendor, [key])
        return self.read_result(request, prepared, data, [key])

    def call_streaming(self, request: LLMRequest, credentials: Credentials, cancel: Any,
                       on_chunk: OnChunk) -> LLMResult:
        key = require_key(credentials, self.provider_id)
        prepared = self.prepare(request, stream=True)
        opener = sse_opener(self.options, self.path(prepared), self.headers(key, prepared),
                            self.body(prepared), self.vendor, [key])
        events = pump_events(opener, self.options.stream_limits(), cancel, self.vendor)
        return self.read_stream(request, prepared, events, on_chunk, [key])

    # ---------------------------------------------------------------- vendor hooks

    def prepare(self, request: LLMRequest, *, stream: bool) -> P:
        raise NotImplementedError

    def body(self, prepared: P) -> dict[str, Any]:
        raise NotImplementedError

    def path(self, prepared: P) -> str:
        raise NotImplementedError

    def headers(self, key: str, prepared: P) -> dict[str, str]:
        raise NotImplementedError

    def read_result(self, request: LLMRequest, prepared: P, data: dict[str, Any],
                    secrets: list[str]) -> LLMResult:
        raise NotImplementedError

    def read_stream(self, request: LLMRequest, prepared: P, events: Iterator[SSEEvent],
                    on_chunk: OnChunk, secrets: list[str]) -> LLMResult:
        raise NotImplementedError


def llm_result(request: LLMRequest, model: Any, text: str, usage: Usage,
               finish_reason: str | None) -> LLMResult:
    """The result every vendor returns: parsed content, text without fences when a schema was
    asked for, the model that answered, priced usage (PRV-8)."""
    content = parse_content(text, request.output_schema)
    prompt, completion, cached = usage
    return LLMResult(
        content=content,
        content_text=strip_fences(text) if request.output_schema is not None else text,
        model=str(model or request.model),
        usage=models.usage_for(request.model, prompt, completion, cached),
        finish_reason=finish_reason)


def as_int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) else 0
