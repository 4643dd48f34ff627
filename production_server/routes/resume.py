"""Resume routes (wire-api.md §6.2, engine.md §15.4, and §15.2 for new content — issue 10).

`POST /workflow/{id}/resume` without `workflow_content` reports where the run stands and never
executes. With content it compares the content with the run's source version: a difference
answers the confirmation question, equal content is the plain resume. `POST .../resume/confirm`
stores the content, points the run at it and continues (an executing request: admitted,
cancellable, registered under the run).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post
from litestar.params import FromPath

from engine import (
    CancelToken,
    ExecOptions,
    ResumeConfirmRequest,
    ResumeRequest,
    WorkflowInvalid,
    WorkflowProgress,
    WorkflowResponse,
    load_workflow_zip,
)
from production_server.auth.identity import CurrentUser, User, services_of
from production_server.body import read_body
from production_server.errors import ApiError
from production_server.executions import execute, json_response
from production_server.openapi import answers, request_body
from production_server.routes.common import OWNER, owned_run


def content_of(body: ResumeRequest, max_bytes: int) -> tuple[dict[str, Any], str]:
    """The resolved workflow of a request's `workflow_content` (object, or base64 zip)."""
    content = body.workflow_content
    if isinstance(content, str):
        return load_workflow_zip(content, body.workflow_entry_point, max_bytes), "zip"
    assert content is not None
    return content, "json"


async def _with_content(request: Request[Any, Any, Any], user: User, run_id: str,
                        body: ResumeRequest, confirm: bool) -> WorkflowResponse:
    services = services_of(request)
    eng = services.eng()  # ownership was checked before the body was read (OWNER)
    max_bytes = services.settings.workflow_max_bytes

    def work(token: CancelToken) -> WorkflowResponse:
        workflow, kind = content_of(body, max_bytes)
        opts = ExecOptions(credentials=services.credentials(body.ai_config),
                           ai_config=body.ai_config, cancel=token)
        return eng.resume_with_content(user.user_id, run_id, workflow, kind,
                                       list(body.capabilities), confirm, opts)

    try:
        return await execute(services, run_id, work, request)
    except WorkflowInvalid as exc:  # a request error on production uploads (wire-api.md §2.3)
        raise ApiError(400, "workflow_invalid", exc.message, dict(exc.details)) from None


def processing(run: dict[str, Any]) -> WorkflowResponse:
    """engine.md §15.4's `processing` answer, with the progress of the run's projection."""
    return WorkflowResponse(
        workflow_run_id=str(run["workflow_run_id"]), status="processing",
        message="Workflow is processing", progress=WorkflowProgress(
            current_step=run.get("current_step"), current_step_name=run.get("current_step_name"),
            current_module=run.get("current_module"),
            completed_steps=list(run.get("completed_steps") or [])))


async def _body(request: Request[Any, Any, Any], type_: type[ResumeRequest],
                optional: bool) -> ResumeRequest:
    s = services_of(request).settings
    return await read_body(request, type_, s.upload_max_body_bytes, s.max_json_depth,
                           optional=optional)


@post("/workflow/{workflow_run_id:str}/resume", status_code=200,
      dependencies={**OWNER, **request_body(ResumeRequest, optional=True)},
      **answers(400, 404, 409, 413))
async def resume(request: Request[Any, Any, Any], user: CurrentUser,
                 workflow_run_id: FromPath[str]) -> Response[WorkflowResponse]:
    """Where the run stands (never executes); with `workflow_content`, the version check."""
    services = services_of(request)
    body = await _body(request, ResumeRequest, optional=True)
    if body.workflow_content is not None:
        return json_response(await _with_content(request, user, workflow_run_id, body, False))
    if services.registry.running(workflow_run_id) is not None:
        # executing in this process: say so now instead of waiting for the run's lock (the UI
        # then opens the stream, which follows that execution to its outcome)
        return json_response(processing(await owned_run(services, user, workflow_run_id)))
    response = await services.pool.run(services.eng().resume_status, user.user_id,
                                       workflow_run_id, body.ai_config)
    return json_response(response)


@post("/workflow/{workflow_run_id:str}/resume/confirm", status_code=200,
      dependencies={**OWNER, **request_body(ResumeConfirmRequest)},
      **answers(400, 404, 409, 413))
async def resume_confirm(request: Request[Any, Any, Any], user: CurrentUser,
                         workflow_run_id: FromPath[str]) -> Response[WorkflowResponse]:
    """Switch the run to the confirmed content and continue (WorkflowResponse)."""
    body = await _body(request, ResumeConfirmRequest, optional=False)
    return json_response(await _with_content(request, user, workflow_run_id, body, True))


RESUME_ROUTES = [resume, resume_confirm]
