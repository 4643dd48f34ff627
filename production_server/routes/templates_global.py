"""Global templates (issue 10; engine/global_templates.py): an admin publishes one of their
versions for everyone, a user clones a global version into their own template.

Publishing is for admins only: anyone else gets 403 `forbidden` (wire-api.md §2.3).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, post
from litestar.params import FromPath

from engine import CloneVersionResponse, PublishGlobalRequest, PublishGlobalResponse
from production_server.auth.identity import CurrentUser, services_of
from production_server.body import read_body
from production_server.errors import ApiError
from production_server.openapi import answers, request_body
from production_server.routes.common import USER


@post("/workflow-templates/global/publish", status_code=200,
      dependencies={**USER, **request_body(PublishGlobalRequest)},
      **answers(400, 403, 404, 409, 413))
async def publish_global(request: Request[Any, Any, Any],
                         user: CurrentUser) -> PublishGlobalResponse:
    """Copy one of the admin's source versions (and its variants) into the global template of
    that name; `inserted`/`existing` count the versions written or already there."""
    services = services_of(request)
    if user.role != "admin":
        raise ApiError(403, "forbidden", "Only administrators can publish global templates")
    s = services.settings
    body = await read_body(request, PublishGlobalRequest, s.max_body_bytes, s.max_json_depth)
    return await services.pool.run(services.eng().publish_global,
                                   user.user_id, body.source_version_id)


@post("/workflow-templates/{template_id:str}/versions/{version_id:str}/clone", status_code=200,
      dependencies=USER, **answers(404, 409))
async def clone_version(request: Request[Any, Any, Any], user: CurrentUser,
                        template_id: FromPath[str],
                        version_id: FromPath[str]) -> CloneVersionResponse:
    """Store a global template's version as a version of the user's own template."""
    services = services_of(request)
    return await services.pool.run(services.eng().clone_global_version,
                                   user.user_id, template_id, version_id)


GLOBAL_TEMPLATE_ROUTES = [publish_global, clone_version]
