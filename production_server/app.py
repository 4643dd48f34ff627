"""`create_app(settings, *, clock=None, ids=None, providers=None)` (GEN-11): the production app.

The database client, the engine store bridge and the engine are built at startup on the serving
loop (`Services.start`), which also creates every index (ST-13). With no `WFE_MONGODB_URI` the
embedded in-memory backend is used and a loud warning says nothing is persisted.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from litestar import Litestar, Request, Response
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig

from engine.admission import admission_gate
from engine.clock import SystemClock
from engine.ids import MonotonicIds
from engine.ports import Clock, IdGenerator, ProviderSet
from production_server.auth.routes import AUTH_ROUTES
from production_server.errors import EXCEPTION_HANDLERS, error_response
from production_server.routes import execution, media, resume, streaming, tasks, templates_global
from production_server.routes.execution import EXECUTION_ROUTES
from production_server.routes.listing import LISTING_ROUTES
from production_server.routes.media import MEDIA_ROUTES
from production_server.routes.misc import MISC_ROUTES
from production_server.routes.resume import RESUME_ROUTES
from production_server.auth.guest import GUEST_ROUTES
from production_server.routes.files import FILES_ROUTES
from production_server.routes.runs_info import RUNS_INFO_ROUTES
from production_server.routes.state_streams import STATE_STREAM_ROUTES
from production_server.routes.templates_global import GLOBAL_TEMPLATE_ROUTES
from production_server.routes.state import STATE_ROUTES
from production_server.routes.streaming import STREAMING_ROUTES
from production_server.routes.tasks import TASK_ROUTES
from production_server.services import Services, redacted_uri
from production_server.settings import ProductionSettings
from providers.provider_set import configured_provider_set

log = logging.getLogger("production_server")
ROUTES = [*AUTH_ROUTES, *EXECUTION_ROUTES, *STREAMING_ROUTES, *STATE_ROUTES, *LISTING_ROUTES,
          *MISC_ROUTES, *MEDIA_ROUTES, *TASK_ROUTES, *RESUME_ROUTES, *GUEST_ROUTES, *FILES_ROUTES,
          *RUNS_INFO_ROUTES, *GLOBAL_TEMPLATE_ROUTES, *STATE_STREAM_ROUTES]

#: routes whose body precedes engine work: they take their engine-pool slot before the body is
#: read, so a full pool answers 503 at once (engine/admission.py, issue 15)
ADMIT_FIRST = frozenset(h.fn for h in (
    execution.start, execution.start_confirm, execution.start_by_version, execution.respond,
    execution.retry, execution.jump, execution.jump_to_interaction, streaming.stream_respond,
    streaming.sub_action, resume.resume, resume.resume_confirm, media.media_preview,
    templates_global.publish_global, templates_global.clone_version, tasks.create_task))


def _pool_of(scope: Any) -> Any:
    return scope["litestar_app"].state["services"].pool


def _admits(scope: Any) -> bool:
    handler = scope.get("route_handler")
    return handler is not None and getattr(handler, "fn", None) in ADMIT_FIRST


#: routes that work without the database (health reports it; docs and models need nothing)
NO_DATABASE_PATHS = ("/health", "/schema", "/models")


async def database_gate(request: Request[Any, Any, Any]) -> Response[bytes] | None:
    """503 at once while the database has not answered yet (services.py), instead of a hang."""
    services: Services = request.app.state["services"]
    if services.ready or request.url.path.startswith(NO_DATABASE_PATHS):
        return None
    uri = redacted_uri(services.settings.mongodb_uri)
    return error_response(503, "database_unavailable",
                          f"The database at {uri} cannot be reached yet; retry shortly",
                          {"database": uri}, {"Retry-After": "2"})


def create_app(settings: ProductionSettings, *, clock: Clock | None = None,
               ids: IdGenerator | None = None, providers: ProviderSet | None = None,
               adapter_factory: Callable[[], Any] | None = None) -> Litestar:
    """Build the app; `adapter_factory` lets tests supply a database adapter of their own."""
    services = Services(settings=settings, clock=clock or SystemClock(), ids=ids or MonotonicIds(),
                        providers=providers or configured_provider_set(
                            settings.provider_urls, settings.engine_settings(),
                            settings.media_poll_interval_s),
                        adapter_factory=adapter_factory)
    cors = CORSConfig(allow_origins=list(settings.cors_origins), allow_credentials=True,
                      allow_methods=["*"],
                      allow_headers=["Content-Type", "Authorization", "X-Access-Key"]) \
        if settings.cors_origins else None
    return Litestar(
        route_handlers=ROUTES,
        on_startup=[services.start],
        on_shutdown=[services.stop],
        before_request=database_gate,
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[admission_gate(_pool_of, _admits, settings.body_timeout_s)],
        state=State({"services": services}),
        cors_config=cors,
        openapi_config=OpenAPIConfig(title="Workflow Engine — production server",
                                     version="1.0.0", path="/schema"),
        request_max_body_size=None,
        debug=False,
        logging_config=None,  # the process's logging (engine/logsetup.py) stays as configured
    )
