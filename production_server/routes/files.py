"""Workflow files (issue 10): listing, one file with its content, zips, API-call groups.

Files are the documents `io.save_json` / `io.write_text` write (storage.md `workflow_files`),
visible along the run's lineage like events (ST-9): a file written on a branch that was jumped
away from is not listed. Zips are built in a worker thread, in memory (file contents are
bounded by the module's content limit); an empty selection is 404 like the web UI's server.
`/api-calls` lists the files of category `api_calls` grouped by `group_id`; this server does not
record LLM request/response logs as files, so those lists are empty unless such files exist.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import datetime
from typing import Annotated, Any

import anyio
from litestar import Request, Response, get
from litestar.params import FromPath, FromQuery

from engine import (
    ApiCallFilesView,
    ApiCallsView,
    FileContentView,
    FilesRunState,
    FilesView,
    iso_z,
)
from production_server.auth.identity import CurrentUser, User, services_of
from production_server.errors import ApiError, bad_request, not_found
from production_server.openapi import answers, bounds, downloads
from production_server.routes.common import OWNER, owned_run
from production_server.services import Services

Doc = dict[str, Any]
API_CALLS = "api_calls"
MAX_ZIP_BYTES = 64 * 1024 * 1024


async def _lineage_files(services: Services, user: User,
                         run_id: str) -> tuple[Doc, list[Doc]]:
    """The run (ownership checked) and its lineage-visible files, without contents."""
    run = await owned_run(services, user, run_id)
    branch = await services.reads.get_branch(str(run.get("current_branch_id")))
    lineage = list((branch or {}).get("lineage") or [])
    return run, await services.reads.list_files(run_id, lineage)


async def _with_contents(services: Services, docs: list[Doc]) -> list[Doc]:
    """The documents again with their contents, read one by one within `MAX_ZIP_BYTES` (a run
    may hold many files of up to 4 MiB each; memory stays bounded, beyond it 413)."""
    out: list[Doc] = []
    total = 0
    for doc in docs:
        full = await services.reads.get_file(str(doc["file_id"]))
        if full is None:
            continue
        content = full.get("content")
        total += len(content) if isinstance(content, str) else len(json.dumps(content))
        if total > MAX_ZIP_BYTES:
            raise ApiError(413, "payload_too_large", "Too much file content for one download",
                           {"limit": MAX_ZIP_BYTES})
        out.append(full)
    return out


RFC3339 = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def rfc3339(text: str) -> datetime | None:
    """An RFC 3339 date-time (what `format: date-time` means in the schema), else None."""
    match = RFC3339.fullmatch(text)
    if match is None:
        return None
    day, clock, fraction, zone = match.groups()
    zone = "+00:00" if zone in ("Z", "z") else zone
    try:
        return datetime.fromisoformat(f"{day}T{clock}{(fraction or '')[:7]}{zone}")
    except ValueError:
        return None


def _plain(doc: Doc) -> Doc:
    return {k: (iso_z(v) if isinstance(v, datetime) else v) for k, v in doc.items()
            if k != "_id"}


def _step_of(doc: Doc) -> str:
    return str((doc.get("metadata") or {}).get("step_id") or "")


@get("/workflow/{workflow_run_id:str}/files", dependencies=OWNER, **answers(400, 404))
async def list_files(request: Request[Any, Any, Any], user: CurrentUser,
                     workflow_run_id: FromPath[str], category: FromQuery[str | None] = None,
                     step_id: FromQuery[str | None] = None,
                     since: Annotated[str | None, bounds(format="date-time")] = None,
                     ) -> FilesView:
    """The run's files without content; `since` (RFC 3339 time) for incremental sync."""
    after = None
    if since is not None:
        after = rfc3339(since)
        if after is None:
            raise bad_request("since must be an RFC 3339 date-time", since=since)
    services = services_of(request)
    run, files = await _lineage_files(services, user, workflow_run_id)
    chosen = [f for f in files if (category is None or f.get("category") == category)
              and (step_id is None or _step_of(f) == step_id)
              and (after is None or (f.get("created_at") is not None
                                     and f["created_at"] > after))]
    return FilesView(workflow_run_id=workflow_run_id, files=[_plain(f) for f in chosen],
                     count=len(chosen), workflow_state=FilesRunState(
                         status=str(run.get("status") or "created"),
                         current_step=run.get("current_step"),
                         current_step_name=run.get("current_step_name")))


