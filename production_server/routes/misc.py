"""Miscellaneous routes (wire-api.md §6.6): models and health. Neither uses the engine pool."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get
from litestar.openapi import ResponseSpec

from engine import HealthView, ModelsView
from production_server.auth.identity import services_of
from providers.llm.models import models_listing

SERVICE = "production-server"


@get("/models")
async def models() -> ModelsView:
    return msgspec.convert(models_listing(), ModelsView)


@get("/health", responses={503: ResponseSpec(HealthView, generate_examples=False,
                                               description="The database does not answer")})
async def health(request: Request[Any, Any, Any]) -> Response[HealthView]:
    """Healthy when the database answers a ping within 2 s; otherwise 503 `degraded` with the
    reason. While the database breaker is open (db/breaker.py) this answers at once, and once it
    is due the ping is the breaker's probe, so a returning database is seen within a second."""
    down = await services_of(request).database_problem(2.0)
    if down is None:
        return Response(HealthView(status="healthy", service=SERVICE, database="connected"))
    return Response(HealthView(status="degraded", service=SERVICE, **down), status_code=503)


MISC_ROUTES = [models, health]
