"""In-memory login rate limit per identifier and per client address (AUTH-7)."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable


class LoginLimiter:
    """After `max_failures` failures within `window_s` a key is refused until they age out."""

    def __init__(self, max_failures: int, window_s: float,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._now = now
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        entries = self._failures.get(key)
        if entries is None:
            return deque()
        while entries and entries[0] <= now - self.window_s:
            entries.popleft()
        if not entries:
            self._failures.pop(key, None)
        return entries

    def blocked(self, *keys: str) -> bool:
        now = self._now()
        with self._lock:
            return any(len(self._recent(k, now)) >= self.max_failures for k in keys)

    def fail(self, *keys: str) -> None:
        now = self._now()
        with self._lock:
            for key in keys:
                self._recent(key, now)
                self._failures.setdefault(key, deque()).append(now)

    def succeed(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)