async def _zip(services: Services, chosen: list[Doc], layout: str,
               name: str) -> Response[bytes]:
    """`layout`: `category/step` (all files), `step` (one category) or `flat`."""
    if not chosen:
        raise not_found()
    files = await _with_contents(services, chosen)

    def build() -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for doc in files:
                parts = [str(doc.get("category") or ""), _step_of(doc)] \
                    if layout == "category/step" else [_step_of(doc)] if layout == "step" else []
                path = "/".join([p for p in parts if p] + [str(doc.get("filename") or "file")])
                content = doc.get("content")
                data = json.dumps(content, indent=2, ensure_ascii=False) \
                    if doc.get("content_type") == "json" or not isinstance(content, str) \
                    else content
                archive.writestr(path, data.encode("utf-8"))
        return buffer.getvalue()

    data = await anyio.to_thread.run_sync(build)
    return Response(content=data, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


ZIP = {"media_type": "application/zip", "what": "A zip of the selected files"}
ONE_FILE = {"media_type": "*/*",
            "what": "The file: `application/json` for JSON files, else `text/plain`"}


@get("/workflow/{workflow_run_id:str}/files/download", dependencies=OWNER,
     **downloads(404, 413, **ZIP))
async def download_all(request: Request[Any, Any, Any], user: CurrentUser,
                       workflow_run_id: FromPath[str]) -> Response[bytes]:
    """Every file as a zip (`<category>/<step_id>/<filename>`)."""
    services = services_of(request)
    _, files = await _lineage_files(services, user, workflow_run_id)
    return await _zip(services, files, "category/step", f"{workflow_run_id}_files.zip")


@get("/workflow/{workflow_run_id:str}/files/{category:str}/download", dependencies=OWNER,
     **downloads(404, 413, **ZIP))
async def download_category(request: Request[Any, Any, Any], user: CurrentUser,
                            workflow_run_id: FromPath[str],
                            category: FromPath[str]) -> Response[bytes]:
    services = services_of(request)
    _, files = await _lineage_files(services, user, workflow_run_id)
    return await _zip(services, [f for f in files if f.get("category") == category], "step",
                      f"{workflow_run_id}_{category}.zip")


@get("/workflow/{workflow_run_id:str}/files/{category:str}/{step_id:str}/download",
     dependencies=OWNER, **downloads(404, 413, **ZIP))
async def download_step(request: Request[Any, Any, Any], user: CurrentUser,
                        workflow_run_id: FromPath[str], category: FromPath[str],
                        step_id: FromPath[str]) -> Response[bytes]:
    services = services_of(request)
    _, files = await _lineage_files(services, user, workflow_run_id)
    return await _zip(services, [f for f in files if f.get("category") == category
                                 and _step_of(f) == step_id], "flat",
                      f"{workflow_run_id}_{category}_{step_id}.zip")


@get("/workflow/{workflow_run_id:str}/files/{category:str}/{step_id:str}/{group_id:str}/download",
     dependencies=OWNER, **downloads(404, 413, **ZIP))
async def download_group(request: Request[Any, Any, Any], user: CurrentUser,
                         workflow_run_id: FromPath[str], category: FromPath[str],
                         step_id: FromPath[str], group_id: FromPath[str]) -> Response[bytes]:
    services = services_of(request)
    _, files = await _lineage_files(services, user, workflow_run_id)
    return await _zip(services, [f for f in files if f.get("category") == category
                                 and _step_of(f) == step_id and f.get("group_id") == group_id],
                      "flat", f"{workflow_run_id}_{group_id[:12]}.zip")


@get("/workflow/{workflow_run_id:str}/files/{file_id:str}", dependencies=OWNER, **answers(404))
async def get_file(request: Request[Any, Any, Any], user: CurrentUser,
                   workflow_run_id: FromPath[str], file_id: FromPath[str]) -> FileContentView:
    """One file with its content (the web UI's `WorkflowFileContent`)."""
    services = services_of(request)
    await owned_run(services, user, workflow_run_id)
    doc = await services.reads.get_file(file_id)
    if doc is None or doc.get("workflow_run_id") != workflow_run_id:
        raise not_found()
    return FileContentView(
        file_id=file_id, workflow_run_id=workflow_run_id, category=str(doc.get("category")),
        group_id=doc.get("group_id"), filename=str(doc.get("filename")),
        content_type=str(doc.get("content_type")), content=doc.get("content"),
        metadata=dict(doc.get("metadata") or {}), created_at=iso_z(doc.get("created_at")))


async def _attachment(services: Services, user: User, run_id: str, file_id: str,
                      **expected: str) -> Response[bytes]:
    """One file as a download (the `download_url` of a file leaf in the state view's tree)."""
    await owned_run(services, user, run_id)
    doc = await services.reads.get_file(file_id)
    if doc is None or doc.get("workflow_run_id") != run_id or any(
            (_step_of(doc) if k == "step_id" else str(doc.get(k))) != v
            for k, v in expected.items()):
        raise not_found()
    content = doc.get("content")
    data = content if isinstance(content, str) and doc.get("content_type") != "json" \
        else json.dumps(content, indent=2, ensure_ascii=False)
    name = str(doc.get("filename") or file_id).replace('"', "")
    return Response(content=data.encode("utf-8"),
                    media_type="application/json" if doc.get("content_type") == "json"
                    else "text/plain; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@get("/workflow/{workflow_run_id:str}/files/{category:str}/{file_id:str}", dependencies=OWNER,
     **downloads(404, **ONE_FILE))
async def download_file(request: Request[Any, Any, Any], user: CurrentUser,
                        workflow_run_id: FromPath[str], category: FromPath[str],
                        file_id: FromPath[str]) -> Response[bytes]:
    return await _attachment(services_of(request), user, workflow_run_id, file_id,
                             category=category)


@get("/workflow/{workflow_run_id:str}/files/{category:str}/{step_id:str}/{group_id:str}/"
     "{file_id:str}", dependencies=OWNER, **downloads(404, **ONE_FILE))
async def download_group_file(request: Request[Any, Any, Any], user: CurrentUser,
                              workflow_run_id: FromPath[str], category: FromPath[str],
                              step_id: FromPath[str], group_id: FromPath[str],
                              file_id: FromPath[str]) -> Response[bytes]:
    return await _attachment(services_of(request), user, workflow_run_id, file_id,
                             category=category, step_id=step_id, group_id=group_id)


@get("/workflow/{workflow_run_id:str}/api-calls", dependencies=OWNER, **answers(404))
async def api_calls(request: Request[Any, Any, Any], user: CurrentUser,
                    workflow_run_id: FromPath[str]) -> ApiCallsView:
    """Files of category `api_calls`, one entry per `group_id` (one call)."""
    _, files = await _lineage_files(services_of(request), user, workflow_run_id)
    groups: dict[str, Doc] = {}
    for f in files:
        if f.get("category") != API_CALLS:
            continue
        group = groups.setdefault(str(f.get("group_id")), {
            "group_id": f.get("group_id"), "step_id": _step_of(f),
            "module_name": (f.get("metadata") or {}).get("module_name"),
            "created_at": iso_z(f.get("created_at")), "files": []})
        group["files"].append(str(f.get("filename")))
    return ApiCallsView(workflow_run_id=workflow_run_id, api_calls=list(groups.values()),
                        count=len(groups))


@get("/workflow/{workflow_run_id:str}/api-calls/{group_id:str}", dependencies=OWNER,
     **answers(404, 413))
async def api_call_files(request: Request[Any, Any, Any], user: CurrentUser,
                         workflow_run_id: FromPath[str],
                         group_id: FromPath[str]) -> ApiCallFilesView:
    services = services_of(request)
    _, files = await _lineage_files(services, user, workflow_run_id)
    chosen = [_plain(f) for f in await _with_contents(services, [
        f for f in files if f.get("category") == API_CALLS and f.get("group_id") == group_id])]
    return ApiCallFilesView(workflow_run_id=workflow_run_id, group_id=group_id, files=chosen,
                            count=len(chosen))


FILES_ROUTES = [list_files, download_all, download_category, download_step, download_group,
                get_file, download_file, download_group_file, api_calls, api_call_files]
