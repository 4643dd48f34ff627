"""Which server settings carry vendor keys and addresses, and under which credential names.

The LLM vendors are listed here; the media vendors come from their records
(engine/media_vendor.py), so a registered vendor's key and address are read from the
environment and handed to its client like every other vendor's (PRV-1, PRV-2).
"""

from __future__ import annotations

import engine.media_vendors  # noqa: F401  (registers the built-in vendors)
from engine.media_vendor import vendors

#: server setting -> credential name of the LLM vendors' keys
LLM_KEY_SETTINGS: dict[str, str] = {"OPENAI_API_KEY": "openai_api_key",
                                    "ANTHROPIC_API_KEY": "anthropic_api_key"}
#: the LLM clients' base addresses (empty → the vendor's public API)
LLM_URL_SETTINGS: tuple[str, ...] = ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL")


def key_settings() -> dict[str, str]:
    """Every server setting that supplies a credential -> the credential's name."""
    found = dict(LLM_KEY_SETTINGS)
    for media in vendors():
        found.setdefault(media.key_setting, media.credential)
    return found


def ai_config_keys() -> tuple[str, ...]:
    """Credential names a request's `ai_config` may carry (PRV-2 source 1)."""
    names = list(LLM_KEY_SETTINGS.values())
    names += [m.credential for m in vendors() if m.key_in_ai_config and m.credential not in names]
    return tuple(names)


def url_settings() -> tuple[str, ...]:
    """Every server setting holding a vendor's base address."""
    names = list(LLM_URL_SETTINGS)
    names += [m.url_setting for m in vendors() if m.url_setting and m.url_setting not in names]
    return tuple(names)
