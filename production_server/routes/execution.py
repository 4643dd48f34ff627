"""Execution routes (wire-api.md §6.2): start, confirm, start by version, check, respond, retry,
jump, jump-to-interaction, cancel (resume: routes/resume.py).

Ownership is the engine's (ENG-7: another user's run is `NotFound`, mapped to the one fixed 404
body); the routes that do not call the engine check `user_id` on the run themselves.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery

from engine import (
    CancelToken,
    CancelView,
    ExecOptions,
    JumpRequest,
    JumpToInteractionRequest,
    MockNotAllowed,
    RespondRequest,
    RetryRequest,
    RunCheck,
    StartByVersionRequest,
    StartCommand,
    StartWorkflowRequest,
    WorkflowInvalid,
    WorkflowResponse,
    is_global,
    iso_z,
    load_workflow_zip,
)
from production_server.auth.identity import CurrentUser, User, services_of
from production_server.body import read_body
from production_server.errors import ApiError, bad_request, not_found
from production_server.executions import execute, json_response
from production_server.openapi import answers, bounds, request_body
from production_server.routes.common import (
    OWNER,
    USER,
    owned_run,
    read_owned_body,
)
from production_server.services import Services

MOCK_REFUSED = ("Mock runs are not allowed on this server: set WFE_ALLOW_MOCK_RUNS=true to allow "
                "them (scripts/serve runs with WFE_ENV=development, which allows them)")


async def _start(request: Request[Any, Any, Any], services: Services, user: User,
                 body: StartWorkflowRequest | StartByVersionRequest,
                 *, confirm: bool, workflow: dict[str, Any] | None = None,
                 source_type: str = "json") -> Response[WorkflowResponse]:
    s = services.settings
    mock = s.mock_by_default if body.mock is None else body.mock
    if mock and not s.mock_runs_allowed:
        raise MockNotAllowed(MOCK_REFUSED, details={"setting": "WFE_ALLOW_MOCK_RUNS"})
    eng = services.eng()

    def work(token: CancelToken) -> WorkflowResponse:
        resolved, kind = workflow, source_type
        if resolved is None:
            assert isinstance(body, StartWorkflowRequest)
            if isinstance(body.workflow_content, str):
                resolved = load_workflow_zip(body.workflow_content, body.workflow_entry_point,
                                             s.workflow_max_bytes)
                kind = "zip"
            else:
                resolved = body.workflow_content
        opts = ExecOptions(credentials=services.credentials(body.ai_config),
                           ai_config=body.ai_config, cancel=token)
        return eng.start(StartCommand(
            user_id=user.user_id, project_name=body.project_name, workflow=resolved,
            source_type=kind, capabilities=list(body.capabilities), force_new=body.force_new,
            confirm=confirm, ai_config=body.ai_config, mock=mock,
            allow_mock=s.mock_runs_allowed, options=opts))

    try:
        # A start has no run id yet; its token is registered under the project key.
        response = await execute(services, "start:" + user.user_id + ":" + body.project_name, work,
                                 request)
    except WorkflowInvalid as exc:  # a request error on production uploads (wire-api.md §2.3)
        raise ApiError(400, "workflow_invalid", exc.message, dict(exc.details)) from None
    return json_response(response)


async def _start_body(request: Request[Any, Any, Any]) -> StartWorkflowRequest:
    s = services_of(request).settings
    return await read_body(request, StartWorkflowRequest, s.upload_max_body_bytes, s.max_json_depth)


START = {**USER, **request_body(StartWorkflowRequest)}


@post("/workflow/start", status_code=200, dependencies=START, **answers(400, 409, 413))
async def start(request: Request[Any, Any, Any], user: CurrentUser) -> Response[WorkflowResponse]:
    return await _start(request, services_of(request), user, await _start_body(request),
                        confirm=False)


@post("/workflow/start/confirm", status_code=200, dependencies=START, **answers(400, 409, 413))
async def start_confirm(request: Request[Any, Any, Any],
                        user: CurrentUser) -> Response[WorkflowResponse]:
    return await _start(request, services_of(request), user, await _start_body(request),
                        confirm=True)


@post("/workflow/start/{workflow_version_id:str}", status_code=200,
      dependencies={**USER, **request_body(StartByVersionRequest)},
      **answers(400, 404, 409, 413))
async def start_by_version(request: Request[Any, Any, Any], user: CurrentUser,
                           workflow_version_id: FromPath[str]) -> Response[WorkflowResponse]:
    services = services_of(request)
    s = services.settings
    body = await read_body(request, StartByVersionRequest, s.max_body_bytes, s.max_json_depth)
    version = await services.reads.get_version(workflow_version_id)
    if version is None:
        raise not_found()
    template = await services.reads.get_template(str(version.get("workflow_template_id")))
    if template is None or (template.get("user_id") != user.user_id and not is_global(template)):
        raise not_found()  # a global version is stored into the user's own template on start
    if version.get("version_type") == "resolved" or version.get("parent_workflow_version_id"):
        raise ApiError(409, "conflict", "Start from a source version, not a resolved child version",
                       {"workflow_version_id": workflow_version_id})
    # an explicit version is never a confirmation question (the UI's by-version start has none)
    return await _start(request, services, user, body, confirm=True,
                        workflow=version["resolved_workflow"],
                        source_type=str(version.get("source_type") or "json"))


@get("/workflow/check", dependencies=USER, **answers(400))
async def check(request: Request[Any, Any, Any], user: CurrentUser,
                project_name: Annotated[str, bounds(True, minLength=1)] = "",
                workflow_template_name: Annotated[str, bounds(True, minLength=1)] = "",
                mock: FromQuery[bool] = False) -> RunCheck:
    if not project_name or not workflow_template_name:  # checked after authentication
        raise bad_request("project_name and workflow_template_name are required")
    services = services_of(request)
    template = await services.reads.find_template(user.user_id, workflow_template_name)
    if template is None:
        return RunCheck(exists=False)
    run = await services.reads.find_active_run(user.user_id, project_name,
                                               str(template["workflow_template_id"]), mock)
    if run is None:
        return RunCheck(exists=False)
    return RunCheck(exists=True, workflow_run_id=run["workflow_run_id"], status=run["status"],
                    current_step=run.get("current_step"), current_module=run.get("current_module"),
                    created_at=iso_z(run.get("created_at")),
                    updated_at=iso_z(run.get("updated_at")))


def _opts(services: Services, ai_config: dict[str, Any] | None, token: CancelToken) -> ExecOptions:
    return ExecOptions(credentials=services.credentials(ai_config), ai_config=ai_config,
                       cancel=token)


@post("/workflow/respond", status_code=200,
      dependencies={**USER, **request_body(RespondRequest)}, **answers(400, 404, 409, 413))
async def respond(request: Request[Any, Any, Any],
                 user: CurrentUser) -> Response[WorkflowResponse]:
    services = services_of(request)
    body = await read_owned_body(request, user, RespondRequest)
    eng = services.eng()
    response = await execute(services, body.workflow_run_id, lambda token: services.batched(
        lambda: eng.respond(user.user_id, body.workflow_run_id, body.interaction_id,
                            body.response, _opts(services, body.ai_config, token))), request)
    return json_response(response)


@post("/workflow/retry", status_code=200,
      dependencies={**USER, **request_body(RetryRequest)}, **answers(400, 404, 409, 413))
async def retry(request: Request[Any, Any, Any],
               user: CurrentUser) -> Response[WorkflowResponse]:
    services = services_of(request)
    body = await read_owned_body(request, user, RetryRequest)
    eng = services.eng()
    response = await execute(services, body.workflow_run_id, lambda token: eng.retry(
        user.user_id, body.workflow_run_id, body.target_module, body.feedback,
        _opts(services, body.ai_config, token)), request)
    return json_response(response)


@post("/workflow/jump", status_code=200,
      dependencies={**USER, **request_body(JumpRequest)}, **answers(400, 404, 409, 413))
async def jump(request: Request[Any, Any, Any],
              user: CurrentUser) -> Response[WorkflowResponse]:
    services = services_of(request)
    body = await read_owned_body(request, user, JumpRequest)
    eng = services.eng()
    response = await execute(services, body.workflow_run_id, lambda token: eng.jump(
        user.user_id, body.workflow_run_id, body.target_step_id, body.target_module_name,
        _opts(services, body.ai_config, token)), request)
    return json_response(response)


@post("/workflow/jump-to-interaction", status_code=200,
      dependencies={**USER, **request_body(JumpToInteractionRequest)},
      **answers(400, 404, 409, 413))
async def jump_to_interaction(request: Request[Any, Any, Any],
                             user: CurrentUser) -> Response[WorkflowResponse]:
    services = services_of(request)
    body = await read_owned_body(request, user, JumpToInteractionRequest)
    eng = services.eng()
    response = await execute(services, body.workflow_run_id, lambda token: eng.jump_to_interaction(
        user.user_id, body.workflow_run_id, body.interaction_id,
        _opts(services, body.ai_config, token)), request)
    return json_response(response)


@post("/workflow/{workflow_run_id:str}/cancel", status_code=200, dependencies=OWNER,
      **answers(404))
async def cancel(request: Request[Any, Any, Any], user: CurrentUser,
                 workflow_run_id: FromPath[str]) -> CancelView:
    services = services_of(request)
    await owned_run(services, user, workflow_run_id)
    count = services.registry.cancel(workflow_run_id, "user_cancelled")
    return CancelView(message="Cancellation requested" if count else "No active execution found",
                      workflow_run_id=workflow_run_id, cancelled=count)


EXECUTION_ROUTES = [start, start_confirm, start_by_version, check, respond, retry, jump,
                    jump_to_interaction, cancel]
