"""Live media client registry. Vendor clients are a later milestone (PRV-13): until one is
installed, asking for a live client raises `ProviderUnavailable` without any network activity."""

from __future__ import annotations

from typing import Callable

from engine.provider_types import Credentials, MediaProvider, ProviderError, ProviderUnavailable
from providers.media.base import MEDIA_PROVIDER_CLASSES, MediaProviderInfo

#: provider id -> constructor taking credentials; empty until vendor clients exist
LIVE_MEDIA_CLIENTS: dict[str, Callable[[Credentials], MediaProvider]] = {}


def media_class(name: str) -> type[MediaProviderInfo]:
    info = MEDIA_PROVIDER_CLASSES.get(name)
    if info is None:
        raise ProviderError(f"Unknown media provider '{name}'", retryable=False,
                            error_code="unknown_provider")
    return info


def create_media_client(name: str, credentials: Credentials) -> MediaProvider:
    media_class(name)
    factory = LIVE_MEDIA_CLIENTS.get(name)
    if factory is None:
        raise ProviderUnavailable(f"Live generation for '{name}' is not available")
    return factory(credentials)
