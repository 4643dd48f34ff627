"""One media job in this process, and the small pure helpers around it.

The request's keys live only here (`credentials`, `ai_config`), for as long as the job runs in
this process; the task document never holds them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import msgspec

from engine import CancelToken, EngineError, SubActionOutcome
from production_server.cancellation import Execution
from production_server.jobs.frames import cancelled_error

Doc = dict[str, Any]
MEDIA_MODULES: frozenset[str] = frozenset({"media.generate", "media.generateV2"})


def is_media_sub_action(kind: str, module_id: str) -> bool:
    """Self sub-actions of the media modules run as jobs; everything else runs in the request."""
    return kind == "self" and module_id in MEDIA_MODULES


@dataclass(eq=False)
class Job:
    task_id: str
    run_id: str
    user_id: str
    interaction_id: str
    sub_action_id: str
    params: dict[str, Any]
    provider: str
    execution: Execution
    done: "asyncio.Future[Doc]"
    credentials: dict[str, str] = field(default_factory=dict, repr=False)
    ai_config: dict[str, Any] | None = field(default=None, repr=False)
    claimed: bool = False
    last_progress: Doc | None = None
    last_write: float = 0.0
    write_scheduled: bool = False
    task: "asyncio.Task[None] | None" = None

    @property
    def token(self) -> CancelToken:
        return self.execution.token

    def forget_keys(self) -> None:
        self.credentials = {}
        self.ai_config = None


def classify(outcome: SubActionOutcome, token: CancelToken) -> tuple[str, Doc, Doc | None]:
    """(task status, result builtins, error) for an engine outcome."""
    result = msgspec.to_builtins(outcome)
    if outcome.status == "completed":
        return "completed", result, None
    if outcome.status == "cancelled":
        return "cancelled", result, cancelled_error(token.reason or "user_cancelled")
    return "failed", result, {"error_type": outcome.error_type or "execution_failed",
                              "message": outcome.message or "", "details": dict(outcome.details)}


def error_of(exc: BaseException, token: CancelToken) -> tuple[str, Doc]:
    """(task status, error) for an exception the engine raised instead of returning."""
    if isinstance(exc, EngineError):
        if exc.error_type == "cancelled":
            return "cancelled", cancelled_error(token.reason or "user_cancelled")
        return "failed", {"error_type": exc.error_type, "message": exc.message,
                          "details": dict(exc.details)}
    return "failed", {"error_type": "internal_error", "message": "Internal server error",
                      "details": {}}


async def acquire_unless_cancelled(sem: asyncio.Semaphore, token: CancelToken,
                                   poll_s: float) -> bool:
    """Wait for a provider slot; give up (False, slot not held) once the token is set."""
    if token.is_cancelled():
        return False
    waiter = asyncio.ensure_future(sem.acquire())
    try:
        while True:
            done, _ = await asyncio.wait({waiter}, timeout=poll_s)
            if token.is_cancelled():
                break
            if done:
                return True
    except asyncio.CancelledError:
        _drop(waiter, sem)
        raise
    _drop(waiter, sem)
    return False


def _drop(waiter: "asyncio.Future[Any]", sem: asyncio.Semaphore) -> None:
    if waiter.done() and not waiter.cancelled():
        sem.release()
    else:
        waiter.cancel()
