"""In-process fan-out of a job's progress frames to the SSE streams watching it.

Only the event-loop thread publishes and subscribes (engine threads hop onto the loop first), so
no locks are needed. Each subscriber is a bounded `FrameQueue`, which drops progress frames under
backpressure; terminal frames never travel through here (streams build them from the final task
document), so a slow reader can lose ticks but never the outcome.
"""

from __future__ import annotations

from typing import Any

from production_server.sse import FrameQueue


class Broadcaster:
    def __init__(self) -> None:
        self._subscribers: dict[str, set[FrameQueue]] = {}

    def subscribe(self, task_id: str, frames: FrameQueue) -> None:
        self._subscribers.setdefault(task_id, set()).add(frames)

    def unsubscribe(self, task_id: str, frames: FrameQueue) -> None:
        subscribers = self._subscribers.get(task_id)
        if subscribers is not None:
            subscribers.discard(frames)
            if not subscribers:
                self._subscribers.pop(task_id, None)

    def publish(self, task_id: str, event: str, data: dict[str, Any]) -> int:
        """Hand the frame to every current subscriber; returns how many got it."""
        subscribers = list(self._subscribers.get(task_id, ()))
        for frames in subscribers:
            frames.put(event, data)
        return len(subscribers)

    def count(self, task_id: str) -> int:
        return len(self._subscribers.get(task_id, ()))
