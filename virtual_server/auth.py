"""VS-1: JWT access tokens on every route except `/health` (the JWT rules of AUTH-2).

No database lookup: the virtual server is stateless, so a valid signature, the required claims
and `type == "access"` are the whole check. The Bearer header wins over the `access_token`
cookie, and a present but invalid credential is 401 even when the other one would be valid.
Access keys are not accepted. Implemented here, not shared with the production server (GEN-4).
"""

from __future__ import annotations

from typing import Any

import jwt
from litestar import Request

from virtual_server.errors import unauthorized

ALGORITHMS = ["HS256"]
LEEWAY_S = 10
REQUIRED_CLAIMS = ["exp", "iat", "sub"]


def verify_access_token(token: str, secret: str) -> str:
    """The token's subject, or raise the generic 401."""
    try:
        claims = jwt.decode(token, secret, algorithms=ALGORITHMS, leeway=LEEWAY_S,
                            options={"require": REQUIRED_CLAIMS})
    except jwt.PyJWTError:
        raise unauthorized() from None
    except Exception:  # noqa: BLE001 - malformed input of any kind is just "unauthorized"
        raise unauthorized() from None
    subject = claims.get("sub")
    if claims.get("type") != "access" or not isinstance(subject, str) or not subject:
        raise unauthorized()
    return subject


def credential(request: Request[Any, Any, Any]) -> str | None:
    """The first present credential: `Authorization: Bearer …`, then the `access_token` cookie."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized()
        return token.strip()
    return request.cookies.get("access_token") or None


def authenticate(request: Request[Any, Any, Any], secret: str | None, required: bool) -> str | None:
    """Raise 401 unless the request carries a valid access token (when auth is required)."""
    if not required:
        return None
    token = credential(request)
    if token is None or secret is None:
        raise unauthorized()
    return verify_access_token(token, secret)
