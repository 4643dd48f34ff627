"""VS-1 / AUTH-2 on the virtual server: HS256 access tokens only, Bearer header or cookie."""

from __future__ import annotations

import base64
import json
import time
from typing import Any, AsyncIterator

import jwt
import pytest
from litestar.testing import AsyncTestClient

from tests.acceptance.virtual_support import SECRET, access_token, make_app, make_settings

BODY = {"virtual_db": "x"}


def _b64(obj: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def alg_none_token() -> str:
    now = int(time.time())
    claims = {"sub": "alice", "type": "access", "iat": now, "exp": now + 60}
    return _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(claims) + "."


def claims_token(drop: str) -> str:
    now = int(time.time())
    claims = {"sub": "alice", "type": "access", "iat": now, "exp": now + 60}
    claims.pop(drop)
    return jwt.encode(claims, SECRET, algorithm="HS256")


BAD_TOKENS = {
    "alg_none": alg_none_token(),
    "wrong_alg_hs512": access_token(algorithm="HS512"),
    "wrong_signature": access_token(secret="x" * 32),
    "expired": access_token(expires_in=-60),
    "missing_exp": claims_token("exp"),
    "missing_iat": claims_token("iat"),
    "missing_sub": claims_token("sub"),
    "refresh_type": access_token(token_type="refresh", jti="r1"),
    "garbage": "not.a.token",
}


@pytest.fixture
async def client() -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(make_app()) as c:
        yield c


async def _state(client: AsyncTestClient[Any], **kwargs: Any) -> Any:
    return await client.post("/workflow/state", json=BODY, **kwargs)


@pytest.mark.parametrize("name", sorted(BAD_TOKENS))
async def test_vs1_bad_tokens_are_401(client: AsyncTestClient[Any], name: str) -> None:
    """[VS-1][AUTH-2] alg none, another alg, bad signature, expired, missing claims, refresh → 401
    (the Rev 3 body behind `X-Virtual-Db-In: result`, the editor's body without it)."""
    bearer = {"Authorization": "Bearer " + BAD_TOKENS[name]}
    response = await _state(client, headers={**bearer, "X-Virtual-Db-In": "result"})
    assert response.status_code == 401
    body = response.json()
    assert body["status"] == "error" and body["result"]["error_type"] == "unauthorized"
    assert body["error"] == "Unauthorized" and body["result"]["virtual_db"] is None
    editor = (await _state(client, headers=bearer)).json()
    assert editor["result"] == {"error_type": "unauthorized", "details": {}}
    assert editor["virtual_db"] is None and editor["virtual_run_id"] == "" and editor["state"] is None


async def test_vs1_missing_credentials_and_access_keys(client: AsyncTestClient[Any]) -> None:
    """[VS-1] No token → 401; access keys are not accepted; a non-Bearer scheme → 401."""
    assert (await _state(client)).status_code == 401
    assert (await _state(client, headers={"X-Access-Key": "wfk_x"})).status_code == 401
    basic = {"Authorization": "Basic " + base64.b64encode(b"a:b").decode()}
    assert (await _state(client, headers=basic)).status_code == 401


async def test_vs1_valid_bearer_and_cookie_pass_auth(client: AsyncTestClient[Any]) -> None:
    """[VS-1] A valid token passes (the bad blob then answers 400), by header or by cookie."""
    response = await _state(client, headers={"Authorization": "Bearer " + access_token()})
    assert response.status_code == 400
    assert response.json()["result"]["error_type"] == "invalid_virtual_db"
    client.cookies.set("access_token", access_token())
    assert (await _state(client)).status_code == 400


async def test_vs1_bearer_decides_before_cookie(client: AsyncTestClient[Any]) -> None:
    """[AUTH-1][VS-1] An invalid Bearer header is 401 even with a valid cookie."""
    client.cookies.set("access_token", access_token())
    response = await _state(client, headers={"Authorization": "Bearer " + BAD_TOKENS["expired"]})
    assert response.status_code == 401


async def test_vs1_leeway_ten_seconds(client: AsyncTestClient[Any]) -> None:
    """[AUTH-2] A token expired 5 s ago is still inside the 10 s leeway."""
    response = await _state(client, headers={"Authorization": "Bearer " + access_token(expires_in=-5)})
    assert response.status_code == 400


async def test_vs1_health_and_schema_are_open(client: AsyncTestClient[Any]) -> None:
    """[VS-1][GEN-11] /health needs no token; the OpenAPI document is served at /schema."""
    health = await client.get("/health")
    assert health.status_code == 200
    assert health.json() == {"status": "healthy", "service": "virtual-server"}
    schema = await client.get("/schema/openapi.json")
    assert schema.status_code == 200 and "/workflow/start" in schema.json()["paths"]


async def test_vs1_auth_can_be_disabled() -> None:
    """[VS-1] WFE_VIRTUAL_AUTH_REQUIRED=false: no token needed."""
    async with AsyncTestClient(make_app(make_settings(auth_required=False))) as c:
        assert (await c.post("/workflow/state", json=BODY)).status_code == 400
