"""Per-call credentials (providers.md PRV-1…3, engine.md ENG-10).

Keys come from the request's `ai_config` first, then from server settings; they are handed to the
engine with each call and never written to the environment or stored.
"""

from __future__ import annotations

from typing import Any, Mapping

from engine.sanitize import strip_keys
from engine.vendor_settings import ai_config_keys, key_settings

__all__ = ["build_credentials", "missing_key_message", "strip_keys"]


def missing_key_message(provider_id: str) -> str:
    """The error of a live call without a key; it names the server setting (issue 10)."""
    setting = next((name for name, cred in key_settings().items()
                    if cred == f"{provider_id}_api_key"), None)
    where = f" (set {setting} on the server or send ai_config.{provider_id}_api_key)" \
        if setting else ""
    return f"No API key configured for provider '{provider_id}'{where}"


def _present(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def build_credentials(settings_keys: Mapping[str, str],
                      ai_config: dict[str, Any] | None) -> dict[str, str]:
    """Merge settings and `ai_config` keys; `ai_config` wins (PRV-2).

    `settings_keys` may use setting names (`OPENAI_API_KEY`) or credential names
    (`openai_api_key`). `ai_config.api_key` is kept under `api_key`: it belongs to whichever LLM
    provider the module selects, which only the LLM helper knows.
    """
    credentials: dict[str, str] = {}
    names = key_settings()
    for name, value in (settings_keys or {}).items():
        key = names.get(name, name.lower())
        if _present(value):
            credentials[key] = value
    config = ai_config or {}
    for key in ai_config_keys():
        if _present(config.get(key)):
            credentials[key] = config[key]
    if _present(config.get("api_key")):
        credentials["api_key"] = config["api_key"]
    return credentials
