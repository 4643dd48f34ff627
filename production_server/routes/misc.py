"""Miscellaneous routes (wire-api.md §6.6): models and health. Neither uses the engine pool."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get
from litestar.openapi import ResponseSpec

from engine.wire_routes import HealthView, ModelsView
from production_server.auth.identity import services_of
from providers.llm.models import models_listing

SERVICE = "production-server"


@get("/models")
async def models() -> ModelsView:
    return msgspec.convert(models_listing(), ModelsView)


@get("/health", responses={503: ResponseSpec(HealthView, generate_examples=False,
                                               description="The database does not answer")})
async def health(request: Request[Any, Any, Any]) -> Response[HealthView]:
    """Healthy when the database answers a ping within 2 s."""
    services = services_of(request)
    if await services.ping(2.0):
        return Response(HealthView(status="healthy", service=SERVICE, database="connected"))
    return Response(HealthView(status="unhealthy", service=SERVICE, database="not connected"),
                    status_code=503)


MISC_ROUTES = [models, health]
