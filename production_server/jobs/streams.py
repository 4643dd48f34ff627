"""SSE bodies for job streams: a first `progress` frame with `task_id`, broadcast progress,
ticks, then exactly one terminal frame built from the final task document (SSE-3).

A client that goes away only stops watching: the job keeps running (it is not the stream's
execution), which is the point of running media generations as jobs.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

from engine import FrameCounter
from production_server.jobs.frames import is_final, terminal_frame
from production_server.jobs.media import MediaJobs
from production_server.settings import ProductionSettings
from production_server.sse import Frame, FrameQueue, pump

Doc = dict[str, Any]


def subscribe(jobs: MediaJobs, task_id: str) -> FrameQueue:
    """Subscribe before the job can emit anything (call it right after enqueueing)."""
    frames = FrameQueue(asyncio.get_running_loop())
    jobs.broadcaster.subscribe(task_id, frames)
    return frames


async def job_stream_body(settings: ProductionSettings, jobs: MediaJobs, doc: Doc,
                          initial: list[Frame], frames: FrameQueue) -> AsyncIterator[bytes]:
    """`frames` comes from `subscribe`; the caller unsubscribes it when the stream closes."""
    task_id = doc["task_id"]
    counter = FrameCounter()
    for event, data in initial:
        yield counter.frame(event, data)
    if is_final(doc):
        yield counter.frame(*terminal_frame(doc))
        return
    local = jobs.job(task_id) is not None
    done = jobs.watch(task_id)
    first = initial[-1][1] if initial else {"workflow_run_id": "", "message": "Queued"}

    def tick(elapsed_ms: float) -> Frame:
        data = dict(frames.last_progress or first)
        data["elapsed_ms"] = int(elapsed_ms)
        return "progress", data

    try:
        async for chunk in pump(frames, done, interval_s=settings.progress_interval_s,
                                heartbeat_s=settings.sse_heartbeat_s, tick=tick,
                                counter=counter):
            yield chunk
    finally:
        jobs.broadcaster.unsubscribe(task_id, frames)
        if not local:
            done.cancel()  # stop polling a task owned by another process
    yield counter.frame(*terminal_frame(done.result()))
