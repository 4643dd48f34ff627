"""The virtual server with `mock=false` against the loopback OpenAI fake: live LLM steps, a live
image generation stored by content hash and served by `GET /workflow/media/{sha256}.{ext}`,
listed by `/workflow/generations`, and the vision step reading the stored file."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
from litestar.testing import AsyncTestClient

from engine.clock import FixedClock
from engine.ids import SequentialIds
from tests.acceptance.virtual_support import ANSWERS, SECRET, VirtualClient, decode_blob
from tests.conftest import T0
from tests.fakes_http.vendor_sim import VendorSimulator
from virtual_server.app import create_app
from virtual_server.settings import load_settings

KEY = "sk-virtual-live-0123456789"
IMAGE_STEP = ("image_prompts", "generate_and_select_images_v2")
GENERATE = {"provider": "openai", "action_type": "txt2img", "prompt_id": "default",
            "params": {"prompt": "a corgi", "quality": "low"}, "source_data": {}}


@pytest.fixture
async def live(cuddle_workflow: dict[str, Any], tmp_path: Path
               ) -> AsyncIterator[tuple[VirtualClient, VendorSimulator, Path]]:
    sim = VendorSimulator().start()
    settings = load_settings({"WFE_JWT_SECRET": SECRET, "OPENAI_API_KEY": KEY,
                              "OPENAI_BASE_URL": sim.base_url + "/v1",
                              "WFE_MEDIA_BASE_PATH": str(tmp_path)})
    app = create_app(settings, clock=FixedClock(T0, tick=timedelta(milliseconds=1)),
                     ids=SequentialIds())
    try:
        async with AsyncTestClient(app) as client:
            yield VirtualClient(client, cuddle_workflow), sim, tmp_path
    finally:
        sim.close()


async def _to_image_step(vc: VirtualClient) -> dict[str, Any]:
    status, body = await vc.start(*IMAGE_STEP, mock=False)
    while body["status"] == "awaiting_input":
        request = body["interaction_request"]
        name = request["context"]["module_name"]
        if name == IMAGE_STEP[1]:
            return body
        status, body = await vc.respond(*IMAGE_STEP, body["result"]["virtual_db"],
                                        request["interaction_id"], ANSWERS[name], mock=False)
        assert status == 200, body
    raise AssertionError(body)


async def test_live_image_is_stored_served_listed_and_seen_by_the_vision_step(
        live: tuple[VirtualClient, VendorSimulator, Path]) -> None:
    vc, sim, root = live
    body = await _to_image_step(vc)
    assert sim.seen("/v1/responses"), "the scene and prompt steps ran live"
    iid = body["interaction_request"]["interaction_id"]
    frames = await vc.sub_action(body["result"]["virtual_db"], iid, "image_generation", GENERATE,
                                 mock=False)
    assert frames[-1].event == "complete", frames[-1].data
    result = frames[-1].data["sub_action_result"]
    blob = frames[-1].data["virtual_db"]
    (image,) = sim.images
    digest = hashlib.sha256(image).hexdigest()
    assert result["urls"] == [f"/workflow/media/{digest}.png"] and result["mock"] is False
    assert (root / "generated" / digest[:2] / f"{digest}.png").read_bytes() == image

    served = await vc.http.get(result["urls"][0], headers=vc.headers)
    assert served.status_code == 200 and served.content == image
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert (await vc.http.get(result["urls"][0])).status_code == 401
    for name in (f"{digest[:-1]}x.png", "../../etc/passwd", f"{digest}.jpg"):
        assert (await vc.http.get(f"/workflow/media/{name}", headers=vc.headers)).status_code \
            == 404, name

    status, listed = await vc.post("/workflow/generations", {
        "virtual_db": blob, "interaction_id": iid, "content_type": "image"})
    assert status == 200
    assert [i["url"] for g in listed["generations"] for i in g["content_items"]] == result["urls"]
    assert "base64" not in str(decode_blob(blob))

    answer = {"action_id": "continue", "selected_content_id": result["content_ids"][0],
              "generations": {"prompts.openai": [result]}}
    status, after = await vc.respond("video_generation", "select_motion_elements", blob, iid,
                                     answer, mock=False)
    assert status == 200 and after["status"] == "awaiting_input", after
    encoded = base64.b64encode(image)
    assert [r for r in sim.seen("/v1/responses") if encoded in r.raw], "vision saw the image"
