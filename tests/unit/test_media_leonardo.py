"""Leonardo client against a local fake vendor: jobs, polling, init-image upload, video."""

from __future__ import annotations

from typing import Any

import pytest

from engine.provider_types import (
    GenerationError,
    InvalidRequestError,
    ProviderCancelled,
    ProviderTimeoutError,
    ProviderUnavailable,
    RateLimitError,
    ServerError,
)
from providers.media.leonardo import PHOENIX, LeonardoClient
from providers.media.settings import MediaClientSettings
from tests.fakes_http import media_shapes as ms
from tests.fakes_http.server import FakeHttpServer, Reply, fake_server  # noqa: F401

KEY = "leo-test-key-0123456789abcdef"
GEN = f"{ms.LEO_GENERATIONS}/gen-1"
CDN = "https://cdn.leonardo.example/users/u/generations/gen-1"


def make(server: FakeHttpServer, **kw: Any) -> tuple[LeonardoClient, ms.FakeClock]:
    clock = ms.FakeClock()
    kw.setdefault("request_timeout_s", 5.0)
    settings = MediaClientSettings(base_urls={"leonardo": server.base_url}, **kw)
    return LeonardoClient({"leonardo_api_key": KEY}, settings, sleep=clock.sleep,
                          monotonic=clock.monotonic), clock


def test_txt2img_job_polling_and_items(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.LEO_GENERATIONS, Reply(json=ms.leonardo_job("gen-1")))
    fake_server.script(GEN, Reply(json=ms.leonardo_status("PENDING")),
                       Reply(json={"generations_by_pk": {
                           **ms.leonardo_status("COMPLETE", [f"{CDN}/a.jpg", f"{CDN}/b.png"])[
                               "generations_by_pk"], "seed": 99}}))
    client, clock = make(fake_server)
    seen: list[dict[str, Any]] = []
    result = client.txt2img("a fox", client.format_params(
        {"aspect_ratio": "9:16", "size": "medium", "num_images": "2",
         "generation_mode": "quality", "contrast": "3.0", "scheduler": "LEONARDO"}),
        seen.append)
    create = fake_server.requests[0]
    assert create.headers["authorization"] == f"Bearer {KEY}"
    assert create.body == {"prompt": "a fox", "modelId": PHOENIX, "width": 576,
                           "height": 1024, "num_images": 2, "contrast": 3.0, "alchemy": True,
                           "ultra": False, "scheduler": "LEONARDO"}
    assert [r.method for r in fake_server.requests[1:]] == ["GET", "GET"]
    assert clock.sleeps == [2.0] and len(seen) == 1
    assert [(i.url, i.extension, i.seed) for i in result.content] == [
        (f"{CDN}/a.jpg", "jpg", 99), (f"{CDN}/b.png", "png", 99)]
    assert result.provider_task_id == "gen-1"
    assert result.usage is not None and result.usage.credits == 24.0
    assert result.usage.total_cost == pytest.approx(0.048)


def test_img2img_uploads_init_image_without_key(fake_server: FakeHttpServer) -> None:
    upload_url = fake_server.base_url.replace("127.0.0.1", "localhost") + "/s3-upload"
    fake_server.script(ms.LEO_INIT_IMAGE, Reply(json=ms.leonardo_init_image("init-7",
                                                                            upload_url)))
    fake_server.script("/s3-upload", Reply(status=204, body=b""))
    fake_server.script(ms.LEO_GENERATIONS, Reply(json=ms.leonardo_job("gen-1")))
    fake_server.script(GEN, Reply(json=ms.leonardo_status("COMPLETE", [f"{CDN}/a.jpg"])))
    client, _ = make(fake_server)
    client.img2img("data:image/jpeg;base64," + ms.b64(ms.JPEG), "p", {}, lambda d: None)
    slot, upload, create = fake_server.requests[:3]
    assert slot.body == {"extension": "jpg"}
    assert "authorization" not in upload.headers
    assert upload.body["key"] == "uploads/init-7.png" and upload.files["file"]["data"] == ms.JPEG
    assert create.body["init_image_id"] == "init-7" and create.body["init_strength"] == 0.5


