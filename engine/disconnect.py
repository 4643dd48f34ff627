"""Stopping engine work whose HTTP client has gone away (issue 15).

A plain request/response route awaits an operation running in the engine pool; without this, a
client that gives up leaves the operation running to its end (a 10,000-step run kept writing
events for minutes). While the operation runs, the route listens on the ASGI `receive` channel,
which, once the body has been read, yields nothing but `http.disconnect`; on disconnect the
operation's cancel token is set and the engine stops at its next module boundary (ENG-48). Only
ASGI messages are involved, so both servers use this without the engine knowing their framework.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, Awaitable, Callable, Mapping, TypeVar

from engine.errors import Cancelled
from engine.ports import CancelToken

T = TypeVar("T")
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
REASON = "client_disconnected"


async def wait_for_disconnect(receive: Receive) -> None:
    """Return when the client disconnects; call only after the request body has been read."""
    while True:
        message = await receive()
        if message.get("type") == "http.disconnect":
            return


async def cancel_on_disconnect(work: Awaitable[T], receive: Receive, token: CancelToken) -> T:
    """Await `work`; if the client disconnects first, cancel `token` and still await `work`
    (it ends at the next module boundary), so the pool slot is released as usual."""
    future = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(wait_for_disconnect(receive))
    try:
        await asyncio.wait({future, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if watcher.done() and not watcher.cancelled() and watcher.exception() is None \
                and not future.done():
            token.cancel(REASON)
    except asyncio.CancelledError:  # the request itself was torn down: nobody will read a result
        token.cancel(REASON)
        raise
    finally:
        watcher.cancel()
    return await future


def unless_abandoned(fn: Callable[..., T], token: CancelToken) -> Callable[..., T]:
    """`fn`, which does nothing but raise `Cancelled` if `token` was cancelled before it began:
    work queued in the pool whose client left meanwhile is not started at all. Otherwise it
    would load its workflow (seconds for thousands of steps) and run its first module for
    nobody before the first module boundary noticed."""

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> T:
        if token.is_cancelled():
            raise Cancelled("The client went away before the operation started",
                            details={"reason": token.reason or REASON})
        return fn(*args, **kwargs)

    return call
