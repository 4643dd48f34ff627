"""Streaming routes (wire-api.md §6.3, §4): run stream, stream/respond and sub-action.

Every check that can fail as a request error (authentication, ownership, body, pending checks,
admission, stream limit) happens before the first byte (SSE-4); after that the stream always
ends with exactly one terminal frame (SSE-3).
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Callable

from litestar import Request, get, post
from litestar.params import FromPath

from engine import (
    CancelToken,
    ExecOptions,
    ExecutionError,
    FrameCounter,
    RequestError,
    StreamRespondRequest,
    SubActionInfo,
    SubActionRequest,
    WorkflowResponse,
)
from production_server.auth.identity import CurrentUser, User, services_of
from production_server.body import read_body
from production_server.cancellation import Execution
from production_server.errors import ApiError, not_found
from production_server.executions import admit, launch, progress_sink, sub_action_emit
from production_server.frames import (
    Outcome,
    outcome_of,
    response_frame,
    run_terminal,
    sub_action_terminal,
)
from production_server.jobs import is_media_sub_action
from production_server.openapi import request_body, streams
from production_server.routes.common import OWNER, owned_run
from production_server.routes.tasks import media_job_stream
from production_server.services import Services
from production_server.sse import Frame, FrameQueue, SSEStream, once, pump

TOO_MANY = "Too many open streams"


def _open_stream(services: Services, user: User) -> None:
    if not services.streams.try_open(user.user_id):
        raise ApiError(429, "too_many_streams", TOO_MANY,
                       {"limit": services.settings.sse_max_per_user})


def _respond_stream(services: Services, user: User, body: AsyncIterator[bytes],
                    token: CancelToken | None) -> SSEStream:
    def abort(reason: str) -> None:
        if token is not None:
            token.cancel(reason)

    return SSEStream(body, send_timeout_s=services.settings.sse_send_timeout_s, on_abort=abort,
                     on_close=lambda: services.streams.close(user.user_id))


def _ticker(run_id: str, frames: FrameQueue, default: str | None) -> Callable[[float], Frame | None]:
    """Progress ticks repeat the last progress message (or `default`) with a fresh elapsed_ms."""

    def tick(elapsed_ms: float) -> Frame | None:
        last = frames.last_progress
        if last is None and default is None:
            return None
        data: dict[str, Any] = dict(last) if last else {"workflow_run_id": run_id,
                                                        "message": default}
        data["elapsed_ms"] = int(elapsed_ms)
        return "progress", data

    return tick


async def _run_body(services: Services, run_id: str, execution: Execution, frames: FrameQueue,
                    initial: list[Frame], default_tick: str | None,
                    terminal: Callable[[str, Outcome, str | None], Frame]) -> AsyncIterator[bytes]:
    counter = FrameCounter()
    tick = _ticker(run_id, frames, default_tick)
    for event, data in initial:
        yield counter.frame(event, data)
    assert execution.task is not None
    s = services.settings
    async for chunk in pump(frames, execution.task, interval_s=s.progress_interval_s,
                            heartbeat_s=s.sse_heartbeat_s, tick=tick, counter=counter):
        yield chunk
    yield counter.frame(*terminal(run_id, outcome_of(execution.task), execution.token.reason))


RUN_FRAMES = ("`started`, `progress` frames, then one terminal frame: `interaction`, `complete`, "
              "`error`, `validation_failed` or `cancelled` (wire-api.md §4)")


@get("/workflow/{workflow_run_id:str}/stream", dependencies=OWNER,
     **streams(404, 429, frames=RUN_FRAMES))
async def stream(request: Request[Any, Any, Any], user: CurrentUser,
                 workflow_run_id: FromPath[str]) -> SSEStream:
    services = services_of(request)
    run_id = workflow_run_id
    eng = services.eng()
    running = services.registry.running(run_id)
    if running is not None:
        await owned_run(services, user, run_id)
        _open_stream(services, user)
        frames = FrameQueue(asyncio.get_running_loop())
        body = _run_body(services, run_id, running, frames, [], "Waiting for running execution",
                         run_terminal)
        return _respond_stream(services, user, body, None)
    admit(services)
    try:
        status: WorkflowResponse = await services.pool.run_admitted(eng.resume_status,
                                                                    user.user_id, run_id)
        _open_stream(services, user)
    except BaseException:
        services.pool.release()
        raise
    if status.status in ("awaiting_input", "completed"):
        services.pool.release()
        return _respond_stream(services, user, once([response_frame(status)]), None)
    frames = FrameQueue(asyncio.get_running_loop())
    sink = progress_sink(frames, run_id)
    execution = launch(services, run_id, "run", lambda token: eng.continue_run(
        user.user_id, run_id, ExecOptions(credentials=services.credentials(None), cancel=token,
                                          progress=sink)), admitted=True)
    progress = status.progress
    initial: list[Frame] = [
        ("started", {"workflow_run_id": run_id,
                     "step_id": progress.current_step if progress else None,
                     "module_name": progress.current_module if progress else None,
                     "module_index": progress.module_index if progress else 0}),
        ("progress", {"workflow_run_id": run_id, "elapsed_ms": 0,
                      "message": "Starting execution..."}),
    ]
    body = _run_body(services, run_id, execution, frames, initial, None, run_terminal)
    return _respond_stream(services, user, body, execution.token)


@post("/workflow/{workflow_run_id:str}/stream/respond", status_code=200,
      dependencies={**OWNER, **request_body(StreamRespondRequest)},
      **streams(400, 404, 409, 413, 429, frames=RUN_FRAMES))
async def stream_respond(request: Request[Any, Any, Any], user: CurrentUser,
                         workflow_run_id: FromPath[str]) -> SSEStream:
    services = services_of(request)
    s = services.settings
    run_id = workflow_run_id
    body = await read_body(request, StreamRespondRequest, s.max_body_bytes, s.max_json_depth)
    if body.workflow_run_id is not None and body.workflow_run_id != run_id:
        raise not_found()  # the body names another run: not one this route can act on
    eng = services.eng()
    _open_stream(services, user)
    frames = FrameQueue(asyncio.get_running_loop())
    facts: dict[str, Any] = {}
    sink = progress_sink(frames, run_id)

    def work(token: CancelToken) -> WorkflowResponse:
        facts["status"] = eng.get_status(user.user_id, run_id)  # ownership first (AUTH-5)
        facts["replay"] = eng.is_replay(run_id, body.interaction_id, body.response)
        return eng.respond(user.user_id, run_id, body.interaction_id, body.response,
                           ExecOptions(credentials=services.credentials(body.ai_config),
                                       ai_config=body.ai_config, cancel=token, progress=sink))

    try:
        execution = launch(services, run_id, "run", work)
    except BaseException:
        services.streams.close(user.user_id)
        raise
    assert execution.task is not None
    waiter = asyncio.ensure_future(frames.began.wait())
    await asyncio.wait({waiter, execution.task}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    task = execution.task
    if task.done() and task.exception() is not None and \
            isinstance(task.exception(), (RequestError, ApiError)):
        services.streams.close(user.user_id)
        raise task.exception()  # type: ignore[misc]
    if task.done() and facts.get("replay"):
        frame = run_terminal(run_id, outcome_of(task), execution.token.reason)
        return _respond_stream(services, user, once([frame]), None)
    status = facts.get("status")
    progress = status.progress if status is not None else None
    initial: list[Frame] = [
        ("progress", {"workflow_run_id": run_id, "elapsed_ms": 0,
                      "message": "Processing response..."}),
        ("started", {"workflow_run_id": run_id,
                     "step_id": progress.current_step if progress else None,
                     "module_name": progress.current_module if progress else None,
                     "module_index": progress.module_index if progress else 0}),
    ]
    body_iter = _run_body(services, run_id, execution, frames, initial, None, run_terminal)
    return _respond_stream(services, user, body_iter, execution.token)


@post("/workflow/{workflow_run_id:str}/sub-action", status_code=200,
      dependencies={**OWNER, **request_body(SubActionRequest)},
      **streams(400, 404, 409, 413, 429, frames="`progress` frames, then one terminal frame: "
                "`complete`, `error` or `cancelled` (wire-api.md §4)"))
async def sub_action(request: Request[Any, Any, Any], user: CurrentUser,
                     workflow_run_id: FromPath[str]) -> SSEStream:
    services = services_of(request)
    s = services.settings
    run_id = workflow_run_id
    body = await read_body(request, SubActionRequest, s.max_body_bytes, s.max_json_depth)
    eng = services.eng()
    info: SubActionInfo | None = None
    try:  # ownership and the pending check before the stream (SSE-4)
        info = await services.pool.run(eng.check_sub_action, user.user_id, run_id,
                                       body.interaction_id, body.sub_action_id)
    except ExecutionError:
        pass  # e.g. an unknown sub-action: reported as the stream's terminal `error`
    if info is not None and is_media_sub_action(info.kind, info.module_id):
        # a media generation runs as a background job that outlives this stream
        return await media_job_stream(services, user, run_id, body.interaction_id,
                                      body.sub_action_id, body.params, body.ai_config)
    _open_stream(services, user)
    frames = FrameQueue(asyncio.get_running_loop())
    emit = sub_action_emit(frames, run_id)
    try:
        execution = launch(services, run_id, "sub_action", lambda token: eng.run_sub_action(
            user.user_id, run_id, body.interaction_id, body.sub_action_id, body.params, emit,
            ExecOptions(credentials=services.credentials(body.ai_config),
                        ai_config=body.ai_config, cancel=token)))
    except BaseException:
        services.streams.close(user.user_id)
        raise
    body_iter = _run_body(services, run_id, execution, frames, [], None, sub_action_terminal)
    return _respond_stream(services, user, body_iter, execution.token)


STREAMING_ROUTES = [stream, stream_respond, sub_action]

