"""Small helpers shared by the route modules, and ownership-first for every run route (AUTH-5).

A route with a run id decides ownership before it looks at anything else the caller sent: the
`OWNER` dependency (run id in the path) runs before Litestar validates the query and before the
handler reads the body, and `read_owned_body` (run id in the body) checks the run named in the
body before decoding the rest of it. So another user's run answers the missing-run 404 whatever
else is wrong with the request, and an invalid query or body cannot tell the two apart.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from litestar import Request
from litestar.di import Provide

from engine import depth_within
from production_server.auth.identity import User, current_user, services_of
from production_server.body import decode, pool_of, read_bytes
from production_server.errors import not_found
from production_server.services import Services

T = TypeVar("T")
USER = {"user": Provide(current_user)}


async def owned_run(services: Services, user: User, run_id: str) -> dict[str, Any]:
    """The run if it exists and belongs to `user`; otherwise the fixed 404 (AUTH-5)."""
    run = await services.reads.get_run(run_id)
    if run is None or run.get("user_id") != user.user_id:
        raise not_found()
    return run


async def run_owner(request: Request[Any, Any, Any]) -> User:
    """The `user` of a route with `{workflow_run_id}` in its path: authenticated (401 first),
    then the owner of that run (else the fixed 404), before query or body validation."""
    user = await current_user(request)
    await owned_run(services_of(request), user, str(request.path_params["workflow_run_id"]))
    return user


OWNER = {"user": Provide(run_owner)}


class _RunRef(msgspec.Struct):
    """Only the run id of a body; every other field is ignored at this stage."""

    workflow_run_id: str


async def read_owned_body(request: Request[Any, Any, Any], user: User, type_: type[T],
                          limit: int | None = None) -> T:
    """Read a body that names its run: size limit, then ownership of the named run, then the
    full decoding. A body whose run id cannot be read at all is a 400 for any run alike."""
    services = services_of(request)
    s = services.settings
    raw = await read_bytes(request, limit or s.max_body_bytes)
    ref = await pool_of(request).off_loop(_run_ref, raw, s.max_json_depth)
    if ref is not None and not services.owners.owns(user.user_id, ref.workflow_run_id):
        await owned_run(services, user, ref.workflow_run_id)
        services.owners.remember(user.user_id, ref.workflow_run_id)
    decoded: T = await pool_of(request).off_loop(decode, raw, type_, s.max_json_depth)
    return decoded


def _run_ref(raw: bytes, max_depth: int) -> _RunRef | None:
    if not depth_within(raw, max_depth):  # no parser sees a too-deep body (WIRE-3)
        return None
    try:
        return msgspec.json.decode(raw, type=_RunRef)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
