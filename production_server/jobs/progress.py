"""Liveness and progress of running jobs in their task documents.

A heartbeat every `WFE_TASK_HEARTBEAT_S` tells other processes the worker is alive (the stale
sweep fails tasks that stop beating). Progress reaches the document at most once a second, so a
chatty provider cannot turn into a write storm; SSE subscribers get every frame in memory.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Coroutine

from db.task_queue import TaskQueue
from engine import Clock
from production_server.jobs.job import Job

log = logging.getLogger("production_server.jobs")
PROGRESS_WRITE_INTERVAL_S = 1.0


class ProgressWriter:
    def __init__(self, queue: TaskQueue, worker_id: str, clock: Clock,
                 heartbeat_s: float) -> None:
        self.queue = queue
        self.worker_id = worker_id
        self.clock = clock
        self.heartbeat_s = heartbeat_s
        self._background: set[asyncio.Future[Any]] = set()

    def progress(self, job: Job) -> None:
        """Schedule a write of `job.last_progress`, throttled per job (call on the loop)."""
        if job.write_scheduled or not job.claimed or job.done.done():
            return
        delay = max(0.0, PROGRESS_WRITE_INTERVAL_S - (time.monotonic() - job.last_write))
        job.write_scheduled = True
        asyncio.get_running_loop().call_later(delay, self._write, job)

    def _write(self, job: Job) -> None:
        job.write_scheduled = False
        if job.done.done():
            return
        job.last_write = time.monotonic()
        self._spawn(self.queue.heartbeat(job.task_id, self.worker_id, self.clock.now(),
                                         job.last_progress))

    async def heartbeat_loop(self, job: Job) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            try:
                await self.queue.heartbeat(job.task_id, self.worker_id, self.clock.now())
            except Exception:
                log.warning("heartbeat of task %s failed", job.task_id, exc_info=True)

    def cancel_all(self) -> None:
        for future in list(self._background):
            future.cancel()

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        future = asyncio.ensure_future(coro)
        self._background.add(future)

        def done(f: "asyncio.Future[Any]") -> None:
            self._background.discard(f)
            if not f.cancelled() and f.exception() is not None:
                log.warning("task progress write failed: %r", f.exception())

        future.add_done_callback(done)
