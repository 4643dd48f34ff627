"""Waiting for vendor jobs: the poll loop and a blocking call run in a worker thread.

Every wait reports progress through the engine's callback, which is also how the engine stops a
job: the callback raises `ProviderCancelled`. The loop lets it propagate after a best-effort
`on_stop` (the vendor's cancel endpoint, where one exists), and does the same on its own
overall timeout so an abandoned job does not keep burning vendor credits.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Generic, TypeVar

from engine.provider_types import (
    ProgressCallback,
    ProviderCancelled,
    ProviderError,
    ProviderTimeoutError,
)

T = TypeVar("T")


@dataclass(frozen=True)
class PollStatus:
    """One look at a job: finished (with its result) or still running (with a message)."""

    done: bool
    result: Any = None
    message: str = "Processing"
    percent: float | None = None


def report(progress: ProgressCallback | None, elapsed_s: float, message: str,
           percent: float | None = None) -> None:
    """Send one `{status, progress: {elapsed_ms, message[, percent]}}` update."""
    if progress is None:
        return
    body: dict[str, Any] = {"elapsed_ms": int(max(0.0, elapsed_s) * 1000), "message": message}
    if percent is not None:
        body["percent"] = round(max(0.0, min(100.0, percent)), 1)
    progress({"status": "processing", "progress": body})


def stop_quietly(on_stop: Callable[[], None] | None) -> None:
    """Best effort: a failing cancel call must not hide why we are stopping."""
    if on_stop is None:
        return
    try:
        on_stop()
    except (ProviderError, OSError):
        pass


def poll_until_done(step: Callable[[], PollStatus], progress: ProgressCallback | None, *,
                    vendor: str, interval_s: float, timeout_s: float,
                    wait: Callable[[float], None], monotonic: Callable[[], float],
                    on_stop: Callable[[], None] | None = None) -> Any:
    """Call `step` until it reports done; progress after every unfinished look.

    Raises `ProviderTimeoutError` after `timeout_s`; `ProviderCancelled` raised by `progress`
    propagates. Both call `on_stop` first. Errors raised by `step` propagate unchanged.
    """
    started = monotonic()
    while True:
        status = step()
        if status.done:
            return status.result
        elapsed = monotonic() - started
        if elapsed >= timeout_s:
            stop_quietly(on_stop)
            raise ProviderTimeoutError(f"{vendor} job did not finish within {timeout_s:g} s")
        try:
            report(progress, elapsed, status.message, status.percent)
        except ProviderCancelled:
            stop_quietly(on_stop)
            raise
        wait(interval_s)


class BackgroundCall(Generic[T]):
    """Runs one blocking call in a daemon thread so the caller can keep reporting progress
    (and notice cancellation) while it runs; `result()` re-raises the call's exception."""

    def __init__(self, fn: Callable[[], T], name: str = "media-call") -> None:
        self._fn = fn
        self._done = threading.Event()
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread by result()
            self._error = exc
        finally:
            self._done.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, seconds: float) -> None:
        """Sleep up to `seconds`, waking early when the call finishes."""
        self._done.wait(seconds)

    def result(self) -> T:
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]
