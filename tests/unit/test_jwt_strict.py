"""[AUTH-2][VS-1] One table of hostile and valid access tokens, run against BOTH servers' verifiers.

The servers keep thin verifiers of their own (GEN-4) over the shared claim rules of
engine/token_claims.py; this table is what keeps them in step.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any, Callable

import jwt
import pytest

from engine.token_claims import claims_problem, token_version
from production_server.auth.tokens import InvalidToken, TokenService
from virtual_server.auth import verify_access_token
from virtual_server.errors import ApiError

SECRET = "s" * 40


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_token(header: dict[str, Any], claims: Any, secret: str = SECRET) -> str:
    """A token signed with HMAC-SHA256 whatever the header says (claims may be any JSON)."""
    signing = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
    digest = hmac.new(secret.encode(), signing.encode(), hashlib.sha256).digest()
    return signing + "." + _b64(digest)


def good(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": "usr_1", "type": "access", "iat": now, "exp": now + 600}
    for key, value in changes.items():
        if value is DROP:
            claims.pop(key, None)
        else:
            claims[key] = value
    return claims


DROP = object()
HS256 = {"alg": "HS256", "typ": "JWT"}


def signed(**changes: Any) -> str:
    return raw_token(HS256, good(**changes))


def rejected(now: int) -> dict[str, str]:
    """Built when a test runs: the dates are relative to that moment."""
    return {
        "alg_none": _b64(json.dumps({"alg": "none"}).encode()) + "." +
        _b64(json.dumps(good()).encode()) + ".",
        "alg_hs512": jwt.encode(good(), SECRET, algorithm="HS512"),
        "alg_hs384": jwt.encode(good(), SECRET, algorithm="HS384"),
        "alg_rs256_header_hmac_signature": raw_token({"alg": "RS256", "typ": "JWT"}, good()),
        "wrong_secret": raw_token(HS256, good(), secret="x" * 40),
        "expired": signed(iat=now - 100, exp=now - 30),
        "exp_numeric_string": signed(exp=str(now + 600)),
        "exp_float_string": signed(exp=f"{now + 600}.5"),
        "exp_bool": signed(exp=True),
        "exp_null": signed(exp=None),
        "exp_list": signed(exp=[now + 600]),
        "exp_object": signed(exp={"$numberLong": str(now + 600)}),
        "iat_numeric_string": signed(iat=str(now)),
        "iat_in_future": signed(iat=now + 300),
        "nbf_numeric_string": signed(nbf=str(now)),
        "nbf_in_future": signed(nbf=now + 300),
        "missing_exp": signed(exp=DROP),
        "missing_iat": signed(iat=DROP),
        "missing_sub": signed(sub=DROP),
        "missing_type": signed(type=DROP),
        "sub_integer": signed(sub=42),
        "sub_empty": signed(sub=""),
        "sub_object": signed(sub={"user_id": "usr_1"}),
        "type_refresh": signed(type="refresh", jti="j1"),
        "type_admin": signed(type="admin"),
        "ver_string": signed(ver="0"),
        "ver_negative": signed(ver=-1),
        "ver_bool": signed(ver=False),
        "ver_float": signed(ver=0.0),
        "payload_is_a_list": raw_token(HS256, [1, 2, 3]),
        "two_parts": signed().rsplit(".", 1)[0],
        "garbage": "not.a.token",
        "empty": "",
        "huge_exp": raw_token(HS256, {**good(), "exp": 10 ** 400}),
    }


def accepted(now: int) -> dict[str, str]:
    return {
        "plain": signed(),
        "with_version": signed(ver=3),
        "float_dates": signed(iat=now + 0.25, exp=now + 600.5),
        "nbf_now": signed(nbf=now),
        "inside_leeway": signed(iat=now - 100, exp=now - 5),
    }


REJECTED_CASES = sorted(rejected(0))
ACCEPTED_CASES = sorted(accepted(0))


def _production(token: str) -> str:
    try:
        return str(TokenService(SECRET, 60, 60).decode(token, "access")["sub"])
    except InvalidToken:
        return "REJECTED"


def _virtual(token: str) -> str:
    try:
        return str(verify_access_token(token, SECRET)["sub"])
    except ApiError as exc:
        assert exc.status == 401 and exc.error_type == "unauthorized"
        return "REJECTED"


VERIFIERS: dict[str, Callable[[str], str]] = {"production": _production, "virtual": _virtual}


@pytest.mark.parametrize("server", sorted(VERIFIERS))
@pytest.mark.parametrize("case", REJECTED_CASES)
def test_hostile_token_is_refused(server: str, case: str) -> None:
    assert VERIFIERS[server](rejected(int(time.time()))[case]) == "REJECTED"


@pytest.mark.parametrize("server", sorted(VERIFIERS))
@pytest.mark.parametrize("case", ACCEPTED_CASES)
def test_valid_token_is_accepted(server: str, case: str) -> None:
    assert VERIFIERS[server](accepted(int(time.time()))[case]) == "usr_1"


def test_pyjwt_alone_accepts_a_numeric_string_exp() -> None:
    """Why the shared rules exist: pyjwt converts `exp` with int(), so this passes it."""
    now = int(time.time())
    claims = jwt.decode(rejected(now)["exp_numeric_string"], SECRET, algorithms=["HS256"])
    assert claims["exp"] == str(now + 600)
    assert claims_problem(claims, "access") == "claim exp must be a number"


def test_token_version_claim() -> None:
    assert token_version({"ver": 4}) == 4
    assert token_version({}) == 0  # issued before versions existed
    assert token_version({"ver": True}) == -1  # never equal to a stored version
    assert claims_problem({**good(), "jti": "j"}, "refresh") == "wrong token type"
    assert claims_problem(good(type="refresh"), "refresh") == "missing claims: jti"
    assert claims_problem(good(type="refresh", jti=""), "refresh") is not None
    assert claims_problem(good(type="refresh", jti="j"), "refresh") is None
