"""Anthropic Messages client over httpx (providers.md §3), blocking and streaming.

The key travels only in this call's `x-api-key` header (PRV-1); bodies come from
`anthropic_payload.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from engine.provider_types import InvalidRequestError, LLMRequest, LLMResult
from providers.llm.anthropic_payload import API_VERSION, Prepared, prepare
from providers.llm.client_base import LLMClientBase, OnChunk, Usage, as_int, llm_result
from providers.llm.http_errors import error_from_stream_event
from providers.llm.streaming import SSEEvent, incomplete_stream

DEFAULT_BASE_URL = "https://api.anthropic.com"
VENDOR = "Anthropic"
_PATH = "/v1/messages"


class AnthropicClient(LLMClientBase[Prepared]):
    provider_id = "anthropic"
    vendor = VENDOR
    default_base_url = DEFAULT_BASE_URL

    def prepare(self, request: LLMRequest, *, stream: bool) -> Prepared:
        return prepare(request, self.capabilities(request.model), stream=stream)

    def body(self, prepared: Prepared) -> dict[str, Any]:
        return prepared.body

    def path(self, prepared: Prepared) -> str:
        return _PATH

    def headers(self, key: str, prepared: Prepared) -> dict[str, str]:
        headers = {"x-api-key": key, "anthropic-version": API_VERSION,
                   "content-type": "application/json"}
        if prepared.beta:
            headers["anthropic-beta"] = prepared.beta
        return headers

    def read_result(self, request: LLMRequest, prepared: Prepared, data: dict[str, Any],
                    secrets: list[str]) -> LLMResult:
        text = "".join(str(block.get("text") or "") for block in data.get("content") or []
                       if isinstance(block, dict) and block.get("type") == "text")
        return _result(request, data.get("model"), text, _usage(data.get("usage")),
                       data.get("stop_reason"))

    def read_stream(self, request: LLMRequest, prepared: Prepared, events: Iterator[SSEEvent],
                    on_chunk: OnChunk, secrets: list[str]) -> LLMResult:
        pieces: list[str] = []
        usage: dict[str, Any] = {}
        stop_reason: str | None = None
        model: Any = None
        for event in events:
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
                                              str(error.get("message") or ""), secrets)
        raise incomplete_stream(VENDOR)


def _usage(usage: Any) -> Usage:
    """Anthropic counts cache reads and writes apart from `input_tokens`; the prompt total
    includes both, and only reads are `cached_tokens` (PRV-8)."""
    usage = usage if isinstance(usage, dict) else {}
    cached = as_int(usage.get("cache_read_input_tokens"))
    prompt = (as_int(usage.get("input_tokens")) + as_int(usage.get("cache_creation_input_tokens"))
              + cached)
    return prompt, as_int(usage.get("output_tokens")), cached


def _result(request: LLMRequest, model: Any, text: str, usage: Usage,
            stop_reason: Any) -> LLMResult:
    if stop_reason == "refusal" and not text.strip():
        raise InvalidRequestError("Anthropic refused the request")
    return llm_result(request, model, text, usage, str(stop_reason) if stop_reason else None)
