"""Injected clocks (engine.md §2): the engine never calls `datetime.now()` itself."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone


def utc_ms(value: datetime) -> datetime:
    """Aware UTC datetime truncated to milliseconds, the precision every store keeps (ST-3)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    return value.replace(microsecond=value.microsecond - value.microsecond % 1000)


def iso_z(value: datetime | None) -> str | None:
    """ISO-8601 UTC with milliseconds and `Z` (WIRE-2)."""
    if value is None:
        return None
    value = utc_ms(value)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


class SystemClock:
    def now(self) -> datetime:
        return utc_ms(datetime.now(timezone.utc))


class FixedClock:
    """Deterministic clock: each call returns the current value and advances it by `tick`."""

    def __init__(self, start: datetime, tick: timedelta = timedelta(milliseconds=1)) -> None:
        self._now = utc_ms(start)
        self._tick = tick
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            value = self._now
            self._now = value + self._tick
            return value
