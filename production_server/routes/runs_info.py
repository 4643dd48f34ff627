"""Run summaries the web UI lists and shows (issue 10): `GET /workflows/all`,
`GET /workflow/{id}/status-display` and `GET /workflow/{id}/tokens`.

Rendering `status_display` needs the run's state, so summaries are built by the engine in the
pool (one pool operation per page); tokens are a plain read awaited on the loop.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from litestar import Request, get
from litestar.params import FromPath, FromQuery

from engine import RunsPage, RunSummary, TokensView, plain_tokens, token_totals
from production_server.auth.identity import CurrentUser, services_of
from production_server.errors import bad_request
from production_server.openapi import answers, bounds
from production_server.routes.common import OWNER, USER, owned_run

MAX_PAGE = 100


@get("/workflows/all", dependencies=USER, **answers(400))
async def all_runs(request: Request[Any, Any, Any], user: CurrentUser,
                   limit: Annotated[int, bounds(minimum=1, maximum=MAX_PAGE)] = 10,
                   offset: Annotated[int, bounds(minimum=0)] = 0,
                   updated_since_hours: Annotated[int | None, bounds(minimum=1)] = None,
                   include_mock: FromQuery[bool] = True) -> RunsPage:
    """The user's top-level runs (any status, mock ones marked), newest first, with
    `display_fields`/`layout` from `status_display`, token totals and the `total`."""
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise bad_request(f"limit must be 1..{MAX_PAGE} and offset at least 0",
                          limit=limit, offset=offset)
    if updated_since_hours is not None and updated_since_hours < 1:
        raise bad_request("updated_since_hours must be at least 1",
                          updated_since_hours=updated_since_hours)
    services = services_of(request)
    since = services.clock.now() - timedelta(hours=updated_since_hours) \
        if updated_since_hours is not None else None
    runs, total = await services.reads.page_runs(user.user_id, include_mock, since, limit, offset)
    summaries = await services.pool.run(services.eng().run_summaries, user.user_id,
                                        [str(r["workflow_run_id"]) for r in runs])
    return RunsPage(workflows=summaries, count=len(summaries), total=total)


@get("/workflow/{workflow_run_id:str}/status-display", dependencies=OWNER, **answers(404))
async def status_display(request: Request[Any, Any, Any], user: CurrentUser,
                         workflow_run_id: FromPath[str]) -> RunSummary:
    """The run's summary with its rendered `status_display` fields and layout."""
    services = services_of(request)
    return await services.pool.run(services.eng().run_summary,
                                   user.user_id, workflow_run_id)


@get("/workflow/{workflow_run_id:str}/tokens", dependencies=OWNER, **answers(404))
async def tokens(request: Request[Any, Any, Any], user: CurrentUser,
                 workflow_run_id: FromPath[str]) -> TokensView:
    """Every token-usage record of the run (live calls) and their totals."""
    services = services_of(request)
    await owned_run(services, user, workflow_run_id)
    records = await services.reads.list_token_usage(workflow_run_id)
    return TokensView(workflow_run_id=workflow_run_id, tokens=plain_tokens(records),
                      totals=token_totals(records))


RUNS_INFO_ROUTES = [all_runs, status_display, tokens]
