"""Read routes on a blob: `/workflow/state`, `/interaction-history`, `/generations` (§5.5–§5.7)
and `/events` (the run's events, as production's events route; issue 14).

They decode the blob in the engine pool like every other engine operation (WIRE-5) and never
return a blob: reading cannot change it.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post
from litestar.params import JSONBody

from engine.wire import (
    EventsView,
    GenerationsView,
    InteractionHistoryView,
    StateView,
    VirtualEventsRequest,
    VirtualGenerationsRequest,
    VirtualReadRequest,
)
from virtual_server.errors import raw_json_response
from virtual_server.runtime import runtime
from virtual_server.shapes import encoded


@post("/workflow/state", status_code=200, summary="State view of the run in a blob")
async def state(request: Request[Any, Any, Any], data: JSONBody[VirtualReadRequest]) -> Response[StateView]:
    rt = runtime(request)
    return raw_json_response(await rt.run(encoded(rt.service.read), data, "state"))


@post("/workflow/interaction-history", status_code=200,
      summary="Interaction history of the run in a blob")
async def interaction_history(request: Request[Any, Any, Any],
                              data: JSONBody[VirtualReadRequest]) -> Response[InteractionHistoryView]:
    rt = runtime(request)
    return raw_json_response(await rt.run(encoded(rt.service.read), data, "history"))


@post("/workflow/generations", status_code=200,
      summary="Completed generations of an interaction in a blob")
async def generations(request: Request[Any, Any, Any],
                      data: JSONBody[VirtualGenerationsRequest]) -> Response[GenerationsView]:
    rt = runtime(request)
    return raw_json_response(await rt.run(encoded(rt.service.read), data, "generations"))


@post("/workflow/events", status_code=200, summary="Events of the run in a blob")
async def events(request: Request[Any, Any, Any],
                 data: JSONBody[VirtualEventsRequest]) -> Response[EventsView]:
    rt = runtime(request)
    return raw_json_response(await rt.run(encoded(rt.service.read), data, "events"))
