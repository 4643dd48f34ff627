"""`POST /workflow/start` and `POST /workflow/respond` (wire-api.md §5.2, §5.3)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post
from litestar.params import JSONBody

from engine.wire import VirtualRespondRequest, VirtualStartRequest, WorkflowResponse
from virtual_server.errors import json_response
from virtual_server.runtime import runtime


@post("/workflow/start", status_code=200, summary="Run a virtual workflow to a target module")
async def start(request: Request[Any, Any, Any], data: JSONBody[VirtualStartRequest]) -> Response[WorkflowResponse]:
    rt = runtime(request)
    response = await rt.run(rt.service.start, data, blob=data.virtual_db, request=request)
    return json_response(response)


@post("/workflow/respond", status_code=200, summary="Answer the pending interaction of a virtual run")
async def respond(request: Request[Any, Any, Any],
                  data: JSONBody[VirtualRespondRequest]) -> Response[WorkflowResponse]:
    rt = runtime(request)
    response = await rt.run(rt.service.respond, data, blob=data.virtual_db, request=request)
    return json_response(response)
