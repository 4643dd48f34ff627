"""ACC-V7 (blob errors), ACC-V8 (execution errors and validation), VS-7 and VS-10."""

from __future__ import annotations

import base64
import copy
import gzip
import io
import json
import time
from typing import Any

from litestar.testing import AsyncTestClient

from tests.acceptance.virtual_support import (  # noqa: F401
    ANSWERS,
    VirtualClient,
    decode_blob,
    make_app,
    make_settings,
    vclient,
)

FLATTEN = ("scene_generation", "flatten_keywords")
IMAGES = ("image_prompts", "generate_and_select_images_v2")
STEP_IDS = ["user_input", "scene_generation", "image_prompts", "image_analysis",
            "video_generation", "duration_selection", "music", "text_overlays", "titles_social",
            "workflow_summary"]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def assert_invalid(status: int, body: dict[str, Any], code: int = 400,
                   error_type: str = "invalid_virtual_db") -> None:
    assert status == code, body
    assert body["status"] == "error" and body["workflow_run_id"] == ""
    assert body["result"]["error_type"] == error_type
    assert body["result"]["virtual_db"] is None
    assert body["error"] == body["message"]


async def test_acc_v7_1_not_base64(vclient: VirtualClient) -> None:
    """[ACC-V7-1][WIRE-7] Not base64 → 400 WorkflowResponse-shaped, virtual_db null."""
    status, body = await vclient.start(*FLATTEN, "not base64!!")
    assert_invalid(status, body)


async def test_acc_v7_2_bad_formats(vclient: VirtualClient) -> None:
    """[ACC-V7-2][BLOB-3][BLOB-5][BLOB-6] Wrong magic, `{}`, trailing bytes, duplicate sequence."""
    status, body = await vclient.start(*FLATTEN, b64(b"PK\x03\x04 not gzip"))
    assert_invalid(status, body)
    assert body["error"] == "unrecognised blob format"
    status, body = await vclient.start(*FLATTEN, b64(gzip.compress(b"{}", mtime=0)))
    assert_invalid(status, body)
    status, body = await vclient.start(*FLATTEN, b64(gzip.compress(b"{}", mtime=0) + b"junk"))
    assert_invalid(status, body)
    status, good = await vclient.start(*FLATTEN)
    doc = decode_blob(good["result"]["virtual_db"])
    events = doc["collections"]["events"]
    events.append(dict(events[-1], event_id="evt_" + "f" * 32))
    status, body = await vclient.start(*FLATTEN, b64(gzip.compress(json.dumps(doc).encode())))
    assert_invalid(status, body)
    assert body["result"]["details"]["reason"] in ("duplicate_key", "bad_sequences")


