"""`POST /workflow/start`, `/respond` (wire-api.md §5.2, §5.3) and `/resume/confirm` (issue 9).

Each answers a `VirtualWorkflowResponse`, or the Rev 3 `WorkflowResponse` when the request
carries `X-Virtual-Db-In: result` (virtual_server/shapes.py); the `state` field is only computed
for the former.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post

from engine import (
    VirtualRespondRequest,
    VirtualResumeConfirmRequest,
    VirtualStartRequest,
    VirtualWorkflowResponse,
)
from virtual_server.bodies import Payload, RawBody, body_of
from virtual_server.errors import answer_response, raw_json_response
from virtual_server.openapi import answers
from virtual_server.runtime import runtime
from virtual_server.shapes import encoded, wants_rev3


@post("/workflow/start", status_code=200, summary="Run a virtual workflow to a target module",
      dependencies=body_of(VirtualStartRequest), **answers(404, 409, 413))
async def start(request: Request[Any, Any, Any],
                payload: Payload) -> Response[VirtualWorkflowResponse]:
    rt, rev3 = runtime(request), wants_rev3(request)
    if isinstance(payload, RawBody):
        return answer_response(*await rt.in_process("start", payload.raw, rev3, request))
    return raw_json_response(await rt.run(
        encoded(rt.service.start, rev3), payload, None, not rev3, blob=payload.virtual_db,
        request=request))


@post("/workflow/respond", status_code=200,
      summary="Answer the pending interaction of a virtual run",
      dependencies=body_of(VirtualRespondRequest), **answers(404, 409, 413))
async def respond(request: Request[Any, Any, Any],
                  payload: Payload,
                  ) -> Response[VirtualWorkflowResponse]:
    rt, rev3 = runtime(request), wants_rev3(request)
    if isinstance(payload, RawBody):
        return answer_response(*await rt.in_process("respond", payload.raw, rev3, request))
    return raw_json_response(await rt.run(
        encoded(rt.service.respond, rev3), payload, None, not rev3, blob=payload.virtual_db,
        request=request))


@post("/workflow/resume/confirm", status_code=200,
      summary="Continue the blob's run with the (possibly edited) workflow to a target",
      dependencies=body_of(VirtualResumeConfirmRequest), **answers(404, 409, 413))
async def resume_confirm(request: Request[Any, Any, Any],
                         payload: Payload
                         ) -> Response[VirtualWorkflowResponse]:
    """The reference editor's forward move: import the blob, store the workflow as a new version
    of the blob's run when it changed, continue from the run's position to the target. That is
    `/start` with a blob (VS-3, VS-4, ENG-42), so the same operation answers it."""
    rt, rev3 = runtime(request), wants_rev3(request)
    if isinstance(payload, RawBody):
        return answer_response(*await rt.in_process("resume/confirm", payload.raw, rev3,
                                                    request))
    return raw_json_response(await rt.run(
        encoded(rt.service.start, rev3), payload, None, not rev3, blob=payload.virtual_db,
        request=request))
