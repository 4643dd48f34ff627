"""The virtual response shapes of issue 9: the editor's default (`virtual_run_id`, `virtual_db`,
`state` at the top) and Rev 3's behind `X-Virtual-Db-In: result`, the `virtual_run_id` alias,
`/workflow/resume/confirm` and `/workflow/media/preview`."""

from __future__ import annotations

from typing import Any, AsyncIterator

import pytest
from litestar.testing import AsyncTestClient

from tests.acceptance.virtual_support import REV3, SECRET, access_token, make_app, make_settings
from virtual_server.app import create_app
from virtual_server.settings import load_settings

PET = {"target_step_id": "user_input", "target_module_name": "select_pet_type"}
AESTHETIC = {"target_step_id": "user_input", "target_module_name": "select_aesthetic"}
AUTH = {"Authorization": "Bearer " + access_token()}


@pytest.fixture
async def client() -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(make_app()) as c:
        yield c


async def _post(client: AsyncTestClient[Any], path: str, body: dict[str, Any],
                rev3: bool = False) -> tuple[int, dict[str, Any]]:
    response = await client.post(path, json=body, headers={**AUTH, **(REV3 if rev3 else {})})
    return response.status_code, response.json()


async def test_default_and_rev3_shapes_carry_the_same_blob(client: AsyncTestClient[Any],
                                                           cuddle_workflow: dict[str, Any]) -> None:
    status, body = await _post(client, "/workflow/start",
                               {"workflow": cuddle_workflow, "virtual_db": None, **PET})
    assert status == 200 and body["status"] == "awaiting_input"
    assert body["virtual_run_id"] == body["workflow_run_id"]
    assert body["workflow_run_id"].startswith("virtual_")
    assert body["result"] is None and body["state"] == {}
    blob = body["virtual_db"]
    # a call that changes nothing returns the input blob byte for byte, in both shapes
    for rev3 in (False, True):
        status, again = await _post(client, "/workflow/start", {
            "workflow": cuddle_workflow, "virtual_db": blob, **PET}, rev3)
        assert status == 200
        if rev3:
            assert again["result"] == {"virtual_db": blob}
            assert not {"virtual_db", "virtual_run_id", "state"} & set(again)
        else:
            assert again["virtual_db"] == blob and again["result"] is None


async def test_virtual_run_id_is_an_alias(client: AsyncTestClient[Any],
                                          cuddle_workflow: dict[str, Any]) -> None:
    _, body = await _post(client, "/workflow/start",
                          {"workflow": cuddle_workflow, "virtual_db": None, **PET})
    run_id, blob = body["virtual_run_id"], body["virtual_db"]
    status, state = await _post(client, "/workflow/state",
                                {"virtual_db": blob, "virtual_run_id": run_id})
    assert status == 200 and state["workflow_run_id"] == run_id
    status, same = await _post(client, "/workflow/state", {
        "virtual_db": blob, "virtual_run_id": run_id, "workflow_run_id": run_id})
    assert status == 200
    status, error = await _post(client, "/workflow/state", {
        "virtual_db": blob, "virtual_run_id": run_id, "workflow_run_id": "virtual_other"})
    assert status == 400 and error["result"]["error_type"] == "bad_request"
    assert "different runs" in str(error["result"]["details"])
    status, missing = await _post(client, "/workflow/respond", {
        "workflow": cuddle_workflow, "virtual_db": blob, "virtual_run_id": "virtual_nope",
        "interaction_id": "x", "response": {}, **PET})
    assert status == 404 and missing["result"] == {
        "error_type": "not_found", "details": {"workflow_run_id": "virtual_nope"}}
    assert missing["virtual_db"] == blob and missing["state"] is None  # input blob kept (VS-5)
    status, missing = await _post(client, "/workflow/respond", {
        "workflow": cuddle_workflow, "virtual_db": blob, "virtual_run_id": "virtual_nope",
        "interaction_id": "x", "response": {}, **PET}, rev3=True)
    assert status == 404 and missing["result"]["virtual_db"] == blob


async def test_resume_confirm(client: AsyncTestClient[Any],
                              cuddle_workflow: dict[str, Any]) -> None:
    status, body = await _post(client, "/workflow/resume/confirm",
                               {"workflow": cuddle_workflow, **PET})
    assert status == 400 and "virtual_db" in str(body["result"]["details"])
    _, started = await _post(client, "/workflow/start",
                             {"workflow": cuddle_workflow, "virtual_db": None, **PET})
    iid = started["interaction_request"]["interaction_id"]
    _, answered = await _post(client, "/workflow/respond", {
        "workflow": cuddle_workflow, "virtual_db": started["virtual_db"], "interaction_id": iid,
        "response": {"selected_indices": [0]}, **PET})
    status, moved = await _post(client, "/workflow/resume/confirm", {
        "workflow": cuddle_workflow, "virtual_db": answered["virtual_db"], **AESTHETIC}, True)
    assert status == 200 and moved["status"] == "awaiting_input"
    assert moved["progress"]["current_module"] == "select_aesthetic"
    assert moved["workflow_run_id"] == started["workflow_run_id"]
    assert moved["result"]["virtual_db"] != answered["virtual_db"]
    other = {**cuddle_workflow, "workflow_id": "another"}
    status, wrong = await _post(client, "/workflow/resume/confirm", {
        "workflow": other, "virtual_db": answered["virtual_db"], **AESTHETIC})
    assert status == 400 and wrong["result"]["error_type"] == "invalid_virtual_db"


async def test_media_preview(client: AsyncTestClient[Any]) -> None:
    status, mock = await _post(client, "/workflow/media/preview", {
        "provider": "openai", "action_type": "txt2img", "params": {"num_images": 3}})
    assert status == 200 and mock["credits"]["num_images"] == 3
    assert mock["resolution"]["width"] == 1024
    status, body = await _post(client, "/workflow/media/preview", {
        "provider": "leonardo", "action_type": "txt2vid", "params": {}})
    assert status == 400 and body["result"]["error_type"] == "bad_request"
    assert (await client.post("/workflow/media/preview", json={})).status_code == 401


async def test_media_preview_live_needs_the_vendor_key() -> None:
    """`mock: false` uses the vendor's pricing, whose client needs the vendor's key."""
    app = create_app(make_settings(), providers=None)  # the provider set the server builds
    async with AsyncTestClient(app) as client:
        status, body = await _post(client, "/workflow/media/preview", {
            "provider": "openai", "action_type": "txt2img", "params": {}, "mock": False})
        assert status == 400 and body["result"]["error_type"] == "provider_unavailable"
    keyed = create_app(load_settings({"WFE_JWT_SECRET": SECRET,
                                      "OPENAI_API_KEY": "sk-preview-0123456789"}), providers=None)
    async with AsyncTestClient(keyed) as client:
        status, body = await _post(client, "/workflow/media/preview", {
            "provider": "openai", "action_type": "txt2img",
            "params": {"size": "1536x1024", "quality": "high"}, "mock": False})
        assert status == 200, body
        assert body["resolution"]["width"] == 1536 and body["credits"]["total_cost_usd"] > 0
