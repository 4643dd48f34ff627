"""State and management routes (wire-api.md §6.4). Engine views run in the pool (WIRE-5)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, delete, get, post
from litestar.params import FromPath, FromQuery, QueryParameter

from engine import (
    DefinitionView,
    DeletedView,
    EventFilters,
    EventsView,
    GenerationsView,
    InteractionDataView,
    InteractionHistoryView,
    RunStatusView,
    StateView,
    WorkflowResponse,
)
from production_server.auth.identity import CurrentUser, services_of
from production_server.errors import bad_request
from production_server.executions import execute, json_response
from production_server.openapi import answers, bounds
from production_server.routes.common import OWNER, owned_run

MAX_EVENTS = 5000
CONTENT_TYPES = ("image", "video", "audio")


@get("/workflow/{workflow_run_id:str}/state", dependencies=OWNER, **answers(404))
async def state(request: Request[Any, Any, Any], user: CurrentUser,
                workflow_run_id: FromPath[str]) -> Response[StateView]:
    services = services_of(request)
    view = await services.pool.run(services.eng().get_state_view, user.user_id, workflow_run_id,
                                   f"/workflow/{workflow_run_id}")  # file links to our routes
    return json_response(view)


@get("/workflow/{workflow_run_id:str}/status", dependencies=OWNER, **answers(404))
async def status(request: Request[Any, Any, Any], user: CurrentUser,
                 workflow_run_id: FromPath[str]) -> Response[RunStatusView]:
    services = services_of(request)
    view = await services.pool.run(services.eng().get_status, user.user_id, workflow_run_id)
    return json_response(view)


@get("/workflow/{workflow_run_id:str}/events", dependencies=OWNER, **answers(400, 404))
async def events(request: Request[Any, Any, Any], user: CurrentUser, workflow_run_id: FromPath[str],
                 event_scope: Annotated[str, QueryParameter(
                     name="scope", schema_extra={"enum": ["lineage", "all"]})] = "lineage",
                 event_type: FromQuery[str | None] = None,
                 module_name: FromQuery[str | None] = None,
                 after_sequence: FromQuery[int | None] = None,
                 limit: Annotated[int, bounds(minimum=1)] = 500) -> Response[EventsView]:
    if event_scope not in ("lineage", "all"):
        raise bad_request("scope must be 'lineage' or 'all'", scope=event_scope)
    if limit < 1:
        raise bad_request("limit must be at least 1", limit=limit)
    filters = EventFilters(scope=event_scope, event_type=event_type,  # type: ignore[arg-type]
                           module_name=module_name, after_sequence=after_sequence,
                           limit=min(limit, MAX_EVENTS))
    services = services_of(request)
    view = await services.pool.run(services.eng().list_events, user.user_id, workflow_run_id,
                                   filters)
    return json_response(view)


@get("/workflow/{workflow_run_id:str}/interaction-history", dependencies=OWNER, **answers(404))
async def interaction_history(request: Request[Any, Any, Any], user: CurrentUser,
                              workflow_run_id: FromPath[str]) -> Response[InteractionHistoryView]:
    services = services_of(request)
    view = await services.pool.run(services.eng().get_interaction_history, user.user_id,
                                   workflow_run_id)
    return json_response(view)


@get("/workflow/{workflow_run_id:str}/interaction/{interaction_id:str}/data", dependencies=OWNER,
     **answers(404))
async def interaction_data(request: Request[Any, Any, Any], user: CurrentUser,
                           workflow_run_id: FromPath[str],
                           interaction_id: FromPath[str]) -> Response[InteractionDataView]:
    services = services_of(request)
    view = await services.pool.run(services.eng().get_interaction_data, user.user_id,
                                   workflow_run_id, interaction_id)
    return json_response(view)


@get("/workflow/{workflow_run_id:str}/interaction/{interaction_id:str}/generations",
     dependencies=OWNER, **answers(400, 404))
async def generations(request: Request[Any, Any, Any], user: CurrentUser,
                      workflow_run_id: FromPath[str], interaction_id: FromPath[str],
                      content_type: Annotated[str, bounds(True, enum=list(CONTENT_TYPES))] = "",
                      ) -> Response[GenerationsView]:
    if content_type not in CONTENT_TYPES:
        raise bad_request("content_type must be image, video or audio",
                          content_type=content_type)
    services = services_of(request)
    view = await services.pool.run(services.eng().list_generations, user.user_id,
                                   workflow_run_id, interaction_id, content_type)
    return json_response(view)


@get("/workflow/{workflow_run_id:str}/definition", dependencies=OWNER, **answers(404))
async def definition(request: Request[Any, Any, Any], user: CurrentUser,
                     workflow_run_id: FromPath[str]) -> DefinitionView:
    """The executed definition and, for an execution-group variant, its source (also under the
    web UI's names `version_id` and `raw_definition`)."""
    services = services_of(request)
    run = await owned_run(services, user, workflow_run_id)
    version = await services.reads.get_version(str(run.get("current_workflow_version_id"))) or {}
    parent_id = version.get("parent_workflow_version_id")
    source = await services.reads.get_version(str(parent_id)) if parent_id else None
    source_definition = source.get("resolved_workflow") if source else None
    return DefinitionView(
        workflow_run_id=workflow_run_id, workflow_version_id=version.get("workflow_version_id"),
        version_id=version.get("workflow_version_id"), definition=version.get("resolved_workflow"),
        source_workflow_version_id=source.get("workflow_version_id") if source else None,
        source_definition=source_definition, raw_definition=source_definition)


@delete("/workflow/{workflow_run_id:str}", status_code=200, dependencies=OWNER,
        **answers(404, 409))
async def delete_run(request: Request[Any, Any, Any], user: CurrentUser,
                     workflow_run_id: FromPath[str]) -> DeletedView:
    services = services_of(request)
    eng = services.eng()
    await execute(services, workflow_run_id,
                  lambda _token: eng.delete(user.user_id, workflow_run_id))
    return DeletedView(deleted=True, workflow_run_id=workflow_run_id)


@post("/workflow/{workflow_run_id:str}/reset", status_code=200, dependencies=OWNER,
      **answers(404, 409))
async def reset(request: Request[Any, Any, Any], user: CurrentUser,
                workflow_run_id: FromPath[str]) -> Response[WorkflowResponse]:
    services = services_of(request)
    eng = services.eng()
    response = await execute(services, workflow_run_id,
                             lambda _token: eng.reset(user.user_id, workflow_run_id))
    return json_response(response)


STATE_ROUTES = [state, status, events, interaction_history, interaction_data, generations,
                definition, delete_run, reset]
