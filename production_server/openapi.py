"""What `/schema` says about this server (issue 11 item 5, issue 15 item 7).

Routes read their bodies through `body.read_body` (size limit on the streamed bytes, depth scan,
ownership first), so Litestar never sees a `data` parameter; `request_body` declares the struct
for the schema only. `answers` declares every error status a route can give, each with the
`ErrorBody` every error handler sends, and for authenticated routes the three credentials of
AUTH-1 as alternative security schemes (Swagger's Authorize button). The docs page is Swagger
UI served from the installed `swagger-ui-py` package (openapi_docs.py), never from a CDN.
"""

from __future__ import annotations

from typing import Any

from litestar.di import Provide
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.spec import Components, SecurityScheme
from litestar.params import Parameter, ParameterKwarg

from engine import ErrorBody, SSEEvent
from production_server.openapi_docs import docs_plugins
from production_server.openapi_values import with_json_values

SECURITY_SCHEMES: dict[str, Any] = {
    "bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT",
                             description="The access token of `POST /auth/login`."),
    "accessTokenCookie": SecurityScheme(
        type="apiKey", name="access_token", security_scheme_in="cookie",
        description="The `access_token` cookie that login, register and guest access set."),
    "accessKey": SecurityScheme(type="apiKey", name="X-Access-Key", security_scheme_in="header",
                                description="A key from `POST /auth/access-keys`."),
}
#: any one of the three credentials (the first present one decides, AUTH-1)
SECURED: list[dict[str, list[str]]] = [{name: []} for name in SECURITY_SCHEMES]

REASONS = {
    400: "Invalid request: path, query or body (`bad_request`, `workflow_invalid`, ...)",
    401: "Missing, invalid or revoked credentials (`unauthorized`)",
    403: "Not allowed for this user (`forbidden`)",
    404: "Not found; another user's run or file looks the same (`not_found`)",
    409: "Conflicts with the run's current state (`interaction_not_pending`, ...) or with the "
         "server's configuration (`provider_unavailable`: no key for a live provider)",
    413: "Request body or result too large (`payload_too_large`, `workflow_too_large`)",
    429: "Too many login attempts or open streams; see `Retry-After`",
    503: "Engine busy or database unreachable (`overloaded`, `store_unavailable`, "
         "`database_unavailable`); retry after `Retry-After` seconds",
}


def bounds(required: bool = False, **schema: Any) -> ParameterKwarg:
    """A query parameter's documented constraints (`minimum`, `enum`, ...) that the handler
    checks itself, after authentication and ownership, with its own message (400)."""
    return Parameter(required=required or None, schema_extra=schema)


def errors(*statuses: int) -> dict[int, ResponseSpec]:
    return {status: ResponseSpec(data_container=ErrorBody, description=REASONS[status],
                                 generate_examples=False) for status in sorted(set(statuses))}


def answers(*statuses: int, auth: bool = True) -> dict[str, Any]:
    """Route decorator keywords: the error statuses the route answers and, unless `auth` is
    false, the security schemes and 401. Every route may answer 400 (a malformed path, query or
    body; it replaces Litestar's own 400 schema, which no handler here sends) and 503 (engine
    admission, database unreachable)."""
    codes = {*statuses, 400, 503, *((401,) if auth else ())}
    return {"responses": errors(*codes), "security": SECURED if auth else None}


def streams(*statuses: int, frames: str) -> dict[str, Any]:
    """`answers` for a route whose 200 is a server-sent event stream (wire-api.md §4): the
    checks that can fail happen before the first byte, as JSON errors (SSE-4)."""
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


def request_body(type_: type[Any], *, optional: bool = False) -> dict[str, Provide]:
    """A dependency no handler asks for whose `data` parameter is `type_`: Litestar documents it
    as the route's JSON request body but never resolves it, so the body stays unread until the
    handler's own reader runs (limits and ownership first, body.py / routes/common.py).
    `optional`: the route also takes no body at all (`optional_bodies` says so in the schema)."""

    def declared(data: Any) -> None:  # pragma: no cover - never called
        raise AssertionError("documentation-only dependency")

    declared.__annotations__ = {"data": type_ | None if optional else type_, "return": None}
    return {"request_body": Provide(declared, sync_to_thread=False)}


def optional_bodies(openapi: dict[str, Any]) -> dict[str, Any]:
    """Litestar marks every request body required and renders an optional one as `X | null`;
    a route that takes no body gets `required: false` and the plain `X` (a JSON `null` is not
    a body those routes accept)."""
    for item in (openapi.get("paths") or {}).values():
        for operation in item.values():
            body = operation.get("requestBody") if isinstance(operation, dict) else None
            if not isinstance(body, dict):
                continue
            for media in (body.get("content") or {}).values():
                choices = media.get("schema", {}).get("oneOf") or []
                kept = [c for c in choices if c != {"type": "null"}]
                if len(kept) == 1 and len(choices) == 2:
                    media["schema"] = kept[0]
                    body["required"] = False
    return openapi


def finished_schema(openapi: dict[str, Any]) -> dict[str, Any]:
    """The schema `/schema` shows: storage rules for sent values, optional bodies."""
    return optional_bodies(with_json_values(openapi))


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(title="Workflow Engine — production server", version="1.0.0",
                         path="/schema", components=Components(security_schemes=SECURITY_SCHEMES),
                         use_handler_docstrings=True,
                         render_plugins=docs_plugins("/schema", finished_schema))
