"""WIRE-3 / WIRE-4 / VS-3 on the virtual server: size, depth and decoding errors."""

from __future__ import annotations

from typing import Any, AsyncIterator

import pytest
from litestar.testing import AsyncTestClient

from engine import json_depth
from tests.acceptance.virtual_support import access_token, make_app, make_settings

HEADERS = {"Authorization": "Bearer " + access_token()}


@pytest.fixture
async def client() -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(make_app(make_settings(max_body_bytes=4096))) as c:
        yield c


def test_json_depth_is_iterative_and_ignores_strings() -> None:
    """[WIRE-3] Depth counts brackets outside strings, without recursion, on huge input."""
    assert json_depth(b'{"a": [1, {"b": "[[[{{{"}]}') == 3
    assert json_depth(b'"\\"[[["') == 0
    assert json_depth(b"[" * 200_000 + b"]" * 200_000) == 200_000


async def test_wire3_too_deep_is_400(client: AsyncTestClient[Any]) -> None:
    """[WIRE-3] A body deeper than WFE_MAX_JSON_DEPTH → 400 bad_request before decoding."""
    body = b'{"virtual_db": "x", "workflow_run_id": null, "extra": ' + b"[" * 70 + b"]" * 70 + b"}"
    response = await client.post("/workflow/state", content=body,
                                 headers={**HEADERS, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["result"]["error_type"] == "bad_request"
    assert response.json()["result"]["details"]["max_depth"] == 64


async def test_wire3_malformed_and_mistyped_bodies(client: AsyncTestClient[Any]) -> None:
    """[WIRE-3] Malformed JSON and type mismatches → 400 bad_request with details.errors."""
    for raw in (b"{not json", b'{"virtual_db": 5}', b"[]", b""):
        response = await client.post("/workflow/state", content=raw,
                                     headers={**HEADERS, "Content-Type": "application/json"})
        assert response.status_code == 400, raw
        body = response.json()
        assert body["status"] == "error" and body["result"]["error_type"] == "bad_request"
        assert body["result"]["details"]["errors"], raw
        assert body["workflow_run_id"] == ""


async def test_wire4_body_over_the_limit_is_413(client: AsyncTestClient[Any]) -> None:
    """[WIRE-4] WFE_VIRTUAL_MAX_BODY_BYTES on the body → 413 payload_too_large."""
    response = await client.post("/workflow/state", json={"virtual_db": "A" * 5000},
                                 headers=HEADERS)
    assert response.status_code == 413
    assert response.json()["result"]["error_type"] == "payload_too_large"


async def test_vs3_auth_comes_before_limits(client: AsyncTestClient[Any]) -> None:
    """[VS-3] Authentication is checked first: an oversized anonymous body is 401, not 413."""
    response = await client.post("/workflow/state", json={"virtual_db": "A" * 5000})
    assert response.status_code == 401


async def test_unknown_route_and_method(client: AsyncTestClient[Any]) -> None:
    """[WIRE-7] Unknown paths and methods answer WorkflowResponse-shaped errors, not 500."""
    missing = await client.post("/workflow/nope", json={}, headers=HEADERS)
    assert missing.status_code == 404 and missing.json()["result"]["error_type"] == "not_found"
    wrong = await client.get("/workflow/start", headers=HEADERS)
    assert wrong.status_code == 405 and wrong.json()["status"] == "error"


async def test_wire6_cors_from_settings() -> None:
    """[WIRE-6] Allowed origins with credentials and the three allowed request headers."""
    app = make_app(make_settings(cors_origins=("http://editor.local",)))
    async with AsyncTestClient(app) as c:
        response = await c.options("/workflow/start", headers={
            "Origin": "http://editor.local", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Content-Type"})
        assert response.status_code in (200, 204)
        assert response.headers["access-control-allow-origin"] == "http://editor.local"
        assert response.headers["access-control-allow-credentials"] == "true"
        allowed = response.headers["access-control-allow-headers"].lower()
        assert "authorization" in allowed and "content-type" in allowed
        other = await c.get("/health", headers={"Origin": "http://evil.local"})
        assert "access-control-allow-origin" not in other.headers
