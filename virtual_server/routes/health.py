"""`GET /health` (§5.9): answered on the event loop, never through the engine pool (WIRE-5).

With the production user database configured (`WFE_MONGODB_URI`, revocation checks), a database
that is down makes every authenticated request a 503 (fail closed): health then says `degraded`
with the breaker's reason (db/breaker.py), still 200 since the server itself is alive and
recovers on its own. Its ping is the breaker's probe once one is due.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get

from virtual_server.runtime import runtime

HEALTHY = {"status": "healthy", "service": "virtual-server"}


@get("/health", summary="Liveness")
async def health(request: Request[Any, Any, Any]) -> dict[str, Any]:
    adapter = runtime(request).adapter
    breaker = getattr(adapter, "breaker", None)
    if breaker is None or not breaker.is_open:
        return dict(HEALTHY)
    try:
        await adapter.ping()  # fails at once unless the breaker is due for a probe
    except Exception:  # noqa: BLE001 - StoreUnavailable; health never fails with a 500
        pass
    if not breaker.is_open:
        return dict(HEALTHY)
    return {"status": "degraded", "service": "virtual-server", **breaker.status()}
