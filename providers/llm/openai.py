"""OpenAI client over httpx: Responses API (default) and Chat Completions (providers.md §3).

Each call builds its own HTTP client with the key passed in `credentials` (PRV-1); the request
body is built by `openai_payload.py`, so this file only drives the exchange and reads results.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from engine.provider_types import InvalidRequestError, LLMRequest, LLMResult
from providers.llm.client_base import LLMClientBase, OnChunk, Usage, as_int, llm_result
from providers.llm.http_errors import error_from_stream_event
from providers.llm.openai_payload import Prepared, prepare
from providers.llm.streaming import SSEEvent, incomplete_stream

DEFAULT_BASE_URL = "https://api.openai.com/v1"
VENDOR = "OpenAI"
_PATHS = {"responses": "/responses", "completions": "/chat/completions"}


class OpenAIClient(LLMClientBase[Prepared]):
    provider_id = "openai"
    vendor = VENDOR
    default_base_url = DEFAULT_BASE_URL

    def prepare(self, request: LLMRequest, *, stream: bool) -> Prepared:
        return prepare(request, self.capabilities(request.model), stream=stream)

    def body(self, prepared: Prepared) -> dict[str, Any]:
        return prepared.body

    def path(self, prepared: Prepared) -> str:
        return _PATHS[prepared.endpoint]

    def headers(self, key: str, prepared: Prepared) -> dict[str, str]:
        return {"Authorization": "Bearer " + key, "Content-Type": "application/json"}

    def read_result(self, request: LLMRequest, prepared: Prepared, data: dict[str, Any],
                    secrets: list[str]) -> LLMResult:
        if prepared.endpoint == "responses":
            return _responses_result(request, data, secrets)
        choice = (data.get("choices") or [{}])[0]
        message = choice.get("message") or {}
        text = message.get("content") or ""
        if not text and message.get("refusal"):
            raise InvalidRequestError("OpenAI refused the request: " + str(message["refusal"]))
        return llm_result(request, data.get("model"), text, _chat_usage(data.get("usage")),
                          choice.get("finish_reason"))

    def read_stream(self, request: LLMRequest, prepared: Prepared, events: Iterator[SSEEvent],
                    on_chunk: OnChunk, secrets: list[str]) -> LLMResult:
        if prepared.endpoint == "responses":
            return _stream_responses(request, events, on_chunk, secrets)
        return _stream_chat(request, events, on_chunk, secrets)


# ---------------------------------------------------------------------- results


def _responses_usage(usage: Any) -> Usage:
    usage = usage if isinstance(usage, dict) else {}
    details = usage.get("input_tokens_details") or {}
    return (as_int(usage.get("input_tokens")), as_int(usage.get("output_tokens")),
            as_int(details.get("cached_tokens")))


def _chat_usage(usage: Any) -> Usage:
    usage = usage if isinstance(usage, dict) else {}
    details = usage.get("prompt_tokens_details") or {}
    return (as_int(usage.get("prompt_tokens")), as_int(usage.get("completion_tokens")),
            as_int(details.get("cached_tokens")))


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
    return llm_result(request, data.get("model"), text, _responses_usage(data.get("usage")),
                      finish)


def _stream_responses(request: LLMRequest, events: Iterator[SSEEvent], on_chunk: OnChunk,
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
            error: Any = data.get("error") if isinstance(data.get("error"), dict) else data
            raise error_from_stream_event(VENDOR, str(error.get("code") or ""),
                                          str(error.get("message") or ""), secrets)
    raise incomplete_stream(VENDOR)


def _stream_chat(request: LLMRequest, events: Iterator[SSEEvent], on_chunk: OnChunk,
                 secrets: list[str]) -> LLMResult:
    pieces: list[str] = []
    finish: str | None = None
    usage: Usage = (0, 0, 0)
    model: Any = None
    for event in events:
        if event.data == "[DONE]":
            if finish is None:
                break
            return llm_result(request, model, "".join(pieces), usage, finish)
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

