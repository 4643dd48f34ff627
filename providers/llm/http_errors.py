"""Vendor HTTP failures → the provider error classes of providers.md §3.2 (PRV-10).

Both vendor clients share this mapping so a 429 or a 5xx means the same thing to the engine's
retry loop whichever vendor answered. Messages are built only from the status, the vendor's own
error text and the exception class, then scrubbed of the call's key: request headers and
credentials can never reach an error message.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Iterable, Mapping

import httpx

from engine.provider_types import (
    AuthenticationError,
    InsufficientCreditsError,
    InvalidRequestError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    ServerError,
)
from engine.sanitize import sanitize_message

#: vendor headers telling when a rate-limit window resets, checked after `retry-after`
_RESET_HEADERS = (
    "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens",
    "anthropic-ratelimit-requests-reset", "anthropic-ratelimit-tokens-reset",
    "anthropic-ratelimit-input-tokens-reset", "anthropic-ratelimit-output-tokens-reset",
)
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_CREDIT_MARKERS = ("insufficient_quota", "credit balance", "billing", "insufficient credits")
_MAX_VENDOR_TEXT = 500


def _parse_duration(text: str) -> float | None:
    """OpenAI reset values such as `1s`, `6m0s`, `20ms`, `1h2m3.5s`."""
    text = text.strip()
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    factors = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    return sum(float(number) * factors[unit] for number, unit in parts)


def _parse_instant(text: str, now: float) -> float | None:
    """An HTTP date or an RFC 3339 timestamp → seconds from `now` (never negative)."""
    moment: datetime | None = None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        try:
            moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, moment.timestamp() - now)


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait: `retry-after-ms`, `retry-after` (seconds or HTTP date), vendor resets."""
    lowered = {k.lower(): v for k, v in headers.items()}
    current = time.time() if now is None else now
    value = lowered.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000.0)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            parsed = _parse_instant(value, current)
            if parsed is not None:
                return parsed
    waits = []
    for name in _RESET_HEADERS:
        raw = lowered.get(name)
        if not raw:
            continue
        seconds = _parse_duration(raw)
        if seconds is None:
            seconds = _parse_instant(raw, current)
        if seconds is not None:
            waits.append(seconds)
    return max(waits) if waits else None


def vendor_error_text(body: bytes | str) -> tuple[str, str]:
    """(message, code) from an OpenAI `{error: {message, code, type}}` or Anthropic
    `{type: "error", error: {type, message}}` body; raw text (truncated) otherwise."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        data = json.loads(text)
    except ValueError:
        return text.strip()[:_MAX_VENDOR_TEXT], ""
    error: Any = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        message = str(error.get("message") or "")
        code = str(error.get("code") or error.get("type") or "")
        return message[:_MAX_VENDOR_TEXT], code
    if isinstance(error, str):
        return error[:_MAX_VENDOR_TEXT], ""
    return text.strip()[:_MAX_VENDOR_TEXT], ""


def error_from_status(vendor: str, status: int, headers: Mapping[str, str], body: bytes | str,
                      secrets: Iterable[str] = ()) -> ProviderError:
    """The error class for a non-2xx vendor response (providers.md §3.2 table)."""
    vendor_message, code = vendor_error_text(body)
    if status in (401, 403):    # vendors echo (partly masked) keys here: keep none of it
        vendor_message = "authentication failed" if status == 401 else "permission denied"
    detail = f": {vendor_message}" if vendor_message else ""
    message = sanitize_message(f"{vendor} API error {status}{detail}", secrets)
    lowered = (vendor_message + " " + code).lower()
    if status == 402 or any(marker in lowered for marker in _CREDIT_MARKERS):
        return InsufficientCreditsError(message, status_code=status)
    if status in (401, 403):
        return AuthenticationError(message, status_code=status)
    if status == 429:
        return RateLimitError(message, status_code=status, retry_after=parse_retry_after(headers))
    if status >= 500:
        return ServerError(message, status_code=status, retry_after=parse_retry_after(headers))
    if status in (408, 409):
        return ServerError(message, status_code=status)
    return InvalidRequestError(message, status_code=status)


def error_from_stream_event(vendor: str, code: str, message: str,
                            secrets: Iterable[str] = ()) -> ProviderError:
    """An error reported inside an SSE stream after a 200 (vendor error type or code)."""
    text = sanitize_message(f"{vendor} stream error ({code or 'unknown'}): {message}", secrets)
    lowered = (code + " " + message).lower()
    if any(marker in lowered for marker in _CREDIT_MARKERS):
        return InsufficientCreditsError(text)
    if "rate_limit" in lowered:
        return RateLimitError(text)
    if "invalid_request" in lowered or "invalid_prompt" in lowered:
        return InvalidRequestError(text)
    if "authentication" in lowered or "permission" in lowered:
        return AuthenticationError(text)
    return ServerError(text)   # overloaded, api_error, server_error and unknown codes: transient


def error_from_exception(vendor: str, exc: Exception) -> ProviderError:
    """Transport failures: timeouts are `ProviderTimeoutError`, the rest transient `ServerError`.

    Only the exception class is named: httpx messages can carry URLs, which could carry userinfo.
    """
    if isinstance(exc, httpx.TimeoutException):
        return ProviderTimeoutError(f"{vendor} request timed out ({type(exc).__name__})")
    return ServerError(f"{vendor} connection failed ({type(exc).__name__})")
