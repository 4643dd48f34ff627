"""The per-process objects every route needs, stored on `app.state` by `create_app`."""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from litestar import Request

from engine.disconnect import cancel_on_disconnect
from engine.errors import Overloaded
from engine.pool import EnginePool
from engine.ports import CancelToken
from virtual_server.errors import ApiError
from virtual_server.gcpause import without_gc
from virtual_server.service import VirtualService
from virtual_server.settings import VirtualSettings
from virtual_server.sse import StreamStats

T = TypeVar("T")


class Runtime:
    def __init__(self, settings: VirtualSettings, service: VirtualService) -> None:
        self.settings = settings
        self.service = service
        self.pool = self._new_pool()
        self._pool_closed = False
        self.stats = StreamStats()

    def _new_pool(self) -> EnginePool:
        return EnginePool(self.settings.engine_threads, self.settings.engine_queue)

    def startup(self) -> None:
        """Lifespan start: a fresh pool if a previous lifespan closed it (apps can restart)."""
        if self._pool_closed:
            self.pool = self._new_pool()
            self._pool_closed = False

    def shutdown(self) -> None:
        self._pool_closed = True
        self.pool.shutdown(wait=False)

    async def run(self, fn: Callable[..., T], *args: Any, blob: str | None = None,
                  request: Request[Any, Any, Any] | None = None) -> T:
        """Engine work in the pool; a full pool is an immediate 503 (WIRE-5) keeping the blob.

        With the `request` (body already read), `fn` gets a `cancel` token that a client
        disconnect sets, so an abandoned preview stops at its next module boundary (issue 15).
        """
        try:
            if request is None:
                return await self.pool.run(without_gc(fn), *args)
            token = CancelToken()
            return await cancel_on_disconnect(self.pool.run(without_gc(fn), *args, cancel=token),
                                              request.receive, token)
        except Overloaded as exc:
            raise ApiError.from_engine(exc, virtual_db=blob) from None


def runtime(request: Request[Any, Any, Any]) -> Runtime:
    return request.app.state["runtime"]  # type: ignore[no-any-return]
