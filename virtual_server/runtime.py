"""The per-process objects every route needs, stored on `app.state` by `create_app`.

With `WFE_MONGODB_URI` set (and auth on) this includes a client of the production user
database, opened on the serving loop at startup: authentication reads users through it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, TypeVar

from litestar import Request

from db.users import UserDirectory
from engine import (
    BUSY_MESSAGE,
    CancelToken,
    EnginePool,
    Overloaded,
    cancel_on_disconnect,
    set_switch_interval,
    unless_abandoned,
)
from virtual_server.errors import ApiError
from virtual_server.gcpause import without_gc
from virtual_server.jobs import Answer
from virtual_server.procs import ProcessPool, affinity_key
from virtual_server.service import VirtualService
from virtual_server.settings import VirtualSettings
from virtual_server.sse import StreamStats
from virtual_server.worker import WorkerSpec

T = TypeVar("T")
log = logging.getLogger("virtual_server")


class Runtime:
    def __init__(self, settings: VirtualSettings, service: VirtualService,
                 adapter_factory: Callable[[], Any] | None = None,
                 spec: WorkerSpec | None = None) -> None:
        self.settings = settings
        self.spec = spec or WorkerSpec(settings)
        #: the JSON routes' engine processes, while serving with WFE_ENGINE_PROCESSES > 0
        self.procs: ProcessPool | None = None
        self.service = service
        self.pool = self._new_pool()
        self._pool_closed = False
        self.stats = StreamStats()
        self.adapter_factory = adapter_factory
        self.adapter: Any = None
        self.users: UserDirectory | None = None

    def _new_pool(self) -> EnginePool:
        return EnginePool(self.settings.engine_threads, self.settings.engine_queue,
                          nice=self.settings.engine_nice)

    async def startup(self) -> None:
        """Lifespan start: a fresh pool if a previous lifespan closed it (apps can restart), and
        the user database client when users are checked."""
        if self._pool_closed:
            self.pool = self._new_pool()
            self._pool_closed = False
        s = self.settings
        set_switch_interval(s.switch_interval_ms)
        if s.engine_processes:
            procs = ProcessPool(self.spec, s.engine_processes)
            await asyncio.to_thread(procs.start)
            self.procs = procs
        if s.auth_required and (s.mongodb_uri or self.adapter_factory is not None):
            if self.adapter_factory is not None:
                self.adapter = self.adapter_factory()
            else:
                from db.mongo_adapter import MongoAdapter

                assert s.mongodb_uri is not None
                self.adapter = MongoAdapter.connect(
                    s.mongodb_uri, s.mongodb_database, driver=s.mongo_driver,
                    server_selection_timeout_ms=s.db_selection_timeout_ms,
                    breaker_open_s=s.db_breaker_open_s,
                    app_name="workflow-engine-virtual")
            self.users = UserDirectory(self.adapter, s.auth_cache_s)
        elif s.auth_required:
            log.warning("WFE_MONGODB_URI is not set: access tokens are checked by signature "
                        "only (a deactivated or logged-out user's token works until it expires)")

    async def user_database_problem(self) -> dict[str, Any] | None:
        """None unless the user database's breaker is open (db/breaker.py); then its reason. The
        ping is the breaker's probe once one is due, and fails at once otherwise."""
        breaker = getattr(self.adapter, "breaker", None)
        if breaker is None or not breaker.is_open:
            return None
        try:
            await self.adapter.ping()
        except Exception:  # noqa: BLE001 - StoreUnavailable; health never fails with a 500
            pass
        if not breaker.is_open:
            return None
        status: dict[str, Any] = breaker.status()
        return status

    async def shutdown(self) -> None:
        self._pool_closed = True
        self.pool.shutdown(wait=False)
        procs, self.procs = self.procs, None
        if procs is not None:
            await asyncio.to_thread(procs.shutdown)
        adapter, self.adapter, self.users = self.adapter, None, None
        if adapter is not None:
            try:
                await adapter.close()
            except Exception:
                log.exception("closing the user database client failed")

    async def run(self, fn: Callable[..., T], *args: Any, blob: str | None = None,
                  request: Request[Any, Any, Any] | None = None) -> T:
        """Engine work in the pool; a full pool is an immediate 503 (WIRE-5) keeping the blob.

        With the `request` (body already read), `fn` gets a `cancel` token that a client
        disconnect sets, so an abandoned preview stops at its next module boundary, or does not
        start at all if it was still queued for a thread (issue 15).
        """
        try:
            if request is None:
                return await self.pool.run(without_gc(fn), *args)
            token = CancelToken()
            work = unless_abandoned(without_gc(fn), token)
            return await cancel_on_disconnect(self.pool.run(work, *args, cancel=token),
                                              request.receive, token)
        except Overloaded as exc:
            raise ApiError.from_engine(exc, virtual_db=blob) from None

    async def in_process(self, route: str, raw: bytes, rev3: bool,
                         request: Request[Any, Any, Any]) -> Answer:
        """A JSON route's whole work in an engine process (jobs.py): the request's admission
        slot is held until the answer is back, and a client disconnect cancels the job."""
        procs = self.procs
        if procs is None or not self.pool.try_admit():  # the ticket taken before the body
            raise ApiError.from_engine(Overloaded(BUSY_MESSAGE))
        token = CancelToken()
        try:
            key = affinity_key(raw, getattr(request.state, "user_id", None))
            job = asyncio.ensure_future(procs.run(route, raw, rev3, key, token))
        except BaseException:
            self.pool.release()
            raise
        job.add_done_callback(lambda _done: self.pool.release())  # when the worker answered
        return await cancel_on_disconnect(job, request.receive, token)


def runtime(request: Request[Any, Any, Any]) -> Runtime:
    return request.app.state["runtime"]