def _zeros_blob(size: int) -> str:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz:
        chunk = b"\0" * (1 << 20)
        for _ in range(size // len(chunk)):
            gz.write(chunk)
    return b64(buffer.getvalue())


async def test_acc_v7_3_decompression_and_encoded_limits(cuddle_workflow: dict[str, Any]) -> None:
    """[ACC-V7-3][BLOB-4][BLOB-5] Over 1 MiB inflated → 413 quickly; over-long text → 413."""
    settings = make_settings(db_max_decompressed_bytes=1 << 20, db_max_encoded_bytes=1 << 20)
    async with AsyncTestClient(make_app(settings)) as client:
        vc = VirtualClient(client, cuddle_workflow)
        bomb = _zeros_blob(64 << 20)
        started = time.process_time()  # CPU time: the work done, whatever the machine's load
        status, body = await vc.start(*FLATTEN, bomb)
        assert time.process_time() - started < 2.0
        assert_invalid(status, body, 413, "virtual_db_too_large")
        status, body = await vc.start(*FLATTEN, "A" * ((1 << 20) + 4))
        assert_invalid(status, body, 413, "virtual_db_too_large")
        assert body["result"]["details"] == {"encoded_bytes": (1 << 20) + 4, "limit": 1 << 20}


async def test_acc_v7_4_blob_never_holds_the_api_key(vclient: VirtualClient) -> None:
    """[ACC-V7-4][BLOB-9][ENG-10] An ai_config api_key never reaches the blob."""
    secret = "sk-test-SECRETSECRETSECRET"
    status, body = await vclient.start(*FLATTEN, ai_config={"provider": "openai", "api_key": secret},
                                       auto_respond=True)
    assert status == 200 and body["status"] == "completed"
    raw = gzip.decompress(base64.b64decode(body["result"]["virtual_db"]))
    assert secret.encode() not in raw and b"SECRETSECRET" not in raw


async def test_vs_7_export_over_the_limit_returns_the_input(cuddle_workflow: dict[str, Any]) -> None:
    """[VS-7] An export over the encoded limit → 413 {encoded_bytes, limit}, input blob kept."""
    async with AsyncTestClient(make_app(make_settings(db_max_encoded_bytes=2000))) as client:
        vc = VirtualClient(client, cuddle_workflow)
        status, body = await vc.start(*FLATTEN)
        assert status == 413 and body["result"]["error_type"] == "virtual_db_too_large"
        assert body["result"]["details"]["limit"] == 2000
        assert body["result"]["details"]["encoded_bytes"] > 2000
        assert body["result"]["virtual_db"] is None


async def test_acc_v8_1_invalid_targets(vclient: VirtualClient) -> None:
    """[ACC-V8-1][VS-4][VS-5] step_not_found without a blob; module_not_found keeps the blob."""
    status, body = await vclient.start("nope", "select_pet_type")
    assert status == 200 and body["status"] == "error"
    assert body["result"]["error_type"] == "step_not_found"
    assert body["result"]["details"]["available_steps"] == STEP_IDS
    assert body["result"]["virtual_db"] is None
    status, started = await vclient.start(*FLATTEN)
    blob = started["result"]["virtual_db"]
    status, body = await vclient.start("user_input", "nope", blob)
    assert status == 200 and body["result"]["error_type"] == "module_not_found"
    assert body["result"]["details"]["available_modules"] == ["select_pet_type", "select_aesthetic"]
    assert body["result"]["virtual_db"] == blob
    assert body["workflow_run_id"] == started["workflow_run_id"]


async def test_acc_v8_2_validation_failed_keeps_the_blob(vclient: VirtualClient) -> None:
    """[ACC-V8-2][ACC-P3-1] Media answer without a selection → validation_failed, input blob."""
    body = await vclient.drive(*IMAGES, {k: ANSWERS[k] for k in
                                         ("select_pet_type", "select_aesthetic", "select_scene")})
    blob = body["result"]["virtual_db"]
    status, failed = await vclient.respond(*IMAGES, blob,
                                           body["interaction_request"]["interaction_id"],
                                           {"action_id": "continue"})
    assert status == 200 and failed["status"] == "validation_failed"
    assert failed["validation_errors"] == [{
        "id": "require_image_selection", "field": "selected_content_id",
        "rule": "response_field_required", "message": "Please select an image before continuing",
        "severity": "error"}]
    assert failed["validation_warnings"] == []
    assert failed["result"]["virtual_db"] == blob


async def test_acc_v8_3_replay_and_conflict(vclient: VirtualClient) -> None:
    """[ACC-V8-3][VS-10][ENG-50] Replay → stored outcome + input blob; other answer → 409."""
    status, first = await vclient.start(*FLATTEN)
    iid = first["interaction_request"]["interaction_id"]
    status, answered = await vclient.respond(*FLATTEN, first["result"]["virtual_db"], iid,
                                             ANSWERS["select_pet_type"])
    blob = answered["result"]["virtual_db"]
    status, replay = await vclient.respond(*FLATTEN, blob, iid, ANSWERS["select_pet_type"])
    assert status == 200 and replay["result"]["virtual_db"] == blob
    stored = {k: v for k, v in answered.items() if k != "result"}
    assert {k: v for k, v in replay.items() if k != "result"} == stored
    status, conflict = await vclient.respond(*FLATTEN, blob, iid, {"selected_indices": [1]})
    assert status == 409 and conflict["status"] == "error"
    assert conflict["result"]["error_type"] == "interaction_already_answered"
    assert conflict["result"]["virtual_db"] == blob
    assert conflict["workflow_run_id"] == answered["workflow_run_id"]
    status, missing = await vclient.respond(*FLATTEN, blob, "select_" + "0" * 32,
                                            ANSWERS["select_pet_type"])
    assert status == 404 and missing["result"]["error_type"] == "interaction_not_found"


async def test_acc_v8_4_sandboxed_template_error(vclient: VirtualClient) -> None:
    """[ACC-V8-4][WIRE-8] A hostile template is a resolution_failed execution error (HTTP 200)."""
    workflow = copy.deepcopy(vclient.workflow)
    module = workflow["steps"][0]["modules"][0]
    assert module["name"] == "select_pet_type"
    module["inputs"]["data"] = "{{ state.x.__class__ }}"
    status, body = await vclient.start(*FLATTEN, workflow=workflow)
    assert status == 200 and body["status"] == "error"
    assert body["result"]["error_type"] == "resolution_failed"


async def test_unknown_run_id_in_blob_is_404(vclient: VirtualClient) -> None:
    """[VS-4] A workflow_run_id the blob does not hold → 404 not_found with the input blob."""
    status, body = await vclient.start(*FLATTEN)
    blob = body["result"]["virtual_db"]
    status, error = await vclient.start(*FLATTEN, blob, workflow_run_id="virtual_" + "0" * 32)
    assert status == 404 and error["result"]["error_type"] == "not_found"
    assert error["result"]["virtual_db"] == blob


async def test_invalid_blob_zlib_truncated(vclient: VirtualClient) -> None:
    """[BLOB-5] A truncated gzip stream is 400 invalid_virtual_db, never a 500."""
    data = gzip.compress(b'{"format": "workflow-engine-virtual-db"}', mtime=0)[:-6]
    status, body = await vclient.start(*FLATTEN, b64(data))
    assert_invalid(status, body)
