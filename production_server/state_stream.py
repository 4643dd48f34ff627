"""State streams (issue 10): `state_snapshot` on connect, then the state again when it changes.

The web UI keeps its state panel in sync through `GET /workflow/{id}/state/v2/stream` (and the
older `/state/stream`, which sends `state_update {changed_keys, updates}` diffs of the flat
state). The rules of our other streams apply (wire-api.md §4): every check that can fail happens
before the first byte (ownership, `poll_interval`, the per-user stream limit, the first snapshot
— which may be a 503 when the engine pool is full); frames carry `id:` and `workflow_run_id`;
`: ping` heartbeats keep the connection alive; a client that goes away or stops reading ends
the stream; and a stream that ends on its own sends exactly one terminal frame: `error` when
the run disappears (deleted), `cancelled {reason: "server_shutdown"}` on shutdown.

Polling is cheap: a run's state can only change when its events, branch or version change, so
each tick reads the run document and the highest event sequence on the loop and rebuilds the
state in the engine pool only when that marker moved. A tick that finds the pool full is skipped.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator, Awaitable, Callable

from engine import SSE_PING, FrameCounter, Overloaded
from production_server.auth.identity import User
from production_server.errors import ApiError, bad_request
from production_server.routes.common import owned_run
from production_server.services import Services
from production_server.sse import SSEStream

Snapshot = Callable[[], Awaitable[dict[str, Any]]]
MIN_POLL_S, MAX_POLL_S = 0.2, 60.0
SLICE_S = 0.05  # how often a waiting stream notices shutdown


def check_poll_interval(poll_interval: float) -> float:
    if not MIN_POLL_S <= poll_interval <= MAX_POLL_S:
        raise bad_request(f"poll_interval must be between {MIN_POLL_S} and {MAX_POLL_S} seconds",
                          poll_interval=poll_interval)
    return poll_interval


async def _marker(services: Services, run_id: str) -> tuple[Any, ...] | None:
    run = await services.reads.get_run(run_id)
    if run is None:
        return None
    return (run.get("current_branch_id"), run.get("current_workflow_version_id"),
            await services.reads.max_sequence(run_id))


def diff_keys(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Top-level keys whose value changed (a removed key maps to None)."""
    return {k: new.get(k) for k in list(old) + [k for k in new if k not in old]
            if old.get(k) != new.get(k)}


async def open_state_stream(services: Services, user: User, run_id: str, snapshot: Snapshot,
                            poll_interval: float, diffs: bool) -> SSEStream:
    """Run the pre-checks, take the first snapshot and return the stream (SSE-4)."""
    await owned_run(services, user, run_id)
    check_poll_interval(poll_interval)
    if not services.streams.try_open(user.user_id):
        raise ApiError(429, "too_many_streams", "Too many open streams",
                       {"limit": services.settings.sse_max_per_user})
    watch = services.registry.register("watch:" + run_id, "state_stream")
    try:
        first = await snapshot()
        marker = await _marker(services, run_id)
    except BaseException:
        services.registry.unregister(watch)
        services.streams.close(user.user_id)
        raise

    async def body() -> AsyncIterator[bytes]:
        counter = FrameCounter()
        state, last = first, marker
        yield counter.frame("state_snapshot", {"workflow_run_id": run_id, "state": state})
        last_write = next_poll = time.monotonic()
        heartbeat = services.settings.sse_heartbeat_s
        while True:
            next_poll += poll_interval
            while time.monotonic() < next_poll and not watch.token.is_cancelled():
                await asyncio.sleep(min(SLICE_S, max(0.0, next_poll - time.monotonic())))
                if time.monotonic() - last_write >= heartbeat:
                    yield SSE_PING
                    last_write = time.monotonic()
            if watch.token.is_cancelled():
                yield counter.frame("cancelled", {"workflow_run_id": run_id,
                                                  "reason": watch.token.reason or "server_shutdown"})
                return
            current = await _marker(services, run_id)
            if current is None:
                yield counter.frame("error", {"workflow_run_id": run_id, "error_type": "not_found",
                                              "message": "Workflow run not found"})
                return
            if current == last:
                continue
            try:
                new = await snapshot()
            except Overloaded:
                continue  # the next tick tries again (the marker is not advanced)
            last = current
            if diffs:
                changed = diff_keys(state, new)
                frame = ("state_update", {"workflow_run_id": run_id,
                                          "changed_keys": list(changed), "updates": changed}) \
                    if changed else None
            else:
                frame = ("state_snapshot", {"workflow_run_id": run_id, "state": new}) \
                    if new != state else None
            state = new
            if frame is not None:
                yield counter.frame(*frame)
                last_write = time.monotonic()

    def close() -> None:
        services.registry.unregister(watch)
        services.streams.close(user.user_id)

    return SSEStream(body(), send_timeout_s=services.settings.sse_send_timeout_s,
                     on_abort=watch.token.cancel, on_close=close)
