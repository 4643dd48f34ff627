"""WIRE-8: hostile bodies on every virtual route give a 4xx or a 200 execution error, never 500."""

from __future__ import annotations

import base64
import copy
import gzip
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import AsyncTestClient

from engine.upload import load_workflow_folder
from tests.acceptance.virtual_support import access_token, make_app, make_settings
from tests.conftest import CUDDLE_DIR

HEADERS = {"Authorization": "Bearer " + access_token(), "Content-Type": "application/json"}
ROUTES = ["/workflow/start", "/workflow/respond", "/workflow/sub-action", "/workflow/state",
          "/workflow/interaction-history", "/workflow/generations", "/workflow/events",
          "/workflow/mock-data"]
WORKFLOW = load_workflow_folder(CUDDLE_DIR, "workflow_v3.json")


def blob_of(value: Any) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.b64encode(gzip.compress(raw)).decode()


def top(collections: Any) -> dict[str, Any]:
    return {"format": "workflow-engine-virtual-db", "version": 1, "collections": collections}


def hostile_workflow(text: str) -> dict[str, Any]:
    wf = copy.deepcopy(WORKFLOW)
    wf["steps"][0]["modules"][0]["inputs"]["prompt"] = text
    return wf


HOSTILE_BLOBS: list[Any] = [
    "", "====", "A" * 10, "not base64!!", blob_of(b"\x00\x01"), blob_of(b"[]"), blob_of({}),
    blob_of(top([])), blob_of(top({"events": {}})), blob_of(top({"events": [1, 2]})),
    blob_of(top({"secrets": []})), blob_of({**top({}), "version": 2}),
    blob_of(top({"events": [{"$bad": 1}]})),
    blob_of(top({"users": [{"user_id": "u", "k\u0000": 1}]})),
    blob_of(top({"users": [{"user_id": "u", "when": {"$date": "yesterday"}}]})),
    blob_of(top({"users": [{"user_id": "u", "x": {"$esc": 5}}]})),
    blob_of(top({"users": [{"user_id": "u", "deep": json.loads("[" * 150 + "]" * 150)}]})),
    blob_of(top({"workflow_runs": [{"workflow_run_id": "r"}]})),
    blob_of(top({"events": [{"event_id": "e", "workflow_run_id": "nobody", "branch_id": "b",
                             "sequence": 1, "workflow_version_id": None, "event_type": "x",
                             "timestamp": {"$date": "2026-01-01T00:00:00.000Z"},
                             "provenance": "mock", "data": {}}]})),
    blob_of(top({"users": [{"user_id": "u"}, {"user_id": "u"}]})),
]

FIXED_BODIES: list[bytes] = [
    b"", b"null", b"[]", b"{", b'"str"', b"1e999999", b'{"workflow": []}',
    b"[" * 10000 + b"]" * 10000, b'{"a":' * 5000 + b"1" + b"}" * 5000,
    json.dumps({"workflow": WORKFLOW, "virtual_db": None, "target_step_id": "user_input",
                "target_module_name": "select_pet_type", "auto_respond": "yes"}).encode(),
    json.dumps({"schema": {"$ref": "#"}, "count": 3}).encode(),
    json.dumps({"schema": {"type": "array", "minItems": 10 ** 9, "items": {"type": "string"}}}).encode(),
    json.dumps({"schema": {"type": "string", "pattern": "(a+)+$"}, "count": 100}).encode(),
    json.dumps({"interaction_request": {"interaction_id": "x", "interaction_type": "media_generation",
                                        "display_data": {"data": [], "retryable": 5}}}).encode(),
]
for text in ("{{ ''.__class__.__mro__ }}", "{% for i in range(10**9) %}x{% endfor %}",
             "{{ state.x.__class__ }}", "{{ 9**9**9 }}", "{{" * 1000):
    FIXED_BODIES.append(json.dumps({"workflow": hostile_workflow(text), "virtual_db": None,
                                    "target_step_id": "user_input",
                                    "target_module_name": "select_pet_type"}).encode())
FIXED_BODIES.append(json.dumps({"workflow": {"workflow_id": "w", "steps": "x"}, "virtual_db": None,
                                "target_step_id": "a", "target_module_name": "b"}).encode())
for blob in HOSTILE_BLOBS:
    FIXED_BODIES.append(json.dumps({
        "workflow": WORKFLOW, "virtual_db": blob, "target_step_id": "user_input",
        "target_module_name": "select_pet_type", "interaction_id": "select_1", "response": {},
        "sub_action_id": "regenerate_scenes", "content_type": "image"}).encode())


def check(response: Any) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:300])
    body = response.json()
    if response.status_code >= 400 or (isinstance(body, dict) and body.get("status") == "error"):
        assert body["status"] == "error" and "error_type" in body["result"]


@pytest.fixture(scope="module")
def app() -> Any:
    return make_app(make_settings(max_body_bytes=2_000_000, template_max_ms=300))


@pytest.mark.parametrize("route", ROUTES)
async def test_wire8_fixed_hostile_corpus(app: Any, route: str) -> None:
    """[WIRE-8][WIRE-3][BLOB-6][SEC] Every corpus body on every route: never a 500."""
    async with AsyncTestClient(app) as client:
        for body in FIXED_BODIES:
            response = await client.post(route, content=body, headers=HEADERS)
            if route == "/workflow/sub-action" and response.status_code == 200 \
                    and response.headers["content-type"].startswith("text/event-stream"):
                assert "event: complete" in response.text or "event: error" in response.text
                continue
            check(response)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children,
                                                                      max_size=4),
    max_leaves=20)
FIELDS = ["workflow", "virtual_db", "target_step_id", "target_module_name", "interaction_id",
          "response", "sub_action_id", "params", "schema", "interaction_request", "count",
          "seed", "mode", "auto_respond", "mock", "ai_config", "content_type", "workflow_run_id"]


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(route=st.sampled_from(ROUTES),
       body=st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6))
async def test_wire8_generated_bodies(route: str, body: dict[str, Any]) -> None:
    """[WIRE-8] Random JSON in every field of every route: a 4xx or an execution result."""
    app = make_app(make_settings(template_max_ms=300))
    async with AsyncTestClient(app) as client:
        response = await client.post(route, json=body, headers=HEADERS)
        if response.headers["content-type"].startswith("text/event-stream"):
            return
        check(response)
