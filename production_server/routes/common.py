"""Small helpers shared by the route modules."""

from __future__ import annotations

from typing import Any

from litestar.di import Provide

from production_server.auth.identity import User, current_user
from production_server.errors import not_found
from production_server.services import Services

USER = {"user": Provide(current_user)}


async def find_one(services: Services, collection: str, filter_: dict[str, Any]) -> dict[str, Any] | None:
    return await services.adapter.find_one(collection, filter_)  # type: ignore[no-any-return]


async def owned_run(services: Services, user: User, run_id: str) -> dict[str, Any]:
    """The run if it exists and belongs to `user`; otherwise the fixed 404 (AUTH-5)."""
    assert services.reads is not None
    run = await services.reads.get_run(run_id)
    if run is None or run.get("user_id") != user.user_id:
        raise not_found()
    return run
