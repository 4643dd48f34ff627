"""A circuit breaker for the database (issue 15 item 6): fail fast while it is down.

Without it, every request waited for the driver's server selection on each of its database
calls while the database was down (a `/state` answered 503 after 18 s). `MongoAdapter` passes
every call through one breaker, so the production store (on the loop and bridged from engine
threads), authentication and the virtual server's user lookups all share it:

- closed: calls run; a call that cannot reach the server (connection refused or reset, no
  server selectable within the short selection timeout) opens the breaker;
- open: calls fail at once with `StoreUnavailable` (503 `store_unavailable`, `Retry-After`)
  naming the reason, for `open_s`;
- half-open: after `open_s` one call goes through as the probe (a request's, or `/health`'s
  ping); it answering closes the breaker, failing opens it again. Other calls still fail fast
  while the probe is out.

Everything runs on the event loop that owns the driver, but a lock keeps it safe anyway.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable

from engine.errors import StoreUnavailable


class CircuitBreaker:
    def __init__(self, open_s: float = 1.0, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.open_s = open_s
        self._clock = clock
        self._lock = threading.Lock()
        self._open = False
        self._opened_at = 0.0
        self._since: datetime | None = None
        self._probing = False
        self.reason = ""
        #: monotonic time of the last call the server answered (`/health` reuses it, issue 15)
        self.last_answer: float | None = None

    def answered_within(self, seconds: float) -> bool:
        """Closed, and some call was answered in the last `seconds`: proof enough that the
        database is reachable without sending one more command to a server under load."""
        last = self.last_answer
        return not self._open and last is not None and self._clock() - last < seconds

    @property
    def is_open(self) -> bool:
        return self._open

    def status(self) -> dict[str, Any]:
        """For `/health`: why and since when the database is considered down."""
        if not self._open:
            return {"database": "connected"}
        since = self._since.isoformat(timespec="milliseconds").replace("+00:00", "Z") \
            if self._since else None
        return {"database": "not connected", "reason": self.reason, "since": since}

    def before(self, what: str) -> bool:
        """Raise at once while open; True when this call is the half-open probe."""
        with self._lock:
            if not self._open:
                return False
            if self._probing or self._clock() - self._opened_at < self.open_s:
                raise StoreUnavailable(
                    f"database unavailable: {self.reason}",
                    details={"collection": what, "reason": self.reason, "circuit": "open"})
            self._probing = True
            return True

    def succeeded(self) -> None:
        with self._lock:
            self._open = self._probing = False
            self.reason, self._since = "", None
            self.last_answer = self._clock()

    def failed(self, reason: str) -> None:
        with self._lock:
            if not self._open:
                self._since = datetime.now(timezone.utc)
            self._open, self._probing = True, False
            self._opened_at = self._clock()
            self.reason = reason

    def abandoned(self, probe: bool) -> None:
        """A call that proved nothing (cancelled): let the next call probe instead."""
        if probe:
            with self._lock:
                self._probing = False
