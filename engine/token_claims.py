"""The claim rules of AUTH-2, written once for both servers.

Each server verifies the signature with pyjwt itself (GEN-4: the engine never imports `jwt`, the
servers never import each other) and then asks `claims_problem` about the decoded claims. pyjwt
alone is not strict enough: it converts `exp`, `iat` and `nbf` with `int()`, so a numeric
*string* such as `"9999999999"` passes, and it accepts any JSON value as `sub`.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

#: RFC 7519 NumericDate claims: when present they must be JSON numbers
NUMERIC_DATE_CLAIMS = ("exp", "iat", "nbf")
#: the per-user token version an access token was issued under (db/users.py)
VERSION_CLAIM = "ver"
REQUIRED = ("sub", "type", "iat", "exp")
#: integers beyond this are not exact in JSON (IEEE doubles) and no real date is near it
MAX_SAFE_INT = 2 ** 53


def _is_number(value: Any) -> bool:
    """A JSON number: int or float, finite and of a sane size, not a bool (True is an int)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -MAX_SAFE_INT <= value <= MAX_SAFE_INT
    return isinstance(value, float) and math.isfinite(value)


def claims_problem(claims: Mapping[str, Any], expected_type: str) -> str | None:
    """Why these (signature-checked) claims are unacceptable, or None when they are fine."""
    required = REQUIRED + (("jti",) if expected_type == "refresh" else ())
    missing = [name for name in required if name not in claims]
    if missing:
        return f"missing claims: {', '.join(missing)}"
    for name in NUMERIC_DATE_CLAIMS:
        if name in claims and not _is_number(claims[name]):
            return f"claim {name} must be a number"
    subject = claims["sub"]
    if not isinstance(subject, str) or not subject:
        return "claim sub must be a non-empty string"
    if claims["type"] != expected_type:
        return "wrong token type"
    if expected_type == "refresh" and (not isinstance(claims["jti"], str) or not claims["jti"]):
        return "claim jti must be a non-empty string"
    if VERSION_CLAIM in claims:
        version = claims[VERSION_CLAIM]
        if isinstance(version, bool) or not isinstance(version, int) or version < 0:
            return f"claim {VERSION_CLAIM} must be a non-negative integer"
    return None


def token_version(claims: Mapping[str, Any]) -> int:
    """The version a token was issued under; tokens from before versions existed count as 0."""
    value = claims.get(VERSION_CLAIM, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else -1
