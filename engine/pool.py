"""EnginePool: the one thread pool all engine work runs in (wire-api.md WIRE-5, SSE-5).

The engine is synchronous, so the async servers hand each operation to a dedicated pool. At most
`threads + queue` operations may be in flight; beyond that a request is refused immediately with
`Overloaded` (503) instead of queueing without bound, so the event loop and `/health` stay
responsive under load. A slot is released when the work finishes in its thread, not when the
awaiting coroutine goes away, so a cancelled request cannot let more work pile up than allowed.

A server decides admission before it reads a request's body (issue 15): it takes a `Ticket` (a
slot) first and makes it the request's current ticket (`holding`); the first admission the
request asks for (`try_admit`, `run`, `admit`) is then served by the ticket, and the slot is
released as usual when that work finishes. A ticket nobody used is released by the server when
the request is answered. So an over-admission 503 costs no body read and no decoding.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Callable, Iterator, TypeVar

from engine.errors import Overloaded

T = TypeVar("T")
log = logging.getLogger("engine.pool")

BUSY_MESSAGE = "Server is busy, retry shortly"


def lower_thread_priority(nice: int) -> None:
    """Make the calling thread `nice` steps less urgent for the OS scheduler (Linux schedules
    threads as tasks; elsewhere, or where the OS refuses, nothing happens). Engine threads run
    this, so when the cores are busy the event-loop thread, which answers `/health` and the
    503s, gets a core first instead of an equal share with every busy engine thread."""
    if nice <= 0 or not sys.platform.startswith("linux"):
        return
    tid = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(19, current + nice))
    except OSError as exc:  # a sandbox that forbids it: run at the process's priority
        log.debug("engine thread priority unchanged: %s", exc)


class Ticket:
    """A slot taken for one request before its body is read: handed over once, to the first
    admission the request asks for, or released unused (both at most once)."""

    def __init__(self, pool: "EnginePool") -> None:
        self.pool = pool
        self._lock = threading.Lock()
        self._open = True

    def hand_over(self) -> bool:
        """The slot now belongs to the caller (who releases it through the pool as usual)."""
        with self._lock:
            taken, self._open = self._open, False
        return taken

    def release(self) -> None:
        """Give the slot back if it was never handed over."""
        if self.hand_over():
            self.pool.release()


_TICKET: ContextVar[Ticket | None] = ContextVar("wfe_engine_ticket", default=None)


@contextmanager
def holding(ticket: Ticket) -> Iterator[Ticket]:
    """Make `ticket` the current request's (tasks started inside inherit it); release it unused
    on the way out."""
    token = _TICKET.set(ticket)
    try:
        yield ticket
    finally:
        _TICKET.reset(token)
        ticket.release()


class EnginePool:
    """A bounded thread pool with non-blocking admission control."""

    def __init__(self, threads: int, queue: int, *, nice: int = 0) -> None:
        """`nice`: how much lower than the event loop's the threads' OS priority is."""
        if threads < 1 or queue < 0:
            raise ValueError("EnginePool needs threads >= 1 and queue >= 0")
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="wfe-engine",
                                            initializer=lower_thread_priority, initargs=(nice,))
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
        """Take a slot if one is free (the request's ticket first); never waits."""
        ticket = _TICKET.get()
        if ticket is not None and ticket.pool is self and ticket.hand_over():
            return True
        return self._take()

    def ticket(self) -> Ticket | None:
        """A slot for a request whose body is not read yet, or None when the pool is full."""
        return Ticket(self) if self._take() else None

    def _take(self) -> bool:
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

    async def off_loop(self, fn: Callable[..., T], *args: Any) -> T:
        """CPU work of a request that holds this pool's ticket (decoding its body) on the pool's
        threads, off the event loop; without a ticket (a request that was not admitted first)
        it runs inline. The ticket's slot already counts the thread this takes."""
        ticket = _TICKET.get()
        if ticket is None or ticket.pool is not self:
            return fn(*args)
        return await asyncio.wrap_future(self._submit(fn, args, {}))

    def _submit(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Future[T]:
        return self._executor.submit(functools.partial(fn, *args, **kwargs))

    def shutdown(self, wait: bool = True) -> None:
        self._executor.shutdown(wait=wait, cancel_futures=not wait)
