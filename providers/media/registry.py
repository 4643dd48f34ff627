"""Live media client registry (PRV-5: an explicit list, a new client per call).

`media_factory(settings)` is what servers hand to `DefaultProviderSet`; it builds the vendor
client for a provider id with that call's credentials, gated by the provider's concurrency for
the whole process (providers/media/concurrency.py). A provider without a vendor client keeps
failing with `ProviderUnavailable` before any network activity (PRV-13).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Callable

import httpx

from engine.media_vendor import MediaVendor, register_vendor, unregister_vendor
from engine.provider_types import (
    Credentials,
    MediaProvider,
    ProviderError,
    ProviderUnavailable,
)
from providers.media.base import MEDIA_PROVIDER_CLASSES, MediaProviderInfo
from providers.media.concurrency import GatedMediaClient
from providers.media.elevenlabs import ElevenLabsClient
from providers.media.leonardo import LeonardoClient
from providers.media.midjourney import MidjourneyClient
from providers.media.openai_video import OpenAIMediaClient
from providers.media.sd_forge import SDForgeClient
from providers.media.settings import MediaClientSettings
from providers.media.vendor_base import VendorMediaClient

#: provider id -> live client class, constructed as `cls(credentials, settings, transport=...)`
LIVE_MEDIA_CLIENTS: dict[str, type[VendorMediaClient]] = {
    "openai": OpenAIMediaClient,
    "stable_diffusion": SDForgeClient,
    "elevenlabs": ElevenLabsClient,
    "leonardo": LeonardoClient,
    "midjourney": MidjourneyClient,
}


@contextmanager
def media_vendor(record: MediaVendor, client_class: type[VendorMediaClient]) -> Iterator[None]:
    """A vendor added for a while: its record (every derived table follows) and its live
    client; both are removed again on exit. Built-in vendors are listed above instead."""
    if client_class.provider_id != record.provider_id:
        raise ValueError("the client's provider_id must be the record's")
    register_vendor(record)
    LIVE_MEDIA_CLIENTS[record.provider_id] = client_class
    try:
        yield
    finally:
        LIVE_MEDIA_CLIENTS.pop(record.provider_id, None)
        unregister_vendor(record.provider_id)


def media_class(name: str) -> MediaProviderInfo:
    info = MEDIA_PROVIDER_CLASSES.get(name)
    if info is None:
        raise ProviderError(f"Unknown media provider '{name}'", retryable=False,
                            error_code="unknown_provider")
    return info


def create_media_client(name: str, credentials: Credentials,
                        settings: MediaClientSettings | None = None,
                        transport: httpx.BaseTransport | None = None) -> MediaProvider:
    """A new live client; a missing credential or client → `ProviderUnavailable`."""
    media_class(name)
    client_class = LIVE_MEDIA_CLIENTS.get(name)
    if client_class is None:
        raise ProviderUnavailable(f"Live generation for '{name}' is not available")
    client = client_class(credentials, settings or MediaClientSettings(), transport=transport)
    return GatedMediaClient(client)


def media_factory(settings: MediaClientSettings, transport: httpx.BaseTransport | None = None
                  ) -> Callable[[str, Credentials], MediaProvider]:
    """The `media_factory` argument of `DefaultProviderSet` for these settings."""
    return partial(create_media_client, settings=settings, transport=transport)
