"""Secret scrubbing for error messages (engine.md ENG-53, providers.md PRV-3/PRV-10).

Every message that reaches a client, an event or a blob passes through `sanitize_message`, so a
provider error that echoes a key or a local home directory cannot leak it.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any, Iterable

MASK = "***"

_TOKEN_PATTERNS = (
    re.compile(r"sk-ant-[A-Za-z0-9_-]{8,}"),
    re.compile(r"sk-[A-Za-z0-9_-]{8,}"),
    re.compile(r"Bearer [A-Za-z0-9._-]+"),
)
_HOME_PATTERN = re.compile(r"/(?:home|Users)/[^/\s'\"]+")


def sanitize_message(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask known credential values, key-shaped tokens and home-directory prefixes."""
    result = str(text)
    known = sorted({s for s in secrets if isinstance(s, str) and s.strip()}, key=len, reverse=True)
    for secret in known:
        result = result.replace(secret, MASK)
    for pattern in _TOKEN_PATTERNS:
        result = pattern.sub(MASK, result)
    return _HOME_PATTERN.sub("~", result)


class SecretMaskFilter(logging.Filter):
    """Logging filter masking known credential values and key-shaped tokens (PRV-3).

    Servers attach one instance to their handlers and register the credential values they read
    at startup (and per call, if they log call details) with `add_secrets`.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()
        self.add_secrets(secrets)

    def add_secrets(self, secrets: Iterable[str]) -> None:
        with self._lock:
            self._secrets.update(s for s in secrets if isinstance(s, str) and s.strip())

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            secrets = list(self._secrets)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string: leave the record alone
            return True
        record.msg = sanitize_message(message, secrets)
        record.args = None
        return True


def _is_key_name(name: Any) -> bool:
    return isinstance(name, str) and (name == "api_key" or name.endswith("_api_key"))


def strip_keys(value: Any) -> Any:
    """A copy without any key named `api_key` or ending in `_api_key`, at any depth (ENG-10)."""
    if isinstance(value, dict):
        return {k: strip_keys(v) for k, v in value.items() if not _is_key_name(k)}
    if isinstance(value, list):
        return [strip_keys(item) for item in value]
    return value
