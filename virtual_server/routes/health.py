"""`GET /health` (§5.9): answered on the event loop, never through the engine pool (WIRE-5)."""

from __future__ import annotations

from litestar import get

HEALTHY = {"status": "healthy", "service": "virtual-server"}


@get("/health", summary="Liveness")
async def health() -> dict[str, str]:
    return dict(HEALTHY)
