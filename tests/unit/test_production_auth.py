"""AUTH-2 (strict JWTs), AUTH-6 (scrypt format), AUTH-7 (login limiter), WIRE-3 (depth scan)."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from engine import json_depth as json_depth_of
from production_server.auth.passwords import hash_password, verify_password
from production_server.auth.ratelimit import LoginLimiter
from production_server.auth.tokens import InvalidToken, TokenService

SECRET = "k" * 40
tokens = TokenService(SECRET, 3600, 7200)


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_access_and_refresh_tokens_round_trip() -> None:
    claims = tokens.decode(tokens.issue_access("usr_1"), "access")
    assert claims["sub"] == "usr_1" and claims["type"] == "access"
    assert claims["exp"] - claims["iat"] == 3600
    refresh, jti, exp = tokens.issue_refresh("usr_1")
    claims = tokens.decode(refresh, "refresh")
    assert claims["jti"] == jti and claims["exp"] == exp


@pytest.mark.parametrize("case", ["alg_none", "hs512", "wrong_secret", "expired", "no_exp",
                                  "no_iat", "no_sub", "wrong_type", "refresh_as_access",
                                  "garbage"])
def test_strict_token_checks(case: str) -> None:
    """[AUTH-2] every malformed, foreign or mistyped token is rejected."""
    now = int(time.time())
    good = {"sub": "usr_1", "type": "access", "iat": now, "exp": now + 60}
    token = {
        "alg_none": _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(good) + ".",
        "hs512": jwt.encode(good, SECRET, algorithm="HS512"),
        "wrong_secret": jwt.encode(good, "x" * 40, algorithm="HS256"),
        "expired": jwt.encode({**good, "iat": now - 100, "exp": now - 20}, SECRET, algorithm="HS256"),
        "no_exp": jwt.encode({k: v for k, v in good.items() if k != "exp"}, SECRET, algorithm="HS256"),
        "no_iat": jwt.encode({k: v for k, v in good.items() if k != "iat"}, SECRET, algorithm="HS256"),
        "no_sub": jwt.encode({k: v for k, v in good.items() if k != "sub"}, SECRET, algorithm="HS256"),
        "wrong_type": jwt.encode({**good, "type": "admin"}, SECRET, algorithm="HS256"),
        "refresh_as_access": tokens.issue_refresh("usr_1")[0],
        "garbage": "a.b.c",
    }[case]
    with pytest.raises(InvalidToken):
        tokens.decode(token, "access")


def test_leeway_is_ten_seconds() -> None:
    now = int(time.time())
    recent = jwt.encode({"sub": "u", "type": "access", "iat": now - 30, "exp": now - 5}, SECRET,
                        algorithm="HS256")
    assert tokens.decode(recent, "access")["sub"] == "u"


def test_short_secret_refused() -> None:
    with pytest.raises(ValueError):
        TokenService("short", 1, 1)


def test_scrypt_format_and_verification() -> None:
    """[AUTH-6]."""
    stored = hash_password("correct horse")
    scheme, n, r, p, salt, digest = stored.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
    assert len(base64.b64decode(salt)) == 16
    assert verify_password("correct horse", stored)
    assert not verify_password("correct horsf", stored)
    assert not verify_password("short", stored)
    assert not verify_password("correct horse", None)
    assert not verify_password("correct horse", "scrypt$1$2$3$bad$bad")
    assert hash_password("correct horse") != stored


def test_login_limiter_blocks_after_max_failures_until_window_passes() -> None:
    """[AUTH-7] per identifier and per address; failures age out of the window."""
    clock = [0.0]
    limiter = LoginLimiter(3, 60, now=lambda: clock[0])
    for _ in range(3):
        assert not limiter.blocked("id:a", "ip:1")
        limiter.fail("id:a", "ip:1")
    assert limiter.blocked("id:a", "ip:2")  # same identifier, other address
    assert limiter.blocked("id:b", "ip:1")  # same address, other identifier
    assert not limiter.blocked("id:b", "ip:2")
    clock[0] = 61.0
    assert not limiter.blocked("id:a", "ip:1")


@pytest.mark.parametrize(("text", "depth"), [
    (b"{}", 1), (b"[[[]]]", 3), (b'{"a": "[[[[["}', 1), (b'{"a": "\\"[[["}', 1),
    (b'[{"a": [1, {"b": []}]}]', 5), (b"1", 0), (b"[" * 1000 + b"]" * 1000, 1000),
])
def test_json_depth_scan(text: bytes, depth: int) -> None:
    """[WIRE-3] depth is measured before decoding; brackets inside strings do not count."""
    assert json_depth_of(text) == depth
