"""`DefaultProviderSet` (providers.md §2): the engine's single door to providers.

`for_call(mock)` returns a mode-aware view. The mock view builds only mock providers and never
touches the live constructors (PRV-4), which are injectable so tests can make them explode.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from engine.provider_types import (
    Credentials,
    HttpFetcher,
    LLMProvider,
    MediaProvider,
    MediaProviderClass,
    ProviderError,
)
from providers.llm.mock import MockLLMProvider
from providers.llm.registry import create_llm_client
from providers.media.mock import MockMediaProvider
from providers.media.registry import create_media_client, media_class


def _default_fetcher() -> HttpFetcher:
    from providers.http_fetch import GuardedHttpFetcher

    return GuardedHttpFetcher()


class DefaultProviderSet:
    def __init__(self, *, mock: bool = False,
                 llm_factory: Callable[[str], LLMProvider] = create_llm_client,
                 media_factory: Callable[[str, Credentials], MediaProvider] = create_media_client,
                 fetcher_factory: Callable[[], HttpFetcher] = _default_fetcher) -> None:
        self.mock = mock
        self._llm_factory = llm_factory
        self._media_factory = media_factory
        self._fetcher_factory = fetcher_factory

    def for_call(self, mock: bool) -> "DefaultProviderSet":
        return DefaultProviderSet(mock=mock, llm_factory=self._llm_factory,
                                  media_factory=self._media_factory,
                                  fetcher_factory=self._fetcher_factory)

    def llm(self, name: str) -> LLMProvider:
        if self.mock:
            return MockLLMProvider()
        return self._llm_factory(name)

    def media(self, name: str, credentials: Credentials) -> MediaProvider:
        if self.mock:
            return MockMediaProvider(name)
        return self._media_factory(name, credentials)

    def media_class(self, name: str) -> MediaProviderClass:
        return media_class(name)

    def fetcher(self) -> HttpFetcher:
        if self.mock:
            raise ProviderError("The HTTP fetcher is not available in mock mode",
                                error_code="mock_mode")
        return self._fetcher_factory()


def configured_provider_set(provider_urls: Mapping[str, str], engine: Any,
                            media_poll_interval_s: float) -> DefaultProviderSet:
    """The provider set a server runs with: vendor base addresses and time limits from its
    settings (both servers call this, so a setting means the same thing on each)."""
    from providers.llm.registry import LLMClientSettings, llm_factory
    from providers.media.registry import media_factory
    from providers.media.settings import MediaClientSettings

    return DefaultProviderSet(
        llm_factory=llm_factory(LLMClientSettings.from_values(provider_urls, engine)),
        media_factory=media_factory(MediaClientSettings.from_values(provider_urls,
                                                                    media_poll_interval_s)))
