"""Live LLM client registry (PRV-5: explicit list, a new client per call).

Real OpenAI/Anthropic clients are a later milestone. Until then each registered id gets a
placeholder that fails with `ProviderUnavailable` before any network activity (PRV-9).
"""

from __future__ import annotations

from typing import Any, Callable

from engine.provider_types import (
    Credentials,
    LLMProvider,
    LLMRequest,
    LLMResult,
    ModelCapabilities,
    ProviderError,
    ProviderUnavailable,
)
from providers.llm import models


class PlaceholderLLMClient:
    """Stands in for a vendor client that is not installed yet."""

    def __init__(self, provider_id: str) -> None:
        self.provider_id = provider_id

    def capabilities(self, model: str) -> ModelCapabilities:
        return models.capabilities(model, self.provider_id)

    def default_model(self) -> str:
        return models.default_model(self.provider_id)

    def supports_streaming(self, model: str) -> bool:
        return False

    def _refuse(self, credentials: Credentials) -> None:
        if not (credentials or {}).get(f"{self.provider_id}_api_key"):
            raise ProviderUnavailable(
                f"No API key configured for provider '{self.provider_id}'")
        raise ProviderUnavailable(f"Live LLM client for '{self.provider_id}' is not installed")

    def call(self, request: LLMRequest, credentials: Credentials) -> LLMResult:
        self._refuse(credentials)
        raise AssertionError("unreachable")

    def call_streaming(self, request: LLMRequest, credentials: Credentials, cancel: Any,
                       on_chunk: Callable[[str], None] | None) -> LLMResult:
        self._refuse(credentials)
        raise AssertionError("unreachable")


#: the explicit registry: provider id -> constructor
LIVE_LLM_CLIENTS: dict[str, Callable[[], LLMProvider]] = {
    "openai": lambda: PlaceholderLLMClient("openai"),
    "anthropic": lambda: PlaceholderLLMClient("anthropic"),
}


def create_llm_client(name: str) -> LLMProvider:
    factory = LIVE_LLM_CLIENTS.get(name)
    if factory is None:
        raise ProviderError(f"Unknown LLM provider '{name}'", retryable=False,
                            error_code="unknown_provider")
    return factory()
