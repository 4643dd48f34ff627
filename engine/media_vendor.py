"""A media vendor as one record, and the registry of records (providers.md §4.1–§4.4).

Every table about media providers derives from these records: the catalog the engine's media
modules read (engine/media_catalog.py), the settings and credentials the servers take from the
environment (engine/vendor_settings.py), and the live client registry in providers/. Adding a
vendor is its client file plus one record registered here.
"""

from __future__ import annotations

import threading
from typing import Any

import msgspec

Schema = dict[str, Any]


class MediaVendor(msgspec.Struct, frozen=True, kw_only=True):
    provider_id: str
    #: the actions its client implements (`txt2img`, `img2img`, `img2vid`, `txt2audio`)
    actions: tuple[str, ...]
    #: maximum parallel generations per process (§4.2)
    concurrency: int = 1
    #: the per-call credential the client needs (PRV-1)
    credential: str
    #: the server setting that supplies the credential (PRV-2 source 2)
    key_setting: str
    #: whether a request's `ai_config` may carry the credential (PRV-2 source 1)
    key_in_ai_config: bool = True
    #: the server setting of the vendor's API root, and the root when it is unset
    url_setting: str | None = None
    default_url: str = ""
    #: a suffix dropped from the setting's value (a URL shared with an LLM client)
    url_suffix: str = ""
    #: §4.3 prompt payload schema per action (PRV-14)
    schemas: dict[str, Schema] = {}
    #: §4.4 UI option lists per action (PRV-15)
    metadata: dict[str, dict[str, list[dict[str, str]]]] = {}
    #: the actions `media.generateV2` may ask this vendor to write prompts for (MOD-mg2-1)
    prompt_actions: tuple[str, ...] = ()


_lock = threading.Lock()
_vendors: dict[str, MediaVendor] = {}


def register_vendor(vendor: MediaVendor) -> None:
    """Add a vendor; registering the same record again is a no-op, a different one an error."""
    with _lock:
        known = _vendors.get(vendor.provider_id)
        if known is not None and known != vendor:
            raise ValueError(f"media vendor '{vendor.provider_id}' is already registered")
        _vendors[vendor.provider_id] = vendor


def unregister_vendor(provider_id: str) -> None:
    with _lock:
        _vendors.pop(provider_id, None)


def vendor(provider_id: str) -> MediaVendor | None:
    return _vendors.get(provider_id)


def vendors() -> tuple[MediaVendor, ...]:
    """Every registered vendor, in registration order."""
    return tuple(_vendors.values())
