"""Who is calling (AUTH-1): Bearer token, then `access_token` cookie, then `X-Access-Key`.

The first credential present decides; if it is invalid the answer is 401 even when a later one
would be valid. The user must exist and be active, and an access token must carry the user's
current `token_version` (logout-all and deactivation revoke older tokens; db/users.py, read
through the per-process cache). Every failure has the same body.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.di import NamedDependency

from db.users import token_allowed
from engine import token_version
from production_server.auth.tokens import InvalidToken
from production_server.errors import unauthorized
from production_server.services import Services


@dataclass(frozen=True)
class User:
    user_id: str
    username: str
    email: str | None
    role: str

    def public(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "email": self.email, "username": self.username,
                "role": self.role}


def services_of(request: Request[Any, Any, Any]) -> Services:
    return request.app.state.services


async def _caller(services: Services, request: Request[Any, Any, Any]) -> tuple[str, int | None]:
    """(user id, token version) of the first credential; the version is None for access keys
    (revoked one by one, not by logout-all)."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized()
        return _access_subject(services, token.strip())
    cookie = request.cookies.get("access_token")
    if cookie is not None:
        return _access_subject(services, cookie)
    key = request.headers.get("x-access-key")
    if key is not None:
        assert services.auth is not None
        owner = await services.auth.user_for_access_key(key.strip())
        if owner is None:
            raise unauthorized()
        return owner, None
    raise unauthorized()


def _access_subject(services: Services, token: str) -> tuple[str, int]:
    try:
        claims = services.tokens.decode(token, "access")
    except InvalidToken:
        raise unauthorized() from None
    return str(claims["sub"]), token_version(claims)


async def current_user(request: Request[Any, Any, Any]) -> User:
    """Litestar dependency for every authenticated route."""
    services = services_of(request)
    user_id, version = await _caller(services, request)
    assert services.users is not None
    doc = await services.users.get(user_id)
    if doc is None or not doc.get("is_active") or \
            (version is not None and not token_allowed(doc, version)):
        raise unauthorized()
    return User(user_id=str(doc["user_id"]), username=str(doc["username"]),
                email=doc.get("email"), role=str(doc.get("role") or "user"))


CurrentUser = NamedDependency[User]
