"""`OPTIONS` answers with every method of its path (RFC 9110 §9.3.7).

Litestar builds each path's `OPTIONS` handler when the path's first handler is registered and
keeps it when a second method joins the path later, so `OPTIONS /auth/access-keys` listed only
`POST`. This app-wide `before_request` hook answers `OPTIONS` from the finished route table
instead (CORS preflights never get here: the CORS middleware answers them first).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.routes import HTTPRoute
from litestar.status_codes import HTTP_204_NO_CONTENT


def path_methods(app: Any, path_template: str) -> list[str]:
    for route in app.routes:
        if isinstance(route, HTTPRoute) and route.path_format == path_template:
            return sorted(route.methods)
    return []


async def answer_options(request: Request[Any, Any, Any]) -> Response[None] | None:
    if request.method != "OPTIONS":
        return None
    methods = path_methods(request.app, str(request.scope.get("path_template", "")))
    if not methods:
        return None
    return Response(content=None, status_code=HTTP_204_NO_CONTENT,
                    headers={"Allow": ", ".join(methods)})
