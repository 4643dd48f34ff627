"""What `/schema` says, checked route by route (issue 11 item 5, issue 15 item 7).

Production: every operation declares its success struct (JSON), event schema (SSE) or file,
every POST that reads a body declares it, every error status is an `ErrorBody`, and the three
credentials are security schemes on exactly the routes that refuse a request without them.
Virtual: the same with its `WorkflowResponse`-shaped errors. Both docs pages load every script,
style and icon from the server itself. Plus the request rules the schemas state: bodies
decoded strictly, `5.0` taken as an integer, nothing MongoDB cannot store, `Allow` on 405 and
on `OPTIONS`. The live schemathesis run is tests/e2e/test_schemathesis.py.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from engine.media_catalog import PROVIDER_ACTIONS
from engine.wire_requests import MediaActionType, MediaProviderName
from tests.acceptance.production_client import production
from tests.acceptance.virtual_support import access_token, make_app

#: POST routes that take no body: the run, template or cookie is the whole request
NO_BODY = {"/auth/refresh", "/auth/logout", "/auth/logout-all",
           "/workflow/{workflow_run_id}/cancel", "/workflow/{workflow_run_id}/reset",
           "/workflow-templates/{template_id}/versions/{version_id}/clone"}
#: POST routes whose body may be left out altogether (every other declared body is required)
OPTIONAL_BODY = {"/workflow/{workflow_run_id}/resume"}
#: open routes whose own credential is not an access credential
OWN_CREDENTIAL = {("POST", "/auth/refresh")}  # the refresh_token cookie
SECURITY = {"bearer": ("http", None), "accessTokenCookie": ("apiKey", ("cookie", "access_token")),
            "accessKey": ("apiKey", ("header", "X-Access-Key"))}


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, item in schema["paths"].items()
            for method, op in item.items() if isinstance(op, dict) and "responses" in op]


def _content_schema(response: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    (media, body), = response["content"].items()
    return media, body["schema"]


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", path)


async def test_production_schema_declares_every_route(secantus_uri: str) -> None:
    """[issue 11 item 5] bodies, answers, errors and security of every production route."""
    async with production(secantus_uri) as prod:
        schema = (await prod.get("/schema/openapi.json", user=None)).json()
        operations = _operations(schema)
        assert len(operations) >= 69
        schemes = schema["components"]["securitySchemes"]
        for name, (kind, where) in SECURITY.items():
            assert schemes[name]["type"] == kind
            if where is not None:
                assert (schemes[name]["in"], schemes[name]["name"]) == where
        assert schemes["bearer"]["scheme"] == "bearer"
        for method, path, op in operations:
            where = f"{method} {path}"
            ok = [status for status in op["responses"] if status.startswith("2")]
            assert len(ok) == 1, where
            media, body = _content_schema(op["responses"][ok[0]])
            if media == "application/json":
                assert body.get("$ref", "").startswith("#/components/schemas/"), where
            elif media == "text/event-stream":
                assert body == {"$ref": "#/components/schemas/SSEEvent"}, where
            else:
                assert body["type"] == "string", where  # a file: zip, media or text
            if method == "POST" and path not in NO_BODY:
                _, request = _content_schema(op["requestBody"])
                assert request["$ref"].startswith("#/components/schemas/"), where
                assert op["requestBody"]["required"] is (path not in OPTIONAL_BODY), where
            else:
                assert "requestBody" not in op, where
            for status, response in op["responses"].items():
                if status[0] in "45":
                    expected = "HealthView" if path == "/health" else "ErrorBody"
                    assert _content_schema(response)[1] == {
                        "$ref": f"#/components/schemas/{expected}"}, (where, status)
            # a declared credential is one the route cannot do without, and the reverse
            anonymous = await prod.request(method, _concrete(path), user=None, json={})
            if (method, path) in OWN_CREDENTIAL:
                continue
            assert (anonymous.status_code == 401) == bool(op.get("security")), where
            if op.get("security"):
                assert op["security"] == [{"bearer": []}, {"accessTokenCookie": []},
                                          {"accessKey": []}], where
                assert "401" in op["responses"], where


async def test_virtual_schema_declares_every_route() -> None:
    async with AsyncTestClient(make_app()) as client:
        schema = (await client.get("/schema/openapi.json")).json()
        for method, path, op in _operations(schema):
            where = f"{method} {path}"
            if path == "/health":
                assert "security" not in op
                continue
            assert op["security"] == [{"bearer": []}, {"accessTokenCookie": []}], where
            anonymous = await client.request(method, _concrete(path), json={})
            assert anonymous.status_code == 401, where
            if method == "POST":
                assert _content_schema(op["requestBody"])[1]["$ref"].startswith(
                    "#/components/schemas/"), where
            for status, response in op["responses"].items():
                if status[0] in "45":
                    assert _content_schema(response)[1] == {
                        "$ref": "#/components/schemas/VirtualWorkflowResponse"}, (where, status)
        assert set(schema["components"]["securitySchemes"]) == {"bearer", "accessTokenCookie"}


async def _docs_offline(client: Any) -> None:
    """Every script, style and icon of the docs page comes from the app itself."""
    for page in ("/schema", "/schema/swagger"):
        html = (await client.get(page)).text
        urls = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", html)
        assert len(urls) >= 4, urls  # icon, style, bundle, preset
        assert "SwaggerUIBundle" in html
        for url in urls:
            assert url.startswith("/schema/assets/"), url  # no external host
            asset = await client.get(url)
            assert asset.status_code == 200 and len(asset.content) > 500, url
            kind = asset.headers["content-type"]
            assert kind.startswith(("text/javascript", "text/css", "image/png")), (url, kind)
    assert (await client.get("/schema/assets/swagger-ui.js.map")).status_code == 404


async def test_docs_pages_load_their_assets_from_the_server(secantus_uri: str) -> None:
    """[issue 11 item 5] no CDN: the page works offline."""
    async with production(secantus_uri) as prod:
        await _docs_offline(prod.client)
    async with AsyncTestClient(make_app()) as client:
        await _docs_offline(client)


def test_media_enums_match_the_catalog() -> None:
    assert set(MediaProviderName.__args__) == set(PROVIDER_ACTIONS)  # type: ignore[attr-defined]
    assert set(MediaActionType.__args__) == {a for actions in PROVIDER_ACTIONS.values()
                                         for a in actions}  # type: ignore[attr-defined]


@pytest.mark.parametrize("ai_config, reason", [
    ({"bad\u0000key": 1}, "NUL"), ({"deep": [{"k\u0000": True}]}, "NUL"),
    ({"big": 2 ** 64}, "64 bits"), ({"small": [-(2 ** 63) - 1]}, "64 bits")])
async def test_bodies_mongodb_cannot_store_are_refused_before_any_write(
        secantus_uri: str, cuddle_workflow: dict[str, Any], ai_config: dict[str, Any],
        reason: str) -> None:
    """A NUL in a key or an integer beyond 64 bits failed the write half-way (a 500 and a run
    left behind): now a typed 400, nothing written. Unknown fields are ignored as before."""
    async with production(secantus_uri) as prod:
        refused = await prod.post("/workflow/start", {
            "project_name": "p", "workflow_content": cuddle_workflow, "mock": True,
            "ai_config": ai_config})
        assert refused.status_code == 400, refused.text
        assert refused.json()["error_type"] == "bad_request" and reason in refused.json()["error"]
        assert (await prod.ok("GET", "/workflows/active?include_mock=true"))["count"] == 0
        extra = await prod.post("/workflow/start", {
            "project_name": "p", "workflow_content": cuddle_workflow, "mock": True,
            "unknown": ai_config})
        assert extra.status_code == 200, extra.text


async def test_strict_bodies_and_integral_numbers(secantus_uri: str) -> None:
    """Bodies decode as their schema says: no `0` for a boolean, but `30.0` is an integer."""
    async with production(secantus_uri) as prod:
        key = await prod.post("/auth/access-keys", {"name": "k", "expires_in_days": 30.0})
        assert key.status_code == 201, key.text
        bad = await prod.post("/auth/access-keys", {"name": "k", "expires_in_days": "30"})
        assert bad.status_code == 400
    async with AsyncTestClient(make_app()) as client:
        auth = {"Authorization": "Bearer " + access_token()}
        lenient = await client.post("/workflow/media/preview", headers=auth, json={
            "provider": "leonardo", "action_type": "txt2img", "mock": 0})
        assert lenient.status_code == 400, lenient.text
        counted = await client.post("/workflow/mock-data", headers=auth, json={
            "schema": {"type": "string"}, "count": 2.0})
        assert counted.status_code == 200 and len(counted.json()["data"]) == 2


async def test_allow_on_405_and_options(secantus_uri: str) -> None:
    """RFC 9110: a 405 lists the path's methods, and so does `OPTIONS` (two handlers on one
    path: Litestar's own OPTIONS answer listed only the first)."""
    async with production(secantus_uri) as prod:
        options = await prod.request("OPTIONS", "/auth/access-keys", user=None)
        assert options.status_code == 204
        assert set(options.headers["allow"].split(", ")) == {"GET", "POST", "OPTIONS"}
        wrong = await prod.request("PUT", "/auth/access-keys", user=None)
        assert wrong.status_code == 405
        assert set(wrong.headers["allow"].split(", ")) == {"GET", "POST", "OPTIONS"}
    async with AsyncTestClient(make_app()) as client:
        wrong = await client.request("TRACE", "/health")
        assert wrong.status_code == 405 and set(wrong.headers["allow"].split(", ")) == {
            "GET", "OPTIONS"}


async def test_resume_takes_no_body_as_its_schema_says(
        secantus_uri: str, cuddle_workflow: dict[str, Any]) -> None:
    """`POST /workflow/{id}/resume` with no body at all reports where the run stands (the web
    UI's resume); its schema marks the body optional (it said required, schemathesis found)."""
    async with production(secantus_uri) as prod:
        started = await prod.ok("POST", "/workflow/start", {
            "project_name": "p", "workflow_content": cuddle_workflow, "mock": True})
        run_id = started["workflow_run_id"]
        bare = await prod.post(f"/workflow/{run_id}/resume")
        assert bare.status_code == 200, bare.text
        assert bare.json()["workflow_run_id"] == run_id
        assert bare.request.content == b""
        null = await prod.request("POST", f"/workflow/{run_id}/resume", content=b"null",
                                  headers={"Content-Type": "application/json"})
        assert null.status_code == 400, null.text
