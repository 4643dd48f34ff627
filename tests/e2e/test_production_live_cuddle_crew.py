"""cuddle_crew from start to finish in the production server with `mock=false` (issue 4).

Every LLM step, the image, video and music generations and the vision step go to vendor fakes on
loopback (tests/fakes_http/vendor_sim.py) through the real clients the server builds from its
settings; the database is a real MongoDB wire-protocol server. Nothing may reach the internet,
keys may not leak into stored documents, and the process environment stays untouched (PRV-1).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.production_client import ANSWERS, Prod, production
from tests.fakes_http.vendor_sim import VendorSimulator

OPENAI_KEY = "sk-live-test-0123456789abcdef"
ELEVEN_KEY = "el-live-test-fedcba9876543210"
GENERATE = {"generate_and_select_images_v2": "image_generation",
            "generate_and_select_videos_v2": "video_generation",
            "generate_and_select_music_v2": "audio_generation"}


@pytest.fixture
def vendors() -> Any:
    sim = VendorSimulator().start()
    try:
        yield sim
    finally:
        sim.close()


def _params(module: str) -> dict[str, Any]:
    if module == "generate_and_select_images_v2":
        return {"provider": "openai", "action_type": "txt2img", "prompt_id": "default",
                "params": {"prompt": "a corgi in a teacup", "model": "gpt-image-1",
                           "aspect_ratio": "2:3", "quality": "low", "num_images": 2},
                "source_data": {}}
    if module == "generate_and_select_videos_v2":
        return {"provider": "openai", "action_type": "img2vid", "prompt_id": "default",
                "params": {"prompt": "the corgi wags its tail", "model": "sora-2",
                           "duration": "4"},
                "source_data": {}}
    return {"provider": "elevenlabs", "action_type": "txt2audio", "prompt_id": "default",
            "params": {"prompt": "gentle ukulele", "output_format": "mp3_44100_128",
                       "music_length_ms": 10000},
            "source_data": {}}


async def _generate(prod: Prod, run_id: str, iid: str, module: str) -> dict[str, Any]:
    frames = await prod.sub_action(run_id, iid, GENERATE[module], _params(module))
    kinds = [kind for kind, _ in frames]
    assert kinds[-1] == "complete", frames[-1]
    assert "progress" in kinds
    return frames[-1][1]["sub_action_result"]


async def _run_live(prod: Prod, workflow: dict[str, Any], stop_at: str | None = None
                    ) -> tuple[str, dict[str, Any]]:
    response = await prod.ok("POST", "/workflow/start",
                             {"project_name": "live", "workflow_content": workflow,
                              "mock": False})
    run_id = response["workflow_run_id"]
    generated: dict[str, Any] = {}
    while response["status"] == "awaiting_input":
        module = response["progress"]["current_module"]
        iid = response["interaction_request"]["interaction_id"]
        if module == stop_at:
            return run_id, {"interaction_id": iid, **generated}
        if module in GENERATE:
            result = await _generate(prod, run_id, iid, module)
            generated[module] = {"interaction_id": iid, **result}
            answer = {"action_id": "continue", "selected_content_id": result["content_ids"][0],
                      "generations": {f"prompts.{result['provider']}": [result]}}
        else:
            answer = ANSWERS[module]
        response = await prod.respond(run_id, iid, answer)
        assert response["status"] != "error", response
    assert response["status"] == "completed", response
    return run_id, generated


async def test_cuddle_crew_live_end_to_end(secantus_uri: str, cuddle_workflow: dict[str, Any],
                                           vendors: VendorSimulator, tmp_path: Path) -> None:
    environ_before = dict(os.environ)
    media_root = tmp_path / "media"
    async with production(secantus_uri, live=True,
                          OPENAI_API_KEY=OPENAI_KEY, ELEVENLABS_API_KEY=ELEVEN_KEY,
                          OPENAI_BASE_URL=vendors.base_url + "/v1",
                          ELEVENLABS_BASE_URL=vendors.base_url,
                          WFE_MEDIA_BASE_PATH=str(media_root),
                          WFE_MEDIA_POLL_INTERVAL_S="0.02") as prod:
        run_id, generated = await _run_live(prod, cuddle_workflow)

        # images: two generated, stored by content hash, served from the media route
        images = generated["generate_and_select_images_v2"]
        assert len(images["content_ids"]) == 2 and images["mock"] is False
        assert len(vendors.images) == 2
        for url, expected in zip(images["urls"], vendors.images):
            assert url.startswith(f"/workflow/{run_id}/media/gc_") and url.endswith(".png")
            served = await prod.get(url)
            assert served.status_code == 200 and served.content == expected
            assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert served.headers["content-type"] == "image/png"
        assert (await prod.get(images["urls"][0], user="bob")).status_code == 404

        # the vision step sent the selected image itself to the model
        selected_b64 = base64.b64encode(vendors.images[0]).decode()
        vision = [r for r in vendors.seen("/v1/responses") if selected_b64.encode() in r.raw]
        assert len(vision) == 1
        assert "data:image/png;base64," + selected_b64 in vision[0].raw.decode()

        # the video job was polled to completion, downloaded with the key and stored
        video = generated["generate_and_select_videos_v2"]
        create = vendors.seen("/v1/videos")[0]
        assert create.method == "POST" and vendors.images[0] in create.raw  # the source image
        polls = [r for r in vendors.seen("/v1/videos/") if r.method == "GET"]
        assert len(polls) >= 3 and all(r.headers["authorization"] == f"Bearer {OPENAI_KEY}"
                                       for r in polls)
        served = await prod.get(video["urls"][0])
        assert served.status_code == 200 and served.content.startswith(b"\x00\x00\x00\x18ftyp")

        # music from ElevenLabs with its own key header
        music = generated["generate_and_select_music_v2"]
        (music_call,) = vendors.seen("/v1/music")
        assert music_call.headers["xi-api-key"] == ELEVEN_KEY
        served = await prod.get(music["urls"][0])
        assert served.status_code == 200 and served.content.startswith(b"ID3")

        # the generations endpoints list the stored media
        for module, kind in (("generate_and_select_images_v2", "image"),
                             ("generate_and_select_videos_v2", "video"),
                             ("generate_and_select_music_v2", "audio")):
            iid = generated[module]["interaction_id"]
            view = await prod.ok("GET", f"/workflow/{run_id}/interaction/{iid}/generations"
                                        f"?content_type={kind}")
            items = [item for g in view["generations"] for item in g["content_items"]]
            assert [i["url"] for i in items] == generated[module]["urls"]
            assert all(g["provenance"] == "live" for g in view["generations"])

        state = await prod.state(run_id)
        assert state["selected_image_data"]["local_path"].startswith(str(media_root.resolve()))
        assert state["image_analysis"]  # produced by the vision call

        stored = _dump(prod)
        assert stored["tokens"], "live calls record token usage"
        for secret in (OPENAI_KEY, ELEVEN_KEY):
            assert secret not in json.dumps(stored, default=str)
        assert "base64" not in json.dumps(stored["generated_content"], default=str)
    assert dict(os.environ) == environ_before
    assert all(r.path.startswith("/v1/") for r in vendors.requests)


async def test_cancel_stops_a_polling_video_job_and_the_vendor_job(
        secantus_uri: str, cuddle_workflow: dict[str, Any], vendors: VendorSimulator,
        tmp_path: Path) -> None:
    """A media job waiting on a slow vendor is stopped by POST /cancel: the task ends
    `cancelled`, the vendor job is deleted, nothing is stored, the interaction stays pending."""
    vendors.video_polls_before_done = 10 ** 6
    async with production(secantus_uri, live=True, OPENAI_API_KEY=OPENAI_KEY,
                          OPENAI_BASE_URL=vendors.base_url + "/v1",
                          WFE_MEDIA_BASE_PATH=str(tmp_path),
                          WFE_MEDIA_POLL_INTERVAL_S="0.02") as prod:
        run_id, reached = await _run_live(prod, cuddle_workflow,
                                          stop_at="generate_and_select_videos_v2")
        iid = reached["interaction_id"]
        queued = await prod.post("/api/task", {
            "workflow_run_id": run_id, "interaction_id": iid,
            "sub_action_id": "video_generation",
            "params": _params("generate_and_select_videos_v2")})
        assert queued.status_code == 202, queued.text
        task_id = queued.json()["task_id"]
        for _ in range(500):  # until the vendor is being polled
            if len(vendors.seen("/v1/videos/")) >= 2:
                break
            await asyncio.sleep(0.01)
        assert (await prod.post(f"/workflow/{run_id}/cancel")).status_code == 200
        task: dict[str, Any] = {}
        for _ in range(500):
            task = await prod.ok("GET", f"/api/task/{task_id}")
            if task["status"] not in ("queued", "processing"):
                break
            await asyncio.sleep(0.01)
        assert task["status"] == "cancelled", task
        assert [r.method for r in vendors.seen("/v1/videos/")].count("DELETE") == 1
        (meta,) = prod.db.content_generation_metadata.find({"workflow_run_id": run_id,
                                                            "action_type": "img2vid"})
        assert meta["status"] == "failed" and meta["error_message"] == "Cancelled"
        assert prod.db.generated_content.count_documents({"content_generation_metadata_id":
                                                          meta["content_generation_metadata_id"]}) == 0
        status = await prod.ok("GET", f"/workflow/{run_id}/status")
        assert status["interaction_request"]["interaction_id"] == iid
        failed = [e for e in await prod.events(run_id) if e["event_type"] == "sub_action_failed"]
        assert failed and failed[-1]["data"]["error_type"] == "cancelled"


def _dump(prod: Prod) -> dict[str, list[dict[str, Any]]]:
    return {name: list(prod.db[name].find({}, {"_id": 0}))
            for name in prod.db.list_collection_names()}
