"""EnginePool: the one thread pool all engine work runs in (wire-api.md WIRE-5, SSE-5).

The engine is synchronous, so the async servers hand each operation to a dedicated pool. At most
`threads + queue` operations may be in flight; beyond that a request is refused immediately with
`Overloaded` (503) instead of queueing without bound, so the event loop and `/health` stay
responsive under load. A slot is released when the work finishes in its thread, not when the
awaiting coroutine goes away, so a cancelled request cannot let more work pile up than allowed.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar

from engine.errors import Overloaded

T = TypeVar("T")

BUSY_MESSAGE = "Server is busy, retry shortly"


class EnginePool:
    """A bounded thread pool with non-blocking admission control."""

    def __init__(self, threads: int, queue: int) -> None:
        if threads < 1 or queue < 0:
            raise ValueError("EnginePool needs threads >= 1 and queue >= 0")
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="wfe-engine")
        self._limit = threads + queue
        self._in_flight = 0
        self._lock = threading.Lock()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def limit(self) -> int:
        return self._limit

    # ------------------------------------------------------------ admission
    def try_admit(self) -> bool:
        """Take a slot if one is free; never waits."""
        with self._lock:
            if self._in_flight >= self._limit:
                return False
            self._in_flight += 1
            return True

    def release(self) -> None:
        with self._lock:
            if self._in_flight > 0:
                self._in_flight -= 1

    @contextmanager
    def admit(self) -> Iterator[None]:
        """Hold a slot for a block (a streaming route admits first and runs work later)."""
        if not self.try_admit():
            raise Overloaded(BUSY_MESSAGE)
        try:
            yield
        finally:
            self.release()

    # ------------------------------------------------------------ execution
    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Admit (or raise `Overloaded` at once), run `fn` in the pool and await its result."""
        if not self.try_admit():
            raise Overloaded(BUSY_MESSAGE)
        try:
            future = self._submit(fn, args, kwargs)
        except BaseException:
            self.release()
            raise
        future.add_done_callback(lambda _done: self.release())
        return await asyncio.wrap_future(future)

    async def run_admitted(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn` for an operation that already holds a slot via `admit()`/`try_admit()`."""
        return await asyncio.wrap_future(self._submit(fn, args, kwargs))

    def _submit(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Future[T]:
        return self._executor.submit(functools.partial(fn, *args, **kwargs))

    def shutdown(self, wait: bool = True) -> None:
        self._executor.shutdown(wait=wait, cancel_futures=not wait)
