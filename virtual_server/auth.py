"""VS-1: JWT access tokens on every route except `/health` (the JWT rules of AUTH-2).

pyjwt verifies the signature, the pinned algorithm (HS256) and the dates; the claim rules are
the shared ones of engine/token_claims.py (numeric dates must be numbers, `sub` a string,
`type == "access"`). When `WFE_MONGODB_URI` is set the token's user is then checked against the
production user database (db/users.py: exists, active, same `token_version` as the token's `ver`
claim, cached for `WFE_AUTH_CACHE_S`), so a deactivated or deleted user, or one who logged out
everywhere, is refused here as on the production server. Without a URI (a pure development
preview) the token alone decides. The Bearer header wins over the `access_token` cookie, and a
present but invalid credential is 401 even when the other one would be valid. Access keys are
not accepted. Implemented here, not shared with the production server (GEN-4).
"""

from __future__ import annotations

from typing import Any

import jwt
from litestar import Request

from db.users import UserDirectory, token_allowed
from engine import claims_problem, token_version
from virtual_server.errors import unauthorized

ALGORITHMS = ["HS256"]
LEEWAY_S = 10
REQUIRED_CLAIMS = ["exp", "iat", "sub"]


def verify_access_token(token: str, secret: str) -> dict[str, Any]:
    """The token's claims, or raise the generic 401."""
    try:
        claims = jwt.decode(token, secret, algorithms=ALGORITHMS, leeway=LEEWAY_S,
                            options={"require": REQUIRED_CLAIMS})
    except jwt.PyJWTError:
        raise unauthorized() from None
    except Exception:  # noqa: BLE001 - malformed input of any kind is just "unauthorized"
        raise unauthorized() from None
    if not isinstance(claims, dict) or claims_problem(claims, "access") is not None:
        raise unauthorized()
    return claims


def credential(request: Request[Any, Any, Any]) -> str | None:
    """The first present credential: `Authorization: Bearer …`, then the `access_token` cookie."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized()
        return token.strip()
    return request.cookies.get("access_token") or None


async def authenticate(request: Request[Any, Any, Any], secret: str | None, required: bool,
                       users: UserDirectory | None = None) -> str | None:
    """Raise 401 unless the request carries a valid access token (when auth is required); with
    a user directory the token's user must also still be allowed to use it."""
    if not required:
        return None
    token = credential(request)
    if token is None or secret is None:
        raise unauthorized()
    claims = verify_access_token(token, secret)
    subject = str(claims["sub"])
    if users is not None and not token_allowed(await users.get(subject), token_version(claims)):
        raise unauthorized()
    return subject
