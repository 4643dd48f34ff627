"""Miscellaneous routes (wire-api.md §6.6): models and health. Neither uses the engine pool."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from production_server.auth.identity import services_of
from providers.llm.models import models_listing

SERVICE = "production-server"


@get("/models")
async def models() -> dict[str, Any]:
    return models_listing()


@get("/health")
async def health(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """Healthy when the database answers a ping within 2 s; otherwise 503 `degraded` with the
    reason. While the database breaker is open (db/breaker.py) this answers at once, and once it
    is due the ping is the breaker's probe, so a returning database is seen within a second."""
    services = services_of(request)
    if await services.ping(2.0):
        return Response({"status": "healthy", "service": SERVICE, "database": "connected"})
    breaker = getattr(services.adapter, "breaker", None)
    down = breaker.status() if breaker is not None and breaker.is_open else {
        "database": "not connected", "reason": "no answer to a ping within 2 s"}
    return Response({"status": "degraded", "service": SERVICE, **down}, status_code=503)


MISC_ROUTES = [models, health]
