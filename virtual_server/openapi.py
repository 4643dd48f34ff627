"""What `/schema` says about this server (issue 11 item 5, issue 15 item 7).

Every route but `/health` and the docs needs an access token (VS-1: Bearer header or the
`access_token` cookie; no access keys here), and every error answers a `WorkflowResponse`
with `status: "error"` (WIRE-7, errors.py), so `answers` declares each error status a route
gives with that struct. Bodies are typed `data` parameters: the `before_request` guard has
checked credentials, size and depth before Litestar decodes them (limits.py).
"""

from __future__ import annotations

import copy
from typing import Any

from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.spec import Components, SecurityScheme

from engine import SSEEvent, VirtualWorkflowResponse
from virtual_server.openapi_docs import docs_plugins

SECURITY_SCHEMES: dict[str, Any] = {
    "bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT",
                             description="A production access token (same secret and users)."),
    "accessTokenCookie": SecurityScheme(
        type="apiKey", name="access_token", security_scheme_in="cookie",
        description="The production server's `access_token` cookie."),
}
SECURED: list[dict[str, list[str]]] = [{name: []} for name in SECURITY_SCHEMES]

REASONS = {
    400: "Invalid request or blob (`bad_request`, `invalid_virtual_db`, `invalid_target`, ...)",
    401: "Missing, invalid or revoked access token (`unauthorized`)",
    404: "Not found (`not_found`, `interaction_not_found`)",
    405: "Method not allowed; `Allow` lists the path's methods",
    409: "Conflicts with the run in the blob (`interaction_not_pending`, ...) or with the "
         "server's configuration (`provider_unavailable`: no key for a live provider)",
    413: "Body or blob too large (`payload_too_large`, `virtual_db_too_large`)",
    503: "Engine busy (`overloaded`); "
         "retry after `Retry-After` seconds",
}


def errors(*statuses: int) -> dict[int, ResponseSpec]:
    return {status: ResponseSpec(data_container=VirtualWorkflowResponse,
                                 description=REASONS[status], generate_examples=False)
            for status in sorted(set(statuses))}


def answers(*statuses: int) -> dict[str, Any]:
    """Route decorator keywords of an authenticated route: its error statuses (always 400,
    401 and 503: a malformed request, credentials, admission) and the security schemes."""
    return {"responses": errors(*statuses, 400, 401, 503), "security": SECURED}


def streams(*statuses: int, frames: str) -> dict[str, Any]:
    """`answers` for a route whose 200 is a server-sent event stream (wire-api.md §4); its
    request errors come before the first byte, as JSON (SSE-4)."""
    keywords = answers(*statuses)
    keywords["responses"][200] = ResponseSpec(data_container=SSEEvent,
                                              media_type="text/event-stream",
                                              description=frames, generate_examples=False)
    return keywords


def downloads(*statuses: int, media_type: str, what: str) -> dict[str, Any]:
    """`answers` for a route whose 200 is a file (`media_type` may be a range like `*/*`)."""
    keywords = answers(*statuses)
    keywords["responses"][200] = ResponseSpec(data_container=bytes, media_type=media_type,
                                              description=what, generate_examples=False)
    return keywords


#: `POST /workflow/mock-data` takes exactly one of `schema` and `interaction_request`
#: (mock_data.check_request); a struct cannot say so, the schema can
ONE_SOURCE = {"oneOf": [
    {"required": ["schema"], "properties": {"schema": {"type": "object"},
                                            "interaction_request": {"type": "null"}}},
    {"required": ["interaction_request"], "properties": {"interaction_request": {"type": "object"},
                                                         "schema": {"type": "null"}}},
]}


def with_rules(openapi: dict[str, Any]) -> dict[str, Any]:
    """A copy of the rendered schema with the rules its structs cannot state."""
    result = copy.deepcopy(openapi)
    mock = result.get("components", {}).get("schemas", {}).get("MockDataRequest")
    if isinstance(mock, dict):
        mock.update(copy.deepcopy(ONE_SOURCE))
    return result


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(title="Workflow engine — virtual server", version="1.0.0",
                         path="/schema", components=Components(security_schemes=SECURITY_SCHEMES),
                         use_handler_docstrings=True,
                         render_plugins=docs_plugins("/schema", with_rules))
