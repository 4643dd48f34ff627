"""The web UI's state reads (issue 10): `GET /workflow/{id}/state/v2` and the state streams
`/state/v2/stream` (a `state_snapshot` whenever the state changes) and `/state/stream`
(`state_snapshot`, then `state_update {changed_keys, updates}` diffs of the flat state).

`state/v2`'s `state` is `{steps, state_mapped, files}` of the engine's state view
(engine/state_tree.py), with file and media links to this server's routes.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get
from litestar.params import FromPath

from engine import StateV2View, StateView
from production_server.auth.identity import CurrentUser, User, services_of
from production_server.openapi import answers, bounds, streams
from production_server.routes.common import OWNER
from production_server.services import Services
from production_server.sse import SSEStream
from production_server.state_stream import MAX_POLL_S, MIN_POLL_S, open_state_stream

POLL = Annotated[float, bounds(minimum=MIN_POLL_S, maximum=MAX_POLL_S)]


def state_v2_of(view: StateView) -> dict[str, Any]:
    return {"steps": view.steps, "state_mapped": view.state_mapped, "files": view.files}


async def state_view(services: Services, user: User, run_id: str) -> StateView:
    """The engine's state view with file links to this server (`/workflow/<id>/files/...`)."""
    return await services.pool.run(services.eng().get_state_view,
                                   user.user_id, run_id, f"/workflow/{run_id}")


@get("/workflow/{workflow_run_id:str}/state/v2", dependencies=OWNER, **answers(404))
async def state_v2(request: Request[Any, Any, Any], user: CurrentUser,
                   workflow_run_id: FromPath[str]) -> StateV2View:
    """`{workflow_run_id, status, state: {steps, state_mapped, files}}`."""
    view = await state_view(services_of(request), user, workflow_run_id)
    return StateV2View(workflow_run_id=workflow_run_id, status=view.status,
                       state=state_v2_of(view))


@get("/workflow/{workflow_run_id:str}/state/v2/stream", dependencies=OWNER,
     **streams(400, 404, 429, frames="`state_snapshot` whenever the state changes"))
async def state_v2_stream(request: Request[Any, Any, Any], user: CurrentUser,
                          workflow_run_id: FromPath[str],
                          poll_interval: POLL = 1.0) -> SSEStream:
    """SSE: `state_snapshot {workflow_run_id, state}` now and after every change."""
    services = services_of(request)

    async def snapshot() -> dict[str, Any]:
        return state_v2_of(await state_view(services, user, workflow_run_id))

    return await open_state_stream(services, user, workflow_run_id, snapshot, poll_interval,
                                   diffs=False)


@get("/workflow/{workflow_run_id:str}/state/stream", dependencies=OWNER,
     **streams(400, 404, 429, frames="`state_snapshot`, then `state_update` diffs"))
async def state_stream(request: Request[Any, Any, Any], user: CurrentUser,
                       workflow_run_id: FromPath[str],
                       poll_interval: POLL = 1.0) -> SSEStream:
    """SSE: `state_snapshot {state}` (the flat state), then `state_update {changed_keys,
    updates}` with the top-level keys that changed."""
    services = services_of(request)

    async def snapshot() -> dict[str, Any]:
        return (await state_view(services, user, workflow_run_id)).state

    return await open_state_stream(services, user, workflow_run_id, snapshot, poll_interval,
                                   diffs=True)


STATE_STREAM_ROUTES = [state_v2, state_v2_stream, state_stream]
