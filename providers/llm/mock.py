"""Deterministic mock LLM provider (providers.md PRV-12): no I/O, no sleeping.

The content depends only on the request's schema and the seed the engine computed from the
prompt (MOD-llm-5), so every server produces the same mock answer for the same prompt. Like a
real model, the answer is bounded by the output tokens (`max_tokens`, else the model's maximum;
about four bytes per token): a schema demanding more is a non-retryable `ProviderError`.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from engine.mock_budget import MockBudget, MockSchemaError
from engine.mock_data import generate_mock
from engine.provider_types import (
    Credentials,
    LLMRequest,
    LLMResult,
    ModelCapabilities,
    ProviderCancelled,
    ProviderError,
    Usage,
)

MOCK_MODEL = "mock-preview"
MAX_OUTPUT_TOKENS = 128000
BYTES_PER_TOKEN = 4


class MockLLMProvider:
    provider_id = "mock"

    def capabilities(self, model: str) -> ModelCapabilities:
        return ModelCapabilities(vision=True, structured_output=True, temperature=True,
                                 reasoning_effort=True, max_output_tokens=MAX_OUTPUT_TOKENS)

    def default_model(self) -> str:
        return MOCK_MODEL

    def supports_streaming(self, model: str) -> bool:
        return True

    def call(self, request: LLMRequest, credentials: Credentials) -> LLMResult:
        tokens = request.max_tokens if request.max_tokens and request.max_tokens > 0 \
            else MAX_OUTPUT_TOKENS
        tokens = min(tokens, MAX_OUTPUT_TOKENS)
        try:
            content = generate_mock(request.output_schema, request.seed,
                                    MockBudget(tokens * BYTES_PER_TOKEN))
        except MockSchemaError as exc:
            raise ProviderError("mock output for this schema cannot be generated within "
                                + str(tokens) + " output tokens: " + exc.reason,
                                retryable=False, error_code="output_too_large") from None
        if request.output_schema is not None or not isinstance(content, str):
            text = json.dumps(content, indent=2, ensure_ascii=False)
        else:
            text = content
        return LLMResult(content=content, content_text=text, model=MOCK_MODEL, usage=Usage(),
                         finish_reason="stop")

    def call_streaming(self, request: LLMRequest, credentials: Credentials, cancel: Any,
                       on_chunk: Callable[[str], None] | None) -> LLMResult:
        """The text in three chunks; the cancel token is checked before each one."""
        result = self.call(request, credentials)
        text = result.content_text
        third = -(-len(text) // 3) if text else 0
        for index in range(3):
            if cancel is not None and cancel.is_cancelled():
                raise ProviderCancelled("Cancelled")
            if on_chunk is not None:
                on_chunk(text[index * third:(index + 1) * third])
        return result
