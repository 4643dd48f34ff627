"""Admission before the body (issue 15 item 5): an ASGI middleware for the engine routes.

A request to a route that runs engine work takes its engine-pool slot (a `Ticket`, pool.py)
before anything reads its body. When the pool is full it is refused at once with `Overloaded`
(503, `Retry-After`): its body is never read, decoded or inflated, so a storm of big requests
costs the event loop next to nothing and every refusal is immediate. An admitted request holds
its slot while its body arrives, so the body must be complete within `body_timeout_s` (else
`RequestTimeout`, 408): a slow sender cannot sit on a slot. The slot goes to the request's engine
work, or back to the pool when the answer starts. Only ASGI messages are involved (like
disconnect.py), so both servers use this without the engine knowing their framework.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, MutableMapping

from engine.errors import Overloaded, RequestTimeout
from engine.pool import BUSY_MESSAGE, EnginePool, holding

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def timed_receive(receive: Receive, timeout_s: float) -> Receive:
    """`receive` whose body messages must all arrive within `timeout_s` from now; messages
    after the body (a disconnect) are passed through without a deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    body_done = False

    async def receive_body() -> Message:
        nonlocal body_done
        if body_done:
            return await receive()
        try:
            message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0.0))
        except asyncio.TimeoutError:
            raise RequestTimeout("The request body did not arrive in time",
                                 details={"timeout_s": timeout_s}) from None
        if message.get("type") != "http.request" or not message.get("more_body", False):
            body_done = True
        return message

    return receive_body


def admission_gate(pool_of: Callable[[Scope], EnginePool], admits: Callable[[Scope], bool],
                   body_timeout_s: float) -> Callable[[ASGIApp], ASGIApp]:
    """Middleware factory: requests for which `admits(scope)` is true are admitted first."""

    def wrap(app: ASGIApp) -> ASGIApp:
        async def gate(scope: Scope, receive: Receive, send: Send) -> None:
            if scope.get("type") != "http" or not admits(scope):
                await app(scope, receive, send)
                return
            ticket = pool_of(scope).ticket()
            if ticket is None:
                raise Overloaded(BUSY_MESSAGE)  # mapped to 503 + Retry-After by the server

            async def answer(message: Message) -> None:
                if message.get("type") == "http.response.start":
                    ticket.release()  # no-op once the engine work holds the slot
                await send(message)

            with holding(ticket):
                await app(scope, timed_receive(receive, body_timeout_s), answer)

        return gate

    return wrap
