"""Live LLM client registry (PRV-5: explicit list, a new client per call).

`LLMClientSettings` carries what the clients need from server settings: vendor base URLs
(configurable so tests and deployments behind a gateway can point elsewhere) and the three
time limits of spec README §5.1. Servers build it once at startup and hand
`llm_factory(settings)` to `DefaultProviderSet`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Mapping

from engine.provider_types import (
    Credentials,
    LLMProvider,
    LLMRequest,
    LLMResult,
    ModelCapabilities,
    ProviderError,
    ProviderUnavailable,
)
from providers.credentials import missing_key_message
from providers.llm import anthropic, models, openai
from providers.llm.client_base import LLMClientBase


@dataclass(frozen=True)
class LLMClientSettings:
    openai_base_url: str = openai.DEFAULT_BASE_URL
    anthropic_base_url: str = anthropic.DEFAULT_BASE_URL
    provider_timeout_s: float = 300.0
    stream_chunk_timeout_s: float = 180.0
    cancel_check_interval_s: float = 0.1

    @classmethod
    def from_values(cls, values: Mapping[str, str], engine: Any = None) -> "LLMClientSettings":
        """From setting values (`OPENAI_BASE_URL`, `ANTHROPIC_BASE_URL`; empty → vendor default)
        and an `EngineSettings` for the time limits (defaults when None)."""
        defaults = cls()
        return cls(
            openai_base_url=(values.get("OPENAI_BASE_URL") or "").strip()
            or defaults.openai_base_url,
            anthropic_base_url=(values.get("ANTHROPIC_BASE_URL") or "").strip()
            or defaults.anthropic_base_url,
            provider_timeout_s=float(getattr(engine, "provider_timeout_s",
                                             defaults.provider_timeout_s)),
            stream_chunk_timeout_s=float(getattr(engine, "llm_stream_chunk_timeout_s",
                                                 defaults.stream_chunk_timeout_s)),
            cancel_check_interval_s=float(getattr(engine, "cancel_check_interval_s",
                                                  defaults.cancel_check_interval_s)),
        )


class PlaceholderLLMClient:
    """Stands in for a vendor whose client is not installed: fails before any network activity
    (PRV-9). Kept for tests and for wiring a provider id before its client exists."""

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
            raise ProviderUnavailable(missing_key_message(self.provider_id))
        raise ProviderUnavailable(f"Live LLM client for '{self.provider_id}' is not installed")

    def call(self, request: LLMRequest, credentials: Credentials) -> LLMResult:
        self._refuse(credentials)
        raise AssertionError("unreachable")

    def call_streaming(self, request: LLMRequest, credentials: Credentials, cancel: Any,
                       on_chunk: Callable[[str], None] | None) -> LLMResult:
        self._refuse(credentials)
        raise AssertionError("unreachable")


def _client(cls: type[LLMClientBase[Any]], base_url: str,
            settings: LLMClientSettings) -> LLMProvider:
    return cls(base_url=base_url, provider_timeout_s=settings.provider_timeout_s,
               stream_chunk_timeout_s=settings.stream_chunk_timeout_s,
               cancel_check_interval_s=settings.cancel_check_interval_s)


#: the explicit registry: provider id -> constructor from settings
LIVE_LLM_CLIENTS: dict[str, Callable[[LLMClientSettings], LLMProvider]] = {
    "openai": lambda s: _client(openai.OpenAIClient, s.openai_base_url, s),
    "anthropic": lambda s: _client(anthropic.AnthropicClient, s.anthropic_base_url, s),
}


def create_llm_client(name: str, settings: LLMClientSettings | None = None) -> LLMProvider:
    """A new live client; unknown name → `ProviderError(error_code="unknown_provider")`."""
    factory = LIVE_LLM_CLIENTS.get(name)
    if factory is None:
        raise ProviderError(f"Unknown LLM provider '{name}'", retryable=False,
                            error_code="unknown_provider")
    return factory(settings or LLMClientSettings())


def llm_factory(settings: LLMClientSettings) -> Callable[[str], LLMProvider]:
    """The `llm_factory` argument of `DefaultProviderSet` for these settings."""
    return partial(create_llm_client, settings=settings)
