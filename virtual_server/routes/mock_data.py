"""`POST /workflow/mock-data` (§5.8): generation runs in the engine pool like all engine work."""

from __future__ import annotations

from functools import partial
from typing import Any

from litestar import Request, Response, post
from litestar.di import NamedDependency

from engine import MockDataRequest, MockDataResponse
from virtual_server.bodies import body_of
from virtual_server.errors import json_response
from virtual_server.mock_data import check_request
from virtual_server.mock_data import mock_data as generate
from virtual_server.openapi import answers
from virtual_server.runtime import runtime


@post("/workflow/mock-data", status_code=200, summary="Generate schema-valid test data",
      dependencies=body_of(MockDataRequest), **answers(413))
async def mock_data(request: Request[Any, Any, Any],
                    payload: NamedDependency[MockDataRequest]) -> Response[MockDataResponse]:
    rt = runtime(request)
    check_request(payload)
    svc = rt.service
    work = partial(generate, payload, ids=svc.ids, providers=svc.providers,
                   ai_config=dict(rt.settings.default_ai_config),
                   provider_keys=dict(rt.settings.provider_keys),
                   max_bytes=rt.settings.mock_data_max_bytes)
    return json_response(MockDataResponse(**await rt.run(work)))
