"""Static media provider information as classes (providers.md §4.1/§4.2, MediaProviderClass).

The data lives in `engine.media_catalog` so the engine can use it without importing
`providers/`; these classes expose it through the interface the provider port promises.
"""

from __future__ import annotations

from typing import Any, ClassVar

from engine import media_catalog
from engine.provider_types import InvalidRequestError

#: providers.md §4.2 — maximum parallel generations per provider (for the later worker)
CONCURRENCY: dict[str, int] = dict(media_catalog.PROVIDER_CONCURRENCY)


class MediaProviderInfo:
    """Static information for one provider id, usable without credentials."""

    provider_id: ClassVar[str] = ""
    actions: ClassVar[tuple[str, ...]] = ()
    concurrency: ClassVar[int] = 1

    @classmethod
    def supports(cls, action: str) -> bool:
        return action in cls.actions

    @classmethod
    def get_data_schema(cls, action: str) -> dict[str, Any]:
        if action not in cls.actions:
            raise InvalidRequestError(f"Provider '{cls.provider_id}' does not support '{action}'")
        return media_catalog.data_schema(cls.provider_id, action)

    @classmethod
    def get_metadata(cls, action: str) -> dict[str, Any]:
        if action not in cls.actions:
            return {}
        return media_catalog.provider_metadata(cls.provider_id, action)


def _info_class(provider_id: str) -> type[MediaProviderInfo]:
    return type(f"{provider_id.title().replace('_', '')}Info", (MediaProviderInfo,), {
        "provider_id": provider_id,
        "actions": tuple(media_catalog.PROVIDER_ACTIONS[provider_id]),
        "concurrency": CONCURRENCY.get(provider_id, 1),
    })


#: the explicit list of media providers (PRV-5, GEN-6)
MEDIA_PROVIDER_CLASSES: dict[str, type[MediaProviderInfo]] = {
    pid: _info_class(pid) for pid in ("leonardo", "openai", "midjourney", "stable_diffusion",
                                      "elevenlabs")
}
