"""Issue 15 items 1, 2 and 8 over HTTP on both servers: hostile templates, demanding mock-data
schemas and mock LLM output schemas get typed errors, quickly, with bounded peak memory.

Both apps run in this process (Litestar's test client for the virtual server, the production
app on a real MongoDB wire-protocol server), so tracemalloc around a request measures the
server's own allocations. Each request is timed on a plain run and measured on a second one.
"""

from __future__ import annotations

import copy
import time
import tracemalloc
from typing import Any, Awaitable, Callable

from litestar.testing import AsyncTestClient

from tests.abuse_payloads import ISSUE_PAYLOADS, OWN_PAYLOADS
from tests.acceptance.production_client import production
from tests.acceptance.virtual_support import VirtualClient, make_app, make_settings

MB = 1024 * 1024
PEAK_LIMIT = 64 * MB
TIME_LIMIT_S = 3.0
HTTP_PAYLOADS = ISSUE_PAYLOADS + [
    "{{ 'a' * 10**9 }}", "{{ range(10**9)|list|length }}", "{{ (0).to_bytes(10**9, 'big') }}",
    "{{ '{:>999999999}'.format(1) }}", "{{ ([[0] * 1000] * 1000)|sum(start=[])|length }}",
    "{{ ([range(1000)|list] * 100000)|pprint|length }}", "{{ (2 ** 256) ** 256 }}",
    "{{ [1, 1e308 * 10] }}", "{{ (('f' * 1000000)|int(base=16)) // 7 }}",
    OWN_PAYLOADS[-4],  # a captured {% set %} block of 100000 megabyte chunks
]
FLATTEN = ("scene_generation", "flatten_keywords")


async def _measured(send: Callable[[int], Awaitable[Any]]) -> tuple[Any, float, int]:
    """(first answer, CPU seconds of the first request, tracemalloc peak of a second identical
    one). Both apps work in this process, so its CPU time is the request's cost, whatever else
    loads the machine (wall-clock time is not: see measured() in tests/abuse_payloads.py)."""
    started = time.process_time()
    first = await send(0)
    elapsed = time.process_time() - started
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        await send(1)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return first, elapsed, peak


def _with_payload(workflow: dict[str, Any], payload: str) -> dict[str, Any]:
    edited = copy.deepcopy(workflow)
    module = edited["steps"][0]["modules"][0]
    assert module["name"] == "select_pet_type"
    module["inputs"]["data"] = [payload]  # each item of a server-resolved list is evaluated
    return edited


def _llm_workflow(workflow: dict[str, Any], output_schema: dict[str, Any]) -> dict[str, Any]:
    """cuddle_crew cut down to its first api.llm module, fed a demanding output schema."""
    edited = copy.deepcopy(workflow)
    module = copy.deepcopy(edited["steps"][1]["modules"][2])
    assert module["module_id"] == "api.llm"
    module["inputs"]["output_schema"] = output_schema
    module["inputs"]["input"] = "Write a story."
    edited["steps"] = [{"step_id": "story", "name": "Story", "modules": [module]}]
    return edited


HUGE_OUTPUT = {"type": "object", "required": ["text"],
               "properties": {"text": {"type": "string", "minLength": 1_000_000_000}}}


def _failures(results: list[tuple[str, Any, float, int]],
              check: Callable[[Any], bool]) -> list[tuple[str, Any, float, int]]:
    return [r for r in results if not check(r[1]) or r[2] >= TIME_LIMIT_S or r[3] >= PEAK_LIMIT]


# ------------------------------------------------------------------ templates (items 1 and 8)

async def test_template_payloads_on_the_virtual_server(cuddle_workflow: dict[str, Any]) -> None:
    results = []
    async with AsyncTestClient(make_app()) as client:
        v = VirtualClient(client, cuddle_workflow)
        for payload in HTTP_PAYLOADS:
            workflow = _with_payload(cuddle_workflow, payload)
            (status, body), elapsed, peak = await _measured(
                lambda _: v.start(*FLATTEN, workflow=workflow))
            results.append((payload, (status, body["status"], body["result"]["error_type"],
                                      body["message"]), elapsed, peak))
        status, healthy = await v.start(*FLATTEN)  # the server keeps serving normal runs
        assert status == 200 and healthy["status"] == "awaiting_input"
    bad = _failures(results, lambda r: r[:3] == (200, "error", "resolution_failed") and r[3])
    assert bad == [], bad


async def test_template_payloads_on_the_production_server(cuddle_workflow: dict[str, Any],
                                                          secantus_uri: str) -> None:
    results = []
    async with production(secantus_uri) as prod:
        for index, payload in enumerate(HTTP_PAYLOADS):
            workflow = _with_payload(cuddle_workflow, payload)

            async def send(attempt: int) -> Any:
                project = "abuse-" + str(index) + "-" + str(attempt)
                # /confirm: every payload is another version of the same template (issue 10
                # asks for confirmation against the template's latest version)
                return await prod.post("/workflow/start/confirm", {
                    "project_name": project, "workflow_content": workflow, "mock": True})

            response, elapsed, peak = await _measured(send)
            body = response.json()
            results.append((payload, (response.status_code, body.get("status"),
                                      (body.get("result") or {}).get("error_type"),
                                      body.get("message")), elapsed, peak))
        # confirm: the payload runs stored other versions of the same template (issue 10 asks
        # for confirmation against the template's latest version)
        healthy = await prod.ok("POST", "/workflow/start/confirm", {
            "project_name": "after-abuse", "workflow_content": cuddle_workflow, "mock": True})
        assert healthy["status"] == "awaiting_input"
    bad = _failures(results, lambda r: r[:3] == (200, "error", "resolution_failed") and r[3])
    assert bad == [], bad


