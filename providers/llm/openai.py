"""OpenAI client over httpx: Responses API (default) and Chat Completions (providers.md §3).

Each call builds its own HTTP client with the key passed in `credentials` (PRV-1); the request
body is built by `openai_payload.py`, so this file only drives the exchange and reads results.
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
from providers.llm.common import parse_content, require_key, strip_fences
from providers.llm.http_client import (
    ClientOptions,
    HttpFactory,
    default_http,
    post_json,
    sse_opener,
)
from providers.llm.http_errors import error_from_stream_event
from providers.llm.openai_payload import Prepared, prepare
from providers.llm.streaming import incomplete_stream, pump_events

DEFAULT_BASE_URL = "https://api.openai.com/v1"
VENDOR = "OpenAI"
_PATHS = {"responses": "/responses", "completions": "/chat/completions"}


class OpenAIClient:
    provider_id = "openai"

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

    def _headers(self, key: str) -> dict[str, str]:
        return {"Authorization": "Bearer " + key, "Content-Type": "application/json"}

    def call(self, request: LLMRequest, credentials: Credentials) -> LLMResult:
        key = require_key(credentials, self.provider_id)
        prepared = prepare(request, self.capabilities(request.model), stream=False)
        data = post_json(self.options, _PATHS[prepared.endpoint], self._headers(key),
                         prepared.body, VENDOR, [key])
        if prepared.endpoint == "responses":
            return _responses_result(request, data, [key])
        choice = (data.get("choices") or [{}])[0]
        message = choice.get("message") or {}
        text = message.get("content") or ""
        if not text and message.get("refusal"):
            raise InvalidRequestError("OpenAI refused the request: " + str(message["refusal"]))
        return _result(request, data.get("model"), text, _chat_usage(data.get("usage")),
                       choice.get("finish_reason"))

    def call_streaming(self, request: LLMRequest, credentials: Credentials, cancel: Any,
                       on_chunk: Callable[[str], None] | None) -> LLMResult:
        key = require_key(credentials, self.provider_id)
        prepared = prepare(request, self.capabilities(request.model), stream=True)
        opener = sse_opener(self.options, _PATHS[prepared.endpoint], self._headers(key),
                            prepared.body, VENDOR, [key])
        events = pump_events(opener, self.options.stream_limits(), cancel, VENDOR)
        if prepared.endpoint == "responses":
            return _stream_responses(request, events, on_chunk, [key])
        return _stream_chat(request, prepared, events, on_chunk, [key])


# ---------------------------------------------------------------------- results


def _result(request: LLMRequest, model: Any, text: str, usage: tuple[int, int, int],
            finish_reason: str | None) -> LLMResult:
    content = parse_content(text, request.output_schema)
    prompt, completion, cached = usage
    return LLMResult(
        content=content,
        content_text=strip_fences(text) if request.output_schema is not None else text,
        model=str(model or request.model),
        usage=models.usage_for(request.model, prompt, completion, cached),
        finish_reason=finish_reason)


def _int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) else 0


def _responses_usage(usage: Any) -> tuple[int, int, int]:
    usage = usage if isinstance(usage, dict) else {}
    details = usage.get("input_tokens_details") or {}
    return (_int(usage.get("input_tokens")), _int(usage.get("output_tokens")),
            _int(details.get("cached_tokens")))


def _chat_usage(usage: Any) -> tuple[int, int, int]:
    usage = usage if isinstance(usage, dict) else {}
    details = usage.get("prompt_tokens_details") or {}
    return (_int(usage.get("prompt_tokens")), _int(usage.get("completion_tokens")),
            _int(details.get("cached_tokens")))


def _responses_text(data: dict[str, Any]) -> tuple[str, str]:
    texts: list[str] = []
    refusals: list[str] = []
    for item in data.get("output") or []:
        if not isinstance(item, dict) or item.get("type") != "message":
            continue
        for part in item.get("content") or []:
            if part.get("type") == "output_text":
                texts.append(str(part.get("text") or ""))
            elif part.get("type") == "refusal":
                refusals.append(str(part.get("refusal") or ""))
    return "".join(texts), " ".join(refusals)


def _responses_status(data: dict[str, Any], secrets: list[str]) -> str | None:
    """finish_reason from `status`; a failed response raises its vendor error."""
    status = data.get("status")
    if status == "failed":
        error = data.get("error") or {}
        raise error_from_stream_event(VENDOR, str(error.get("code") or ""),
                                      str(error.get("message") or "response failed"), secrets)
    if status == "incomplete":
        return str((data.get("incomplete_details") or {}).get("reason") or "incomplete")
    return "stop" if status in (None, "completed") else str(status)


def _responses_result(request: LLMRequest, data: dict[str, Any],
                      secrets: list[str], streamed_text: str | None = None) -> LLMResult:
    finish = _responses_status(data, secrets)
    text, refusal = _responses_text(data)
    if streamed_text is not None and not text:
        text = streamed_text
    if not text and refusal:
        raise InvalidRequestError("OpenAI refused the request: " + refusal)
    return _result(request, data.get("model"), text, _responses_usage(data.get("usage")), finish)


def _stream_responses(request: LLMRequest, events: Any, on_chunk: Callable[[str], None] | None,
                      secrets: list[str]) -> LLMResult:
    pieces: list[str] = []
    for event in events:
        data = event.data if isinstance(event.data, dict) else {}
        kind = data.get("type") or event.event
        if kind == "response.output_text.delta":
            delta = str(data.get("delta") or "")
            pieces.append(delta)
            if on_chunk is not None and delta:
                on_chunk(delta)
        elif kind in ("response.completed", "response.incomplete", "response.failed"):
            return _responses_result(request, data.get("response") or {}, secrets,
                                     streamed_text="".join(pieces))
        elif kind == "error":
            error = data.get("error") if isinstance(data.get("error"), dict) else data
            raise error_from_stream_event(VENDOR, str(error.get("code") or ""),
                                          str(error.get("message") or ""), secrets)
    raise incomplete_stream(VENDOR)


def _stream_chat(request: LLMRequest, prepared: Prepared, events: Any,
                 on_chunk: Callable[[str], None] | None, secrets: list[str]) -> LLMResult:
    pieces: list[str] = []
    finish: str | None = None
    usage: tuple[int, int, int] = (0, 0, 0)
    model: Any = None
    for event in events:
        if event.data == "[DONE]":
            if finish is None:
                break
            return _result(request, model, "".join(pieces), usage, finish)
        data = event.data if isinstance(event.data, dict) else {}
        if isinstance(data.get("error"), dict):
            error = data["error"]
            raise error_from_stream_event(VENDOR, str(error.get("code") or error.get("type") or ""),
                                          str(error.get("message") or ""), secrets)
        model = data.get("model") or model
        if isinstance(data.get("usage"), dict):
            usage = _chat_usage(data["usage"])
        for choice in data.get("choices") or []:
            delta = str((choice.get("delta") or {}).get("content") or "")
            if delta:
                pieces.append(delta)
                if on_chunk is not None:
                    on_chunk(delta)
            finish = choice.get("finish_reason") or finish
    raise incomplete_stream(VENDOR)

