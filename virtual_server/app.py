"""`create_app(settings, *, clock=None, ids=None, providers=None)` (GEN-11) for port 9001.

Wires the routes of wire-api.md §5, the exception mapping (WIRE-7/8), the `before_request`
guard (auth → body size → depth, VS-3) behind the admission gate (a full engine pool answers
503 before the body is read, engine/admission.py), CORS (WIRE-6), OpenAPI at `/schema` and one
`EnginePool` for all engine work (WIRE-5). Clock, ids and providers are injectable so tests
run deterministically and can forbid live provider calls.
"""

from __future__ import annotations

from typing import Any, Callable, cast

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.types import Middleware

from engine import MonotonicIds, SystemClock, admission_gate
from virtual_server.errors import EXCEPTION_HANDLERS
from virtual_server.limits import request_guard
from virtual_server.openapi import openapi_config
from virtual_server.routes import ROUTES
from virtual_server.runtime import Runtime
from virtual_server.service import VirtualService
from virtual_server.settings import VirtualSettings
from virtual_server.shapes import BLOB_HEADER
from virtual_server.worker import WorkerSpec


def _default_providers(settings: VirtualSettings) -> Any:
    from providers.provider_set import configured_provider_set

    return configured_provider_set(settings.provider_urls, settings.engine_settings(),
                                   settings.media_poll_interval_s)


def _pool_of(scope: Any) -> Any:
    return scope["litestar_app"].state["runtime"].pool


def _is_post(scope: Any) -> bool:
    """Every POST of this server runs engine work (the GETs are health, docs and media)."""
    return scope.get("method") == "POST"


def create_app(settings: VirtualSettings, *, clock: Any = None, ids: Any = None,
               providers: Any = None, store_kind: str = "fast",
               adapter_factory: Callable[[], Any] | None = None,
               worker_objects: Callable[[], dict[str, Any]] | None = None) -> Litestar:
    """`adapter_factory` lets tests give the user database adapter (else `WFE_MONGODB_URI`);
    `worker_objects` the engine processes' clock, ids and providers (worker.py)."""
    service = VirtualService(settings, clock=clock or SystemClock(), ids=ids or MonotonicIds(),
                             providers=providers if providers is not None else _default_providers(settings),
                             store_kind=store_kind)
    runtime = Runtime(settings, service, adapter_factory,
                      WorkerSpec(settings, worker_objects, store_kind))
    cors = None
    if settings.cors_origins:
        cors = CORSConfig(allow_origins=list(settings.cors_origins), allow_credentials=True,
                          allow_methods=["*"],
                          allow_headers=["Content-Type", "Authorization", "X-Access-Key",
                                         BLOB_HEADER])

    return Litestar(
        route_handlers=ROUTES,
        exception_handlers=EXCEPTION_HANDLERS,
        # the engine's ASGI types are structural, Litestar's are TypedDicts: same callables
        middleware=[cast(Middleware, admission_gate(_pool_of, _is_post, settings.body_timeout_s))],
        before_request=request_guard(settings),
        request_max_body_size=settings.max_body_bytes,
        cors_config=cors,
        openapi_config=openapi_config(),
        state={"runtime": runtime},  # type: ignore[arg-type]
        on_startup=[runtime.startup],
        on_shutdown=[runtime.shutdown],
        debug=False,
        logging_config=None,  # the process's logging (engine/logsetup.py) stays as configured
    )