async def test_non_finite_result_is_named_not_stored_as_null(cuddle_workflow: dict[str, Any],
                                                             secantus_uri: str) -> None:
    """[issue 15 item 8] `{{ 1e308*10 }}` is a typed error with its reason on both servers."""
    workflow = _with_payload(cuddle_workflow, "{{ 1e308*10 }}")
    async with AsyncTestClient(make_app()) as client:
        status, body = await VirtualClient(client, cuddle_workflow).start(*FLATTEN,
                                                                          workflow=workflow)
    assert status == 200 and body["result"]["error_type"] == "resolution_failed"
    assert "non-finite number (inf)" in body["message"]
    async with production(secantus_uri) as prod:
        response = await prod.post("/workflow/start", {
            "project_name": "inf", "workflow_content": workflow, "mock": True})
        body = response.json()
        assert response.status_code == 200 and body["result"]["error_type"] == "resolution_failed"
        assert "non-finite number (inf)" in body["message"]
        kinds = [event["event_type"] for event in await prod.events(body["workflow_run_id"])]
        assert "interaction_requested" not in kinds and "module_completed" not in kinds, kinds


# ------------------------------------------------------------------ mock data (item 2)

DEMANDING_SCHEMAS: list[tuple[dict[str, Any], str, int]] = [
    ({"schema": {"type": "string", "minLength": 1_000_000_000}}, "mock_data_too_large", 1),
    ({"schema": {"type": "array", "minItems": 1_000_000_000}}, "mock_data_too_large", 1),
    ({"schema": {"type": "string", "minLength": 100_000}, "count": 100}, "mock_data_too_large", 0),
    ({"schema": {"type": "array", "minItems": 5000,
                 "items": {"type": "array", "minItems": 5000}}}, "mock_data_too_large", 0),
    ({"schema": {"type": "integer", "minimum": 10**30}}, "bad_request", 0),
    ({"interaction_request": {
        "interaction_id": "form_x", "interaction_type": "form_input", "form_defaults": [{}],
        "form_schema": {"type": "object", "properties": {
            "bio": {"type": "string", "minLength": 1_000_000_000}}}}},
     "mock_data_too_large", 1),
]


async def test_mock_data_refuses_demanding_schemas(cuddle_workflow: dict[str, Any]) -> None:
    results = []
    async with AsyncTestClient(make_app()) as client:
        v = VirtualClient(client, cuddle_workflow)
        for body, error_type, names_keyword in DEMANDING_SCHEMAS:
            (status, answer), elapsed, peak = await _measured(
                lambda _: v.post("/workflow/mock-data", body))
            result = answer["result"]
            ok = (status == 400 and result["error_type"] == error_type
                  and answer["message"].startswith("Cannot generate data for this schema: ")
                  and result["details"]["reason"] in answer["message"]
                  and (not names_keyword or result["details"]["keyword"] in answer["message"]))
            results.append((str(body)[:80], (ok, status, result), elapsed, peak))
        status, fine = await v.post("/workflow/mock-data", {"schema": {"type": "string",
                                                                       "minLength": 2000}})
        assert status == 200 and len(fine["data"][0]) >= 2000
    bad = _failures(results, lambda r: r[0])
    assert bad == [], bad


async def test_mock_data_budget_is_a_setting(cuddle_workflow: dict[str, Any]) -> None:
    async with AsyncTestClient(make_app(make_settings(mock_data_max_bytes=5000))) as client:
        v = VirtualClient(client, cuddle_workflow)
        status, answer = await v.post("/workflow/mock-data",
                                      {"schema": {"type": "string", "minLength": 6000}})
        assert status == 400 and answer["result"]["details"]["limit"] == 5000
        status, _ = await v.post("/workflow/mock-data",
                                 {"schema": {"type": "string", "minLength": 4000}})
        assert status == 200


async def test_mock_llm_output_schema_is_bounded_on_both_servers(cuddle_workflow: dict[str, Any],
                                                                 secantus_uri: str) -> None:
    """The mock provider generates structured output from the schema: a schema demanding a
    gigabyte is a typed module error within a second, not a 46-second, 2-GB answer."""
    workflow = _llm_workflow(cuddle_workflow, HUGE_OUTPUT)
    async with AsyncTestClient(make_app()) as client:
        v = VirtualClient(client, workflow)
        (status, body), elapsed, peak = await _measured(lambda _: v.start("story", "generate_scenes"))
    assert status == 200 and body["status"] == "error", body
    assert body["result"]["error_type"] == "execution_failed"
    assert "output tokens" in body["message"] and "minLength 1000000000" in body["message"]
    assert elapsed < TIME_LIMIT_S and peak < PEAK_LIMIT
    async with production(secantus_uri) as prod:
        started = time.process_time()
        response = await prod.post("/workflow/start", {
            "project_name": "llm", "workflow_content": workflow, "mock": True})
        assert time.process_time() - started < TIME_LIMIT_S
        body = response.json()
        assert response.status_code == 200 and body["status"] == "error", body
        assert body["result"]["error_type"] == "execution_failed"
        assert "output tokens" in body["message"]
