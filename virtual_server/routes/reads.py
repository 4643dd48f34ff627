"""Read routes on a blob: `/workflow/state`, `/interaction-history`, `/generations` (§5.5–§5.7)
and `/events` (the run's events, as production's events route; issue 14).

They decode the blob in the engine pool like every other engine operation (WIRE-5) and never
return a blob: reading cannot change it.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post

from engine import (
    EventsView,
    GenerationsView,
    InteractionHistoryView,
    StateView,
    VirtualEventsRequest,
    VirtualGenerationsRequest,
    VirtualReadRequest,
)
from virtual_server.bodies import Payload, RawBody, body_of
from virtual_server.errors import answer_response, raw_json_response
from virtual_server.openapi import answers
from virtual_server.runtime import Runtime, runtime
from virtual_server.shapes import encoded, wants_rev3


async def offloaded(rt: Runtime, route: str, payload: RawBody,
                    request: Request[Any, Any, Any]) -> Response[Any]:
    """The read answered by an engine process (errors in the shape the client asked for)."""
    return answer_response(*await rt.in_process(route, payload.raw, wants_rev3(request),
                                                request))


@post("/workflow/state", status_code=200, summary="State view of the run in a blob",
      dependencies=body_of(VirtualReadRequest), **answers(404, 413))
async def state(request: Request[Any, Any, Any],
                payload: Payload) -> Response[StateView]:
    rt = runtime(request)
    if isinstance(payload, RawBody):
        return await offloaded(rt, "state", payload, request)
    return raw_json_response(await rt.run(encoded(rt.service.read), payload, "state"))


@post("/workflow/interaction-history", status_code=200,
      summary="Interaction history of the run in a blob",
      dependencies=body_of(VirtualReadRequest), **answers(404, 413))
async def interaction_history(request: Request[Any, Any, Any],
                              payload: Payload,
                              ) -> Response[InteractionHistoryView]:
    rt = runtime(request)
    if isinstance(payload, RawBody):
        return await offloaded(rt, "interaction-history", payload, request)
    return raw_json_response(await rt.run(encoded(rt.service.read), payload, "history"))


@post("/workflow/generations", status_code=200,
      summary="Completed generations of an interaction in a blob",
      dependencies=body_of(VirtualGenerationsRequest), **answers(404, 413))
async def generations(request: Request[Any, Any, Any],
                      payload: Payload,
                      ) -> Response[GenerationsView]:
    rt = runtime(request)
    if isinstance(payload, RawBody):
        return await offloaded(rt, "generations", payload, request)
    return raw_json_response(await rt.run(encoded(rt.service.read), payload, "generations"))


@post("/workflow/events", status_code=200, summary="Events of the run in a blob",
      dependencies=body_of(VirtualEventsRequest), **answers(404, 413))
async def events(request: Request[Any, Any, Any],
                 payload: Payload) -> Response[EventsView]:
    rt = runtime(request)
    if isinstance(payload, RawBody):
        return await offloaded(rt, "events", payload, request)
    return raw_json_response(await rt.run(encoded(rt.service.read), payload, "events"))