def test_img2vid_with_generated_image_id(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.LEO_IMAGE_TO_VIDEO, Reply(json=ms.leonardo_motion_job("gen-1")))
    done = ms.leonardo_status("COMPLETE", [f"{CDN}/still.jpg"])
    done["generations_by_pk"]["generated_images"][0]["motionMP4URL"] = f"{CDN}/clip.mp4"
    fake_server.script(GEN, Reply(json=ms.leonardo_status("PENDING")), Reply(json=done))
    client, clock = make(fake_server)
    result = client.img2vid("https://cdn.example/x.jpg", "", {
        "image_id": "img-5", "positive_prompt": "the fox jumps", "negative_prompt": "blur",
        "model": "KLING2_1"}, lambda d: None)
    assert fake_server.requests[0].body == {
        "imageId": "img-5", "imageType": "GENERATED", "prompt": "the fox jumps",
        "model": "KLING2_1", "resolution": "RESOLUTION_720", "frameInterpolation": True,
        "negativePrompt": "blur"}
    assert clock.sleeps == [10.0]
    item = result.content[0]
    assert (item.url, item.content_type, item.extension) == (f"{CDN}/clip.mp4", "video", "mp4")
    assert result.usage.credits == 250.0 and result.usage.action_type == "img2vid"


def test_failure_timeout_and_cancel(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.LEO_GENERATIONS, Reply(json=ms.leonardo_job("gen-1")))
    fake_server.script(GEN, Reply(json=ms.leonardo_status("FAILED")))
    client, _ = make(fake_server)
    with pytest.raises(GenerationError, match="failed"):
        client.txt2img("p", {}, lambda d: None)
    fake_server.script(GEN, Reply(json=ms.leonardo_status("PENDING")))
    client, clock = make(fake_server, poll_timeout_s=5.0)
    with pytest.raises(ProviderTimeoutError):
        client.txt2img("p", {}, lambda d: None)
    assert clock.sleeps == [2.0, 2.0, 2.0]

    def cancel(update: dict[str, Any]) -> None:
        raise ProviderCancelled("Operation cancelled")

    with pytest.raises(ProviderCancelled):
        client.txt2img("p", {}, cancel)


def test_retries_and_errors(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.LEO_GENERATIONS,
                       Reply(status=429, json={"error": "rate limited"},
                             headers={"retry-after": "2"}),
                       Reply(json=ms.leonardo_job("gen-1")))
    fake_server.script(GEN, Reply(status=502, json={"error": "bad gateway"}),
                       Reply(json=ms.leonardo_status("COMPLETE", [f"{CDN}/a.jpg"])))
    client, clock = make(fake_server)
    assert len(client.txt2img("p", {}, lambda d: None).content) == 1
    assert clock.sleeps == [2.0, 1.0]
    fake_server.script(ms.LEO_GENERATIONS, Reply(status=429, json={"error": f"slow {KEY}"}))
    with pytest.raises(RateLimitError) as info:
        client.txt2img("p", {}, lambda d: None)
    assert KEY not in info.value.message
    fake_server.script(ms.LEO_GENERATIONS, Reply(json={"unexpected": True}))
    with pytest.raises(ServerError):
        client.txt2img("p", {}, lambda d: None)


def test_request_timeout(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.LEO_GENERATIONS, Reply(json=ms.leonardo_job("gen-1"), delay_s=2.0))
    client, _ = make(fake_server, request_timeout_s=0.2, max_attempts=1)
    with pytest.raises(ProviderTimeoutError):
        client.txt2img("p", {}, lambda d: None)


def test_credentials_validation_and_preview(fake_server: FakeHttpServer) -> None:
    with pytest.raises(ProviderUnavailable, match="leonardo_api_key"):
        LeonardoClient({"openai_api_key": "sk-abc-0123456789"})
    client, _ = make(fake_server)
    with pytest.raises(InvalidRequestError):
        client.txt2img(" ", {}, lambda d: None)
    with pytest.raises(InvalidRequestError):
        client.txt2audio("p", {}, lambda d: None)
    preview = client.get_preview_info("txt2img", {"aspect_ratio": "16:9", "size": "large",
                                                  "num_images": 4,
                                                  "generation_mode": "fast"})
    assert preview.resolution == {"width": 1536, "height": 864, "megapixels": 1.33}
    assert preview.credits["credits"] == 32.0
    assert preview.credits["total_cost_usd"] == pytest.approx(0.064)
    assert fake_server.requests == []
