"""`POST /auth/guest-access` (wire-api.md §6.1, *later* route; issue 10): an invitation code buys
a password-less guest account and a session.

The guest gets a generated username (`user_<6 hex>`), no password (so it cannot log in from
another device; login answers the usual 401) and `is_guest: true`; otherwise it is an ordinary
user. The invitation is consumed like a registration's: atomically, and if that fails after the
user was inserted the user is removed and the answer is 400 `invitation_invalid`.
"""

from __future__ import annotations

import secrets
from typing import Any

from litestar import Request, Response, post

from engine import GuestAccessRequest, SessionUser
from production_server.auth.identity import services_of
from production_server.auth.repo import invitation_invalid, user_exists
from production_server.auth.routes import client_address, session_cookies
from production_server.body import read_body
from production_server.errors import ApiError
from production_server.openapi import answers, request_body

NAME_ATTEMPTS = 5


@post("/auth/guest-access", status_code=201, dependencies=request_body(GuestAccessRequest),
      **answers(400, 413, auth=False))
async def guest_access(request: Request[Any, Any, Any]) -> Response[SessionUser]:
    """A guest account for a usable invitation code; session cookies as on login."""
    services = services_of(request)
    s = services.settings
    body = await read_body(request, GuestAccessRequest, s.max_body_bytes, s.max_json_depth)
    code = body.invitation_code.strip()
    assert services.auth is not None
    if not code or await services.auth.usable_invitation(code) is None:
        raise invitation_invalid()
    user = None
    for _ in range(NAME_ATTEMPTS):
        try:
            user = await services.auth.create_user("user_" + secrets.token_hex(3), None,
                                                   invitation_code=code, is_guest=True)
            break
        except ApiError as exc:
            if exc.error_type != user_exists().error_type:
                raise
    if user is None:
        raise ApiError(503, "overloaded", "Could not allocate a guest name; try again",
                       headers={"Retry-After": "1"})
    if not await services.auth.consume_invitation(code, user["user_id"], client_address(request)):
        await services.auth.delete_user(user["user_id"])
        raise invitation_invalid()
    cookies = await session_cookies(services, request, user)
    return Response(SessionUser(user_id=user["user_id"], username=user["username"], email=None,
                                role=user.get("role"), message="Guest access granted",
                                is_guest=True), status_code=201, cookies=cookies)


GUEST_ROUTES = [guest_access]
