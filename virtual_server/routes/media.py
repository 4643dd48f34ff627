"""`GET /workflow/media/{sha256}.{ext}`: a live generation stored by this server, and
`POST /workflow/media/preview`: a generation's size and cost (issue 9 item 4).

The virtual server keeps no runs between requests, so a stored file cannot be tied to an owner
the way the production media route does; it is addressed by the SHA-256 of its bytes instead.
The name is unguessable without the content and never changes meaning, hence the immutable
cache. Authentication is the same as for every other route (VS-1: bearer or cookie).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import File

from engine import (
    MediaPreviewRequest,
    NotFound,
    PreviewInfo,
    hashed_media_path,
    media_type_for,
)
from virtual_server.bodies import body_of
from virtual_server.errors import json_response
from virtual_server.openapi import answers, downloads
from virtual_server.runtime import runtime

CACHE_FOREVER = "public, max-age=31536000, immutable"


@get("/workflow/media/{file_name:str}", summary="A stored live generation, by content hash",
     **downloads(404, media_type="*/*", what="The stored image, video or audio file"))
async def media_file(request: Request[Any, Any, Any], file_name: FromPath[str],
                     download: FromQuery[bool] = False) -> File:
    path = hashed_media_path(runtime(request).settings.media_base_path, file_name)
    if path is None:
        raise NotFound("Media file not found")
    return File(path, filename=file_name, media_type=media_type_for(file_name.rsplit(".", 1)[1]),
                content_disposition_type="attachment" if download else "inline",
                headers={"Cache-Control": CACHE_FOREVER})


@post("/workflow/media/preview", status_code=200,
      summary="Resolution and credit estimate of a generation (providers.md §4.5)",
      dependencies=body_of(MediaPreviewRequest), **answers(404, 409, 413))
async def media_preview(request: Request[Any, Any, Any],
                        payload: NamedDependency[MediaPreviewRequest]) -> Response[PreviewInfo]:
    """No blob and no run: `mock` (default true, like every virtual request) gives the mock
    provider's preview; `mock: false` the vendor's pricing, which needs that vendor's key."""
    rt = runtime(request)
    return json_response(await rt.run(rt.service.media_preview, payload))
