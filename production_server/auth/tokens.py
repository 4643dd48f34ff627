"""HS256 JWTs with strict checks (AUTH-2): only HS256, required claims, typed tokens, 10 s leeway.

pyjwt checks the signature, the pinned algorithm and the dates; the claim rules pyjwt is lenient
about (numeric dates given as strings, the subject's type, the token version) are the shared ones
of engine/token_claims.py, which the virtual server applies too. Access tokens carry the user's
`token_version` as `ver` (revocation, db/users.py).

Token lifetimes run on wall-clock time (pyjwt checks `exp` against the real clock); the injected
engine clock is for deterministic run data only.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any, Literal

import jwt

from engine import VERSION_CLAIM, claims_problem

ALGORITHM = "HS256"
LEEWAY_S = 10
TokenType = Literal["access", "refresh"]


def token_hash(token: str) -> str:
    """Refresh tokens and access keys are stored only as SHA-256 hex (AUTH-4, storage.md)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class InvalidToken(Exception):
    """Any reason a token is not acceptable; callers answer 401 without details."""


class TokenService:
    def __init__(self, secret: str, access_ttl_s: int, refresh_ttl_s: int) -> None:
        if len(secret.encode()) < 32:
            raise ValueError("JWT secret must be at least 32 bytes")
        self._secret = secret
        self.access_ttl_s = access_ttl_s
        self.refresh_ttl_s = refresh_ttl_s

    def _encode(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def issue_access(self, user_id: str, version: int = 0) -> str:
        """An access token valid while the user's `token_version` stays `version`."""
        now = int(time.time())
        return self._encode({"sub": user_id, "type": "access", "iat": now,
                             "exp": now + self.access_ttl_s, VERSION_CLAIM: version})

    def issue_refresh(self, user_id: str) -> tuple[str, str, int]:
        """A refresh token, its `jti` (a `secrets` value, never the id generator) and `exp`."""
        now = int(time.time())
        jti = secrets.token_hex(16)
        exp = now + self.refresh_ttl_s
        token = self._encode({"sub": user_id, "type": "refresh", "jti": jti, "iat": now,
                              "exp": exp})
        return token, jti, exp

    def decode(self, token: str, expected: TokenType) -> dict[str, Any]:
        required = ["exp", "iat", "sub"] + (["jti"] if expected == "refresh" else [])
        try:
            claims = jwt.decode(token, self._secret, algorithms=[ALGORITHM], leeway=LEEWAY_S,
                                options={"require": required})
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - hostile token text must never be a 500
            raise InvalidToken(type(exc).__name__) from None
        problem = claims_problem(claims, expected)
        if problem is not None:
            raise InvalidToken(problem)
        return claims
