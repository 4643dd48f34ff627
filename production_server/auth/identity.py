"""Who is calling (AUTH-1): Bearer token, then `access_token` cookie, then `X-Access-Key`.

The first credential present decides; if it is invalid the answer is 401 even when a later one
would be valid. The user must exist and be active. Every failure has the same body.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.di import NamedDependency

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
    return request.app.state.services  # type: ignore[no-any-return]


async def _user_id_from_request(services: Services, request: Request[Any, Any, Any]) -> str:
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
        return owner
    raise unauthorized()


def _access_subject(services: Services, token: str) -> str:
    try:
        return str(services.tokens.decode(token, "access")["sub"])
    except InvalidToken:
        raise unauthorized() from None


async def current_user(request: Request[Any, Any, Any]) -> User:
    """Litestar dependency for every authenticated route."""
    services = services_of(request)
    user_id = await _user_id_from_request(services, request)
    assert services.auth is not None
    doc = await services.auth.get_user(user_id)
    if doc is None or not doc.get("is_active"):
        raise unauthorized()
    return User(user_id=str(doc["user_id"]), username=str(doc["username"]),
                email=doc.get("email"), role=str(doc.get("role") or "user"))


CurrentUser = NamedDependency[User]
