"""ACC-PARITY-1: script A through the production app and the virtual app gives the same final
state, the same lineage event types and the same module outputs after normalisation (§4).

Both apps run in-process over HTTP with `FixedClock(tick=0)`; the production side uses the
secantusdb server, the virtual side its blobs.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from litestar.testing import AsyncTestClient

from db.blob import blob_json, decode_json
from engine.clock import FixedClock
from engine.ids import SequentialIds
from production_server.auth.tokens import TokenService
from tests.acceptance.production_client import SECRET, T0, parse_sse, production
from tests.acceptance.script_a import ANSWERS, EVENT_SEQUENCE_A, IMAGE_PARAMS, image_answer
from tests.conftest import mock_only_providers

ID_RE = re.compile(r"^(wf|virtual|wf_sub|virtual_sub|br|evt|ver|tpl|wff|cgm|gc|mock-cgm|mock-gc|"
                   r"select|text_input|pause|form|file_input|file_download|media)_[0-9a-f]{32}$"
                   r"|^[A-Za-z0-9_]+_[0-9a-f]{32}$")
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$")
GENERATED_RE = re.compile(r"Generated: [^\n]*")


def normalise(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, str):
        if ID_RE.match(value):
            return "<id>"
        if TS_RE.match(value):
            return "<ts>"
        return GENERATED_RE.sub("Generated: <ts>", value)
    return value


async def _production_walk(uri: str, workflow: dict[str, Any]) -> tuple[list[str], dict[str, Any],
                                                                         list[Any]]:
    async with production(uri, users=("alice",), tick=timedelta(0)) as prod:
        r = await prod.start(workflow)
        run = r["workflow_run_id"]
        final = await prod.answer_script(run, r)
        assert final["status"] == "completed"
        events = await prod.events(run)
        state = await prod.state(run)
    outputs = [e["data"]["outputs"] for e in events if e["event_type"] == "module_completed"]
    return [e["event_type"] for e in events], state, outputs


async def _virtual_walk(workflow: dict[str, Any]) -> tuple[list[str], dict[str, Any], list[Any],
                                                           dict[str, Any]]:
    from virtual_server.app import create_app
    from virtual_server.settings import load_settings

    settings = load_settings({"WFE_JWT_SECRET": SECRET, "WFE_VIRTUAL_AUTH_REQUIRED": "true"})
    kwargs: dict[str, Any] = {}
    try:  # the virtual server's default blob store; fall back while it is being written
        import db.fast_store  # noqa: F401
    except ImportError:
        kwargs["store_kind"] = "mongomock"
    app = create_app(settings, clock=FixedClock(T0, tick=timedelta(0)), ids=SequentialIds(),
                     providers=mock_only_providers(), **kwargs)
    token = TokenService(SECRET, 3600, 3600).issue_access("usr_parity")
    headers = {"Authorization": "Bearer " + token, "X-Virtual-Db-In": "result"}  # Rev 3 shape
    target = {"target_step_id": "workflow_summary", "target_module_name": "write_summary_file"}
    async with AsyncTestClient(app=app, base_url="http://virtual.local") as client:
        r = (await client.post("/workflow/start", headers=headers,
                               json={"workflow": workflow, "virtual_db": None, **target})).json()
        blob = r["result"]["virtual_db"]
        while r["status"] == "awaiting_input":
            module = r["progress"]["current_module"]
            iid = r["interaction_request"]["interaction_id"]
            if module == "generate_and_select_images_v2":
                stream = await client.post("/workflow/sub-action", headers=headers, json={
                    "workflow": workflow, "virtual_db": blob, "interaction_id": iid,
                    "sub_action_id": "image_generation", "params": IMAGE_PARAMS})
                frames = parse_sse(stream.text, {"complete", "error", "cancelled"})
                assert frames[-1][0] == "complete", frames[-1]
                blob = frames[-1][1]["virtual_db"]
                answer = image_answer(frames[-1][1]["sub_action_result"])
            else:
                answer = ANSWERS[module]
            response = await client.post("/workflow/respond", headers=headers, json={
                "workflow": workflow, "virtual_db": blob, "interaction_id": iid,
                "response": answer, **target})
            assert response.status_code == 200, response.text
            r = response.json()
            blob = r["result"]["virtual_db"]
        assert r["status"] == "completed", r
        assert r["result"]["workflow_completed"] is True
        state = (await client.post("/workflow/state", headers=headers,
                                   json={"virtual_db": blob})).json()["state"]
    collections = decode_json(blob_json(blob))
    run = next(x for x in collections["workflow_runs"] if x.get("parent_workflow_run_id") is None)
    events = sorted((e for e in collections["events"]
                     if e["workflow_run_id"] == run["workflow_run_id"]),
                    key=lambda e: e["sequence"])
    outputs = [e["data"]["outputs"] for e in events if e["event_type"] == "module_completed"]
    return [e["event_type"] for e in events], state, outputs, r["result"]["module_outputs"]


async def test_parity_script_a(secantus_uri: str, cuddle_workflow: dict[str, Any]) -> None:
    """[ACC-PARITY-1] / [VS-9]."""
    p_types, p_state, p_outputs = await _production_walk(secantus_uri, cuddle_workflow)
    v_types, v_state, v_outputs, v_last = await _virtual_walk(cuddle_workflow)
    assert p_types == v_types == EVENT_SEQUENCE_A
    assert normalise(p_state) == normalise(v_state)
    assert len(p_outputs) == len(v_outputs)
    for p_out, v_out in zip(p_outputs, v_outputs):
        assert normalise(p_out) == normalise(v_out)
    assert normalise(v_last) == normalise(p_outputs[-1])
    summary_p = GENERATED_RE.sub("", p_state["workflow_summary_text"])
    summary_v = GENERATED_RE.sub("", v_state["workflow_summary_text"])
    assert summary_p == summary_v
