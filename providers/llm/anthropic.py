"""Anthropic Messages client over httpx (providers.md §3), blocking and streaming.

The key travels only in this call's `x-api-key` header (PRV-1); bodies come from
`anthropic_payload.py`.
"""

from __future__ import annotations

from typing import Any, Callable

from engine.provider_types import (
    Credentials,
    InvalidRequestError,
    LLMRequest,
    LLMResult,
    ModelCapabilities,
)
from providers.llm import models
from providers.llm.anthropic_payload import API_VERSION, Prepared, prepare
from providers.llm.common import parse_content, require_key, strip_fences
from providers.llm.http_client import (
    ClientOptions,
    HttpFactory,
    default_http,
    post_json,
    sse_opener,
)
from providers.llm.http_errors import error_from_stream_event
from providers.llm.streaming import incomplete_stream, pump_events

DEFAULT_BASE_URL = "https://api.anthropic.com"
VENDOR = "Anthropic"
_PATH = "/v1/messages"


class AnthropicClient:
    provider_id = "anthropic"

    def __init__(self, *, base_url: str = DEFAULT_BASE_URL, http: HttpFactory = default_http,
                 provider_timeout_s: float = 300.0, stream_chunk_timeout_s: float = 180.0,
                 cancel_check_interval_s: float = 0.1) -> None:
        self.options = ClientOptions(base_url=base_url, http=http,
                                     provider_timeout_s=provider_timeout_s,
                                     stream_chunk_timeout_s=stream_chunk_timeout_s,
                                     cancel_check_interval_s=cancel_check_interval_s)

    def capabilities(self, model: str) -> ModelCapabilities:
        return models.capabilities(model, self.provider_id)

    def default_model(self) -> str:
        return models.default_model(self.provider_id)

    def supports_streaming(self, model: str) -> bool:
        return True

    @staticmethod
    def _headers(key: str, prepared: Prepared) -> dict[str, str]:
        headers = {"x-api-key": key, "anthropic-version": API_VERSION,
                   "content-type": "application/json"}
        if prepared.beta:
            headers["anthropic-beta"] = prepared.beta
        return headers

    def call(self, request: LLMRequest, credentials: Credentials) -> LLMResult:
        key = require_key(credentials, self.provider_id)
        prepared = prepare(request, self.capabilities(request.model), stream=False)
        data = post_json(self.options, _PATH, self._headers(key, prepared), prepared.body,
                         VENDOR, [key])
        text = "".join(str(block.get("text") or "") for block in data.get("content") or []
                       if isinstance(block, dict) and block.get("type") == "text")
        return _result(request, data.get("model"), text, _usage(data.get("usage")),
                       data.get("stop_reason"))

    def call_streaming(self, request: LLMRequest, credentials: Credentials, cancel: Any,
                       on_chunk: Callable[[str], None] | None) -> LLMResult:
        key = require_key(credentials, self.provider_id)
        prepared = prepare(request, self.capabilities(request.model), stream=True)
        opener = sse_opener(self.options, _PATH, self._headers(key, prepared), prepared.body,
                            VENDOR, [key])
        pieces: list[str] = []
        usage: dict[str, Any] = {}
        stop_reason: str | None = None
        model: Any = None
        for event in pump_events(opener, self.options.stream_limits(), cancel, VENDOR):
            data = event.data if isinstance(event.data, dict) else {}
            kind = data.get("type") or event.event
            if kind == "message_start":
                message = data.get("message") or {}
                model = message.get("model")
                usage.update(message.get("usage") or {})
            elif kind == "content_block_delta":
                delta = data.get("delta") or {}
                if delta.get("type") == "text_delta" and delta.get("text"):
                    pieces.append(str(delta["text"]))
                    if on_chunk is not None:
                        on_chunk(str(delta["text"]))
            elif kind == "message_delta":
                stop_reason = (data.get("delta") or {}).get("stop_reason") or stop_reason
                usage.update({k: v for k, v in (data.get("usage") or {}).items()
                              if v is not None})
            elif kind == "message_stop":
                return _result(request, model, "".join(pieces), _usage(usage), stop_reason)
            elif kind == "error":
                error = data.get("error") or {}
                raise error_from_stream_event(VENDOR, str(error.get("type") or ""),
                                              str(error.get("message") or ""), [key])
        raise incomplete_stream(VENDOR)


def _int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) else 0


def _usage(usage: Any) -> tuple[int, int, int]:
    """Anthropic counts cache reads and writes apart from `input_tokens`; the prompt total
    includes both, and only reads are `cached_tokens` (PRV-8)."""
    usage = usage if isinstance(usage, dict) else {}
    cached = _int(usage.get("cache_read_input_tokens"))
    prompt = (_int(usage.get("input_tokens")) + _int(usage.get("cache_creation_input_tokens"))
              + cached)
    return prompt, _int(usage.get("output_tokens")), cached


def _result(request: LLMRequest, model: Any, text: str, usage: tuple[int, int, int],
            stop_reason: Any) -> LLMResult:
    if stop_reason == "refusal" and not text.strip():
        raise InvalidRequestError("Anthropic refused the request")
    content = parse_content(text, request.output_schema)
    prompt, completion, cached = usage
    return LLMResult(
        content=content,
        content_text=strip_fences(text) if request.output_schema is not None else text,
        model=str(model or request.model),
        usage=models.usage_for(request.model, prompt, completion, cached),
        finish_reason=str(stop_reason) if stop_reason else None)
