"""Static media provider information (providers.md §4.1/§4.2, `MediaProviderClass`).

The data lives in the vendor records of engine/media_vendor.py, so the engine can use it
without importing `providers/`; `MediaProviderInfo` exposes one record through the interface
the provider port promises, usable without credentials.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from engine.media_catalog import data_schema, provider_metadata
from engine.media_vendor import MediaVendor, vendor, vendors
from engine.provider_types import InvalidRequestError


class MediaProviderInfo:
    """Static information for one provider id."""

    def __init__(self, record: MediaVendor) -> None:
        self.provider_id = record.provider_id
        self.actions = record.actions
        self.concurrency = record.concurrency

    def supports(self, action: str) -> bool:
        return action in self.actions

    def get_data_schema(self, action: str) -> dict[str, Any]:
        if action not in self.actions:
            raise InvalidRequestError(f"Provider '{self.provider_id}' does not support '{action}'")
        return data_schema(self.provider_id, action)

    def get_metadata(self, action: str) -> dict[str, Any]:
        if action not in self.actions:
            return {}
        return provider_metadata(self.provider_id, action)


class _Infos(Mapping[str, MediaProviderInfo]):
    """provider id -> its information, for every registered vendor (PRV-5, GEN-6)."""

    def __getitem__(self, provider_id: str) -> MediaProviderInfo:
        record = vendor(provider_id)
        if record is None:
            raise KeyError(provider_id)
        return MediaProviderInfo(record)

    def __iter__(self) -> Iterator[str]:
        return iter([v.provider_id for v in vendors()])

    def __len__(self) -> int:
        return len(vendors())


MEDIA_PROVIDER_CLASSES: Mapping[str, MediaProviderInfo] = _Infos()
