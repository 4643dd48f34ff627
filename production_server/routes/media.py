"""Stored generated media (wire-api.md §6.7): one file, zips of a run's media, the preview.

A file is served only when the run belongs to the caller, the content row belongs to that run and
the extension matches the stored one; every other case answers the same 404 as an unknown run
(AUTH-5). Stored names are content hashes, so the bytes behind a URL never change and the
response may be cached forever.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from typing import Any

import anyio
from litestar import Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.params import FromPath, FromQuery
from litestar.response import File

from engine import MediaPreviewRequest, PreviewInfo, media_type_for, resolve_media_path
from production_server.auth.identity import CurrentUser, services_of
from production_server.body import read_body
from production_server.errors import not_found
from production_server.executions import json_response
from production_server.openapi import answers, downloads, request_body
from production_server.routes.common import OWNER, owned_run
from production_server.services import Services

CACHE_FOREVER = "public, max-age=31536000, immutable"


MEDIA = {"media_type": "*/*", "what": "The stored image, video or audio file"}
ZIP = {"media_type": "application/zip", "what": "A zip of the stored media"}


@get("/workflow/{workflow_run_id:str}/media/{file_name:str}", dependencies=OWNER,
     **downloads(400, 404, **MEDIA))
async def media_file(request: Request[Any, Any, Any], user: CurrentUser,
                     workflow_run_id: FromPath[str], file_name: FromPath[str],
                     download: FromQuery[bool] = False) -> File:
    services = services_of(request)
    await owned_run(services, user, workflow_run_id)
    content_id, dot, extension = file_name.rpartition(".")
    if not dot or not content_id:
        raise not_found()
    row = await services.reads.get_generated_content(content_id)
    if row is None or row.get("workflow_run_id") != workflow_run_id \
            or not row.get("local_path") or row.get("extension") != extension:
        raise not_found()
    path = resolve_media_path(services.settings.media_base_path, str(row["local_path"]))
    if path is None or not os.path.isfile(path):
        raise not_found()
    return File(path, filename=file_name, media_type=media_type_for(extension),
                content_disposition_type="attachment" if download else "inline",
                headers={"Cache-Control": CACHE_FOREVER})


# ---------------------------------------------------------------------- zips


async def _zip_response(services: Services, run_id: str, provider: str | None,
                        metadata_id: str | None, name: str) -> File:
    """A zip of the run's stored media, optionally of one provider or one generation.

    Entries are `<provider>/<metadata_id>/<index>_<content_id>.<ext>`, stored without
    compression (media files are compressed already). The zip is built in a worker thread
    into a temporary file that is removed once sent.
    """
    metadata, contents = await services.reads.list_run_media(run_id)
    providers = {str(m["content_generation_metadata_id"]): str(m.get("provider")) for m in metadata
                 if (provider is None or m.get("provider") == provider)
                 and (metadata_id is None or m["content_generation_metadata_id"] == metadata_id)}
    base = services.settings.media_base_path
    entries: list[tuple[str, str]] = []
    for row in contents:
        meta = str(row.get("content_generation_metadata_id"))
        path = resolve_media_path(base, str(row.get("local_path") or "")) \
            if meta in providers and row.get("local_path") else None
        if path is not None and os.path.isfile(path):
            entries.append((path, f"{providers[meta]}/{meta}/{row.get('index', 0)}_"
                                  f"{row['generated_content_id']}.{row.get('extension')}"))
    if not entries:
        raise not_found()
    handle, zip_path = tempfile.mkstemp(prefix="wfe-media-", suffix=".zip")
    os.close(handle)

    def build() -> None:
        with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_STORED) as archive:
            for source, entry in entries:
                archive.write(source, entry)

    try:
        await anyio.to_thread.run_sync(build)
    except BaseException:
        os.unlink(zip_path)
        raise
    return File(zip_path, filename=name, media_type="application/zip",
                background=BackgroundTask(os.unlink, zip_path))


@get("/workflow/{workflow_run_id:str}/media/download", dependencies=OWNER,
     **downloads(404, **ZIP))
async def media_zip(request: Request[Any, Any, Any], user: CurrentUser,
                    workflow_run_id: FromPath[str]) -> File:
    services = services_of(request)
    await owned_run(services, user, workflow_run_id)
    return await _zip_response(services, workflow_run_id, None, None,
                               f"{workflow_run_id}_media.zip")


@get("/workflow/{workflow_run_id:str}/media/{provider:str}/download", dependencies=OWNER,
     **downloads(404, **ZIP))
async def provider_media_zip(request: Request[Any, Any, Any], user: CurrentUser,
                             workflow_run_id: FromPath[str], provider: FromPath[str]) -> File:
    services = services_of(request)
    await owned_run(services, user, workflow_run_id)
    return await _zip_response(services, workflow_run_id, provider, None,
                               f"{workflow_run_id}_{provider}.zip")


@get("/workflow/{workflow_run_id:str}/media/{provider:str}/{metadata_id:str}/download",
     dependencies=OWNER, **downloads(404, **ZIP))
async def generation_media_zip(request: Request[Any, Any, Any], user: CurrentUser,
                               workflow_run_id: FromPath[str], provider: FromPath[str],
                               metadata_id: FromPath[str]) -> File:
    services = services_of(request)
    await owned_run(services, user, workflow_run_id)
    return await _zip_response(services, workflow_run_id, provider, metadata_id,
                               f"{metadata_id}.zip")


@get("/workflow/{workflow_run_id:str}/media/{provider:str}/{metadata_id:str}/{content_id:str}",
     dependencies=OWNER, **downloads(404, **MEDIA))
async def media_item_download(request: Request[Any, Any, Any], user: CurrentUser,
                              workflow_run_id: FromPath[str], provider: FromPath[str],
                              metadata_id: FromPath[str], content_id: FromPath[str]) -> File:
    """One stored generation as an attachment (`<content_id>.<ext>`); the same checks as the
    inline route, plus the generation it must belong to."""
    services = services_of(request)
    await owned_run(services, user, workflow_run_id)
    row = await services.reads.get_generated_content(content_id)
    if row is None or row.get("workflow_run_id") != workflow_run_id \
            or row.get("content_generation_metadata_id") != metadata_id \
            or not row.get("local_path"):
        raise not_found()
    path = resolve_media_path(services.settings.media_base_path, str(row["local_path"]))
    if path is None or not os.path.isfile(path):
        raise not_found()
    extension = str(row.get("extension") or "")
    return File(path, filename=f"{content_id}.{extension}" if extension else content_id,
                media_type=media_type_for(extension), content_disposition_type="attachment")


# ---------------------------------------------------------------------- preview


@post("/workflow/{workflow_run_id:str}/media/preview", status_code=200,
      dependencies={**OWNER, **request_body(MediaPreviewRequest)},
      **answers(400, 404, 409, 413))
async def media_preview(request: Request[Any, Any, Any], user: CurrentUser,
                        workflow_run_id: FromPath[str]) -> Response[PreviewInfo]:
    """Resolution and credit estimate of a generation (providers.md §4.5)."""
    services = services_of(request)
    s = services.settings
    body = await read_body(request, MediaPreviewRequest, s.max_body_bytes, s.max_json_depth)
    info = await services.pool.run(services.eng().media_preview, user.user_id, workflow_run_id,
                                   body.provider, body.action_type, body.params,
                                   services.credentials(body.ai_config))
    return json_response(info)


MEDIA_ROUTES = [media_file, media_zip, provider_media_zip, generation_media_zip,
                media_item_download, media_preview]
