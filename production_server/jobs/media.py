"""`MediaJobs`: media sub-actions as background jobs of this server process.

Why: a media generation can take minutes. As a job it survives the client going away, never holds
the run lock while waiting (ENG-34), runs in its own bounded thread pool so it cannot starve the
request engine pool, and respects each provider's `concurrency`. The `task_queue` document is the
shared truth between processes: a job is claimed atomically by the process that enqueued it (a
second claim fails), heartbeats while it runs, and a sweep fails `processing` tasks whose worker
went silent ("worker lost") instead of re-running a paid generation; the sub-action the lost
worker had started then gets its `sub_action_failed` event (engine/sub_action_close.py), so the
run's lineage never keeps a `sub_action_started` without an end.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from datetime import timedelta
from typing import Any, Callable

from db.task_queue import MEDIA_ACTOR, TaskQueue, new_task_doc
from engine import (
    BUSY_MESSAGE,
    CancelToken,
    Clock,
    EnginePool,
    ExecOptions,
    IdGenerator,
    Overloaded,
    ProviderSet,
    SubActionEvent,
    SubActionOutcome,
    WorkflowEngine,
)
from production_server.cancellation import CancelRegistry
from production_server.jobs.broadcast import Broadcaster
from production_server.jobs.frames import cancelled_error, is_final, progress_payload
from production_server.jobs.job import Job, acquire_unless_cancelled, classify, error_of
from production_server.jobs.progress import ProgressWriter
from production_server.settings import ProductionSettings

log = logging.getLogger("production_server.jobs")
Doc = dict[str, Any]


class MediaJobs:
    def __init__(self, *, settings: ProductionSettings, clock: Clock, ids: IdGenerator,
                 providers: ProviderSet, registry: CancelRegistry, engine: WorkflowEngine,
                 adapter: Any, credentials: Callable[[dict[str, Any] | None], dict[str, str]],
                 worker_id: str | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.ids = ids
        self.providers = providers
        self.registry = registry
        self.engine = engine
        self.credentials = credentials
        self.queue = TaskQueue(adapter)
        self.pool = EnginePool(settings.media_workers, settings.media_queue_max)
        self.broadcaster = Broadcaster()
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.progress = ProgressWriter(self.queue, self.worker_id, clock, settings.task_heartbeat_s)
        self._jobs: dict[str, Job] = {}
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._stopping = False
        self.loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self.sweep()
        self._sweeper = asyncio.ensure_future(self._sweep_loop())

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Cancel every job (`server_shutdown`), wait a little, then record the rest as cancelled."""
        self._stopping = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        jobs = list(self._jobs.values())
        for job in jobs:
            job.token.cancel("server_shutdown")
        if jobs:
            await asyncio.wait([job.done for job in jobs], timeout=timeout_s)
        for job in jobs:
            if job.done.done():
                continue
            try:
                doc = await self._finish(job, "cancelled", None, cancelled_error("server_shutdown"))
            except Exception:
                log.exception("recording the shutdown of task %s failed", job.task_id)
                doc = _fallback(job, "cancelled", None, cancelled_error("server_shutdown"))
            if not job.done.done():
                job.done.set_result(doc)
            if job.task is not None:
                job.task.cancel()
        self.progress.cancel_all()
        self.pool.shutdown(wait=False)

    # ------------------------------------------------------------------ queries

    @property
    def active(self) -> int:
        return len(self._jobs)

    def job(self, task_id: str) -> Job | None:
        return self._jobs.get(task_id)

    def tokens(self) -> list[CancelToken]:
        return [job.token for job in self._jobs.values()]

    def watch(self, task_id: str) -> "asyncio.Future[Doc]":
        """A future of the final task document: the local job's, or polled from the database."""
        job = self._jobs.get(task_id)
        if job is not None:
            return job.done
        return asyncio.ensure_future(self._follow(task_id))

    # ------------------------------------------------------------------ enqueue

    async def enqueue(self, *, user_id: str, run_id: str, interaction_id: str,
                      sub_action_id: str, params: dict[str, Any],
                      ai_config: dict[str, Any] | None) -> Job:
        """Write a `queued` task and start its job; 503 `overloaded` before any write when full."""
        self._admit()
        provider: Any = params.get("provider") if isinstance(params.get("provider"), str) else ""
        task_id = self.ids.new_id("tq_")
        doc = new_task_doc(task_id=task_id, actor=MEDIA_ACTOR, concurrency_identifier=provider,
                           payload={"user_id": user_id, "workflow_run_id": run_id,
                                    "interaction_id": interaction_id,
                                    "sub_action_id": sub_action_id, "params": params},
                           now=self.clock.now())
        job = self._new_job(doc, ai_config)  # counts against the bound before the first await
        try:
            await self.queue.insert(doc)
        except BaseException:
            self._forget(job)
            raise
        job.task = asyncio.ensure_future(self._run(job))
        return job

    def adopt(self, doc: Doc, ai_config: dict[str, Any] | None = None) -> Job:
        """Run a queued task written elsewhere; the atomic claim decides which process runs it
        (a process that loses the claim only follows the task to its end)."""
        self._admit()
        job = self._new_job(doc, ai_config)
        job.task = asyncio.ensure_future(self._run(job))
        return job

    def _admit(self) -> None:
        if self._stopping or len(self._jobs) >= self.settings.media_queue_max:
            raise Overloaded(BUSY_MESSAGE, details={"queue": "media"})

    def _new_job(self, doc: Doc, ai_config: dict[str, Any] | None) -> Job:
        payload = doc["payload"]
        run_id = str(payload["workflow_run_id"])
        job = Job(task_id=doc["task_id"], run_id=run_id, user_id=str(payload["user_id"]),
                  interaction_id=str(payload["interaction_id"]),
                  sub_action_id=str(payload["sub_action_id"]),
                  params=dict(payload.get("params") or {}),
                  provider=str(doc.get("concurrency_identifier") or ""),
                  execution=self.registry.register(run_id, "sub_action"),
                  done=asyncio.get_running_loop().create_future(),
                  credentials=self.credentials(ai_config), ai_config=ai_config)
        self._jobs[job.task_id] = job
        return job

    # ------------------------------------------------------------------ running

    async def _run(self, job: Job) -> None:
        try:
            final = await self._execute(job)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("media job %s failed", job.task_id)
            status, error = error_of(exc, job.token)
            try:
                final = await self._finish(job, status, None, error)
            except Exception:  # noqa: BLE001 - the database is gone: streams still end
                final = _fallback(job, status, None, error)
        finally:
            self._forget(job)
        if not job.done.done():
            job.done.set_result(final)

    async def _execute(self, job: Job) -> Doc:
        sem = self._semaphore(job.provider)
        poll_s = self.settings.cancel_check_interval_s
        if not await acquire_unless_cancelled(sem, job.token, poll_s):
            return await self._finish(job, "cancelled", None,
                                      cancelled_error(job.token.reason or "user_cancelled"))
        try:
            claimed = await self.queue.claim(job.task_id, self.worker_id, self.clock.now())
            if claimed is None:  # another process owns it (or it already ended): follow it
                return await self._follow(job.task_id)
            job.claimed = True
            beat = asyncio.ensure_future(self.progress.heartbeat_loop(job))
            try:
                outcome: SubActionOutcome = await self.pool.run(self._engine_call, job)
                status, result, error = classify(outcome, job.token)
            except Exception as exc:  # noqa: BLE001 - engine request errors end the task
                status, error = error_of(exc, job.token)
                result = None
            finally:
                beat.cancel()
            return await self._finish(job, status, result, error)
        finally:
            sem.release()

    def _engine_call(self, job: Job) -> SubActionOutcome:
        """Runs in a media-pool thread; the engine writes events and content collections."""
        loop = self.loop
        assert loop is not None

        def emit(event: SubActionEvent) -> None:
            loop.call_soon_threadsafe(self._on_progress, job, event)

        return self.engine.run_sub_action(
            job.user_id, job.run_id, job.interaction_id, job.sub_action_id, job.params, emit,
            ExecOptions(credentials=job.credentials, ai_config=job.ai_config, cancel=job.token))

    async def _finish(self, job: Job, status: str, result: Doc | None,
                      error: Doc | None) -> Doc:
        worker = self.worker_id if job.claimed else None
        doc = await self.queue.finish(job.task_id, worker, status, result, error,
                                      self.clock.now())
        if doc is None:  # swept as lost, or ended elsewhere: the stored document wins
            doc = await self.queue.get(job.task_id)
        return doc or _fallback(job, status, result, error)

    def _forget(self, job: Job) -> None:
        self._jobs.pop(job.task_id, None)
        self.registry.unregister(job.execution)
        job.forget_keys()

    def _semaphore(self, provider: str) -> asyncio.Semaphore:
        """The provider's limit, awaited on the loop before a job takes a pool thread: the
        registry's thread-level gate enforces the same limit, but waiting there would hold a
        thread and let one busy provider starve the others."""
        sem = self._semaphores.get(provider)
        if sem is None:
            try:
                limit = max(1, int(self.providers.media_class(provider).concurrency))
            except Exception:  # noqa: BLE001 - unknown provider: the engine reports it
                limit = 1
            sem = self._semaphores[provider] = asyncio.Semaphore(limit)
        return sem

    # ------------------------------------------------------------------ progress and heartbeat

    def _on_progress(self, job: Job, event: SubActionEvent) -> None:
        payload = progress_payload(job.run_id, job.task_id, event)
        job.last_progress = payload
        self.broadcaster.publish(job.task_id, "progress", payload)
        self.progress.progress(job)

    # ------------------------------------------------------------------ other processes

    async def _follow(self, task_id: str) -> Doc:
        """Poll a task owned elsewhere until it ends."""
        interval = min(self.settings.task_heartbeat_s, 0.5)
        while True:
            doc = await self.queue.get(task_id)
            if doc is None or is_final(doc):
                return doc or {"task_id": task_id, "status": "failed", "result": None,
                               "payload": {}, "error": {"error_type": "not_found",
                                                        "message": "task vanished",
                                                        "details": {}}}
            await asyncio.sleep(interval)

    async def sweep(self) -> list[str]:
        """Fail `processing` tasks silent for longer than `WFE_TASK_STALE_S` (never re-run)."""
        now = self.clock.now()
        lost = await self.queue.sweep_stale(now - timedelta(seconds=self.settings.task_stale_s),
                                            now)
        if lost:
            log.warning("marked %d media task(s) failed: worker lost: %s", len(lost), lost)
        await self.close_lost_lineages()
        return lost

    async def close_lost_lineages(self) -> list[str]:
        """Write the missing `sub_action_failed` of every lost task (retried by the next sweep
        when the engine pool is busy or the database fails); returns the tasks closed."""
        closed: list[str] = []
        for doc in await self.queue.lost_to_close():
            payload = doc.get("payload") or {}
            run_id, iid = str(payload.get("workflow_run_id")), str(payload.get("interaction_id"))
            sub_action_id = str(payload.get("sub_action_id"))
            execution_id = (doc.get("progress") or {}).get("execution_id")
            alive = [t for t in await self.queue.list_by_run(run_id)
                     if t["task_id"] != doc["task_id"] and not is_final(t)
                     and (t.get("payload") or {}).get("interaction_id") == iid
                     and (t.get("payload") or {}).get("sub_action_id") == sub_action_id]
            alive_ids = {(t.get("progress") or {}).get("execution_id") for t in alive}
            if execution_id is None and None in alive_ids:
                continue  # cannot tell its execution from a live one yet: next sweep
            try:
                ids = await self.pool.run(self.engine.close_lost_sub_action,
                                          str(payload.get("user_id")), run_id, iid,
                                          sub_action_id, execution_id, alive_ids - {None})
            except Exception:
                log.warning("closing the sub-action of lost task %s failed", doc["task_id"],
                            exc_info=True)
                continue
            await self.queue.mark_lineage_closed(doc["task_id"])
            log.warning("lost task %s: closed sub-action execution(s) %s", doc["task_id"], ids)
            closed.append(doc["task_id"])
        return closed

    async def _sweep_loop(self) -> None:
        interval = max(self.settings.task_heartbeat_s, self.settings.task_stale_s / 2)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sweep()
            except Exception:
                log.warning("stale task sweep failed", exc_info=True)


def _fallback(job: Job, status: str, result: Doc | None, error: Doc | None) -> Doc:
    """The final document as this process knows it, when the stored one cannot be read."""
    return {"task_id": job.task_id, "status": status, "result": result, "error": error,
            "payload": {"workflow_run_id": job.run_id}}
