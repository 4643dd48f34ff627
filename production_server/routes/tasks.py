"""Media task routes (wire-api.md §6.7) and the job path of `POST /workflow/{id}/sub-action`.

Every task route is owner-checked: another user's task answers the same 404 as an unknown id
(AUTH-5). Task views never carry the request's keys; those stay in the enqueuing process's
memory only, for the job it runs.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath

from engine import ExecutionError, TaskQueued, TasksView, TaskView
from production_server.auth.identity import CurrentUser, User, services_of
from production_server.errors import ApiError, bad_request, not_found
from production_server.executions import json_response
from production_server.jobs import is_media_sub_action
from production_server.jobs.frames import is_final, queued_frame, task_view
from production_server.jobs.streams import job_stream_body, subscribe
from production_server.openapi import answers, request_body, streams
from production_server.routes.common import OWNER, USER, owned_run, read_owned_body
from production_server.services import Services
from production_server.sse import SSEStream

TOO_MANY = "Too many open streams"


class TaskRequest(msgspec.Struct, kw_only=True):
    workflow_run_id: str
    interaction_id: str
    sub_action_id: str
    params: dict[str, Any] = {}
    ai_config: dict[str, Any] | None = None


def open_stream(services: Services, user: User) -> None:
    if not services.streams.try_open(user.user_id):
        raise ApiError(429, "too_many_streams", TOO_MANY,
                       {"limit": services.settings.sse_max_per_user})


def job_sse(services: Services, user: User, doc: dict[str, Any]) -> SSEStream:
    """Stream a task; closing the stream never cancels the job (it survives the client)."""
    jobs = services.jobs()
    frames = subscribe(jobs, doc["task_id"])
    initial = [] if is_final(doc) else [queued_frame(doc)]
    body = job_stream_body(services.settings, jobs, doc, initial, frames)

    def close() -> None:
        jobs.broadcaster.unsubscribe(doc["task_id"], frames)
        services.streams.close(user.user_id)

    return SSEStream(body, send_timeout_s=services.settings.sse_send_timeout_s,
                     on_abort=lambda _reason: None, on_close=close)


async def media_job_stream(services: Services, user: User, run_id: str, interaction_id: str,
                           sub_action_id: str, params: dict[str, Any],
                           ai_config: dict[str, Any] | None) -> SSEStream:
    """Enqueue (503 before any write when full) and stream the job (SSE-4 checks done first)."""
    open_stream(services, user)
    try:
        job = await services.jobs().enqueue(user_id=user.user_id, run_id=run_id,
                                            interaction_id=interaction_id,
                                            sub_action_id=sub_action_id, params=params,
                                            ai_config=ai_config)
    except BaseException:
        services.streams.close(user.user_id)
        raise
    doc = {"task_id": job.task_id, "status": "queued", "payload": {"workflow_run_id": run_id}}
    return job_sse(services, user, doc)


async def _owned_task(services: Services, user: User, task_id: str) -> dict[str, Any]:
    doc = await services.jobs().queue.get(task_id)
    if doc is None or (doc.get("payload") or {}).get("user_id") != user.user_id:
        raise not_found()
    return doc


TASK_FRAMES = ("`progress` frames of the job, then one terminal frame: `complete`, `error` or "
               "`cancelled` (wire-api.md §4)")


@post("/api/task", status_code=202, dependencies={**USER, **request_body(TaskRequest)},
      **answers(400, 404, 413))
async def create_task(request: Request[Any, Any, Any], user: CurrentUser) -> Response[TaskQueued]:
    services = services_of(request)
    body = await read_owned_body(request, user, TaskRequest)
    eng = services.eng()
    try:
        info = await services.pool.run(eng.check_sub_action, user.user_id, body.workflow_run_id,
                                       body.interaction_id, body.sub_action_id)
    except ExecutionError as exc:
        raise bad_request(exc.message, **dict(exc.details)) from None
    if not is_media_sub_action(info.kind, info.module_id):
        raise bad_request("Only media generation sub-actions run as tasks",
                          sub_action_id=body.sub_action_id)
    job = await services.jobs().enqueue(user_id=user.user_id, run_id=body.workflow_run_id,
                                        interaction_id=body.interaction_id,
                                        sub_action_id=body.sub_action_id, params=body.params,
                                        ai_config=body.ai_config)
    return json_response(TaskQueued(task_id=job.task_id), status=202)


@get("/api/task/workflow/{workflow_run_id:str}", dependencies=OWNER, **answers(404))
async def run_tasks(request: Request[Any, Any, Any], user: CurrentUser,
                    workflow_run_id: FromPath[str]) -> Response[TasksView]:
    services = services_of(request)
    await owned_run(services, user, workflow_run_id)
    docs = await services.jobs().queue.list_by_run(workflow_run_id)
    return json_response(TasksView(tasks=[task_view(d) for d in docs
                                          if (d.get("payload") or {}).get("user_id")
                                          == user.user_id]))


@get("/api/task/{task_id:str}", dependencies=USER, **answers(404))
async def get_task(request: Request[Any, Any, Any], user: CurrentUser,
                   task_id: FromPath[str]) -> Response[TaskView]:
    services = services_of(request)
    return json_response(task_view(await _owned_task(services, user, task_id)))


@get("/api/task/{task_id:str}/stream", dependencies=USER,
     **streams(404, 429, frames=TASK_FRAMES))
async def stream_task(request: Request[Any, Any, Any], user: CurrentUser,
                      task_id: FromPath[str]) -> SSEStream:
    services = services_of(request)
    doc = await _owned_task(services, user, task_id)
    open_stream(services, user)
    return job_sse(services, user, doc)


TASK_ROUTES = [create_task, run_tasks, get_task, stream_task]
