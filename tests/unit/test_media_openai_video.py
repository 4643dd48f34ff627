"""OpenAI Sora img2vid against a local fake vendor: job creation, polling, content download."""

from __future__ import annotations

from typing import Any

import pytest

from engine.provider_types import (
    ContentItem,
    GenerationError,
    InvalidRequestError,
    ProviderCancelled,
    ProviderError,
    ProviderTimeoutError,
    ServerError,
)
from providers.media.openai_video import OpenAIMediaClient
from providers.media.settings import MediaClientSettings
from tests.fakes_http import media_shapes as ms
from tests.fakes_http.server import FakeHttpServer, Recorded, Reply, fake_server  # noqa: F401

KEY = "sk-test-media-sora-0123456789"
SOURCE = "data:image/png;base64," + ms.b64(ms.PNG)
VIDEO = f"{ms.OA_VIDEOS}/video_abc"


def make(server: FakeHttpServer, clock: ms.FakeClock | None = None,
         **kw: Any) -> tuple[OpenAIMediaClient, ms.FakeClock]:
    clock = clock or ms.FakeClock()
    kw.setdefault("request_timeout_s", 5.0)
    settings = MediaClientSettings(base_urls={"openai": server.base_url}, **kw)
    return OpenAIMediaClient({"openai_api_key": KEY}, settings, sleep=clock.sleep,
                             monotonic=clock.monotonic), clock


def script_job(server: FakeHttpServer, *states: dict[str, Any]) -> None:
    server.script(ms.OA_VIDEOS, Reply(json=ms.openai_video("video_abc", "queued")))
    server.script(VIDEO, *(Reply(json=state) for state in states))


def test_img2vid_request_polling_and_result(fake_server: FakeHttpServer) -> None:
    script_job(fake_server, ms.openai_video("video_abc", "queued"),
               ms.openai_video("video_abc", "in_progress", 40),
               ms.openai_video("video_abc", "completed", 100, seconds="8"))
    client, clock = make(fake_server)
    seen: list[dict[str, Any]] = []
    result = client.img2vid(SOURCE, "the cat waves", client.format_params(
        {"model": "sora-2-pro", "duration": "8", "aspect_ratio": "9:16", "quality": "HD"}),
        seen.append)
    create = fake_server.requests[0]
    assert create.method == "POST" and create.path == ms.OA_VIDEOS
    assert create.headers["authorization"] == f"Bearer {KEY}"
    assert create.body == {"model": "sora-2-pro", "prompt": "the cat waves", "seconds": "8",
                           "size": "1024x1792", "input_reference": "source.png"}
    assert create.files["input_reference"]["data"] == ms.PNG
    polls = [r for r in fake_server.requests if r.path == VIDEO]
    assert len(polls) == 3 and all(r.method == "GET" for r in polls)
    assert clock.sleeps == [10.0, 10.0]
    assert [u["progress"]["message"] for u in seen] == ["Queued 0%", "Generating video 40%"]
    assert seen[1]["progress"]["elapsed_ms"] == 10_000
    item = result.content[0]
    assert item.url == f"{fake_server.base_url}{VIDEO}/content"
    assert (item.content_type, item.extension) == ("video", "mp4")
    assert result.provider_task_id == "video_abc"
    assert result.usage is not None and result.usage.duration_seconds == 8.0
    assert result.usage.total_cost == pytest.approx(4.0)


def test_default_size_and_bad_duration(fake_server: FakeHttpServer) -> None:
    script_job(fake_server, ms.openai_video("video_abc", "completed", 100))
    client, _ = make(fake_server)
    client.img2vid(SOURCE, "p", {"aspect_ratio": "16:9"}, lambda d: None)
    assert fake_server.requests[0].body["size"] == "1280x720"
    assert fake_server.requests[0].body["seconds"] == "4"
    with pytest.raises(InvalidRequestError, match="duration"):
        client.img2vid(SOURCE, "p", {"duration": "5"}, lambda d: None)


def test_vendor_reported_failure(fake_server: FakeHttpServer) -> None:
    script_job(fake_server, ms.openai_video("video_abc", "in_progress", 10),
               ms.openai_video("video_abc", "failed", error=f"blocked by moderation {KEY}"))
    client, _ = make(fake_server)
    with pytest.raises(GenerationError, match="blocked by moderation") as info:
        client.img2vid(SOURCE, "p", {}, lambda d: None)
    assert KEY not in info.value.message and not info.value.retryable


def test_poll_timeout_deletes_the_job(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.OA_VIDEOS, Reply(json=ms.openai_video("video_abc", "queued")))
    fake_server.script(VIDEO, Reply(handler=lambda r: Reply(
        json={"id": "video_abc", "deleted": True} if r.method == "DELETE"
        else ms.openai_video("video_abc", "in_progress", 5))))
    client, clock = make(fake_server, poll_timeout_s=35.0)
    with pytest.raises(ProviderTimeoutError):
        client.img2vid(SOURCE, "p", {}, lambda d: None)
    assert clock.sleeps == [10.0, 10.0, 10.0, 10.0]
    assert fake_server.requests[-1].method == "DELETE"


def test_cancel_via_progress_deletes_the_job(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.OA_VIDEOS, Reply(json=ms.openai_video("video_abc", "queued")))
    fake_server.script(VIDEO, Reply(handler=lambda r: Reply(
        json={"deleted": True} if r.method == "DELETE"
        else ms.openai_video("video_abc", "in_progress", 5))))
    client, _ = make(fake_server)

    def progress(update: dict[str, Any]) -> None:
        raise ProviderCancelled("Operation cancelled")

    with pytest.raises(ProviderCancelled):
        client.img2vid(SOURCE, "p", {}, progress)
    assert [r.method for r in fake_server.requests] == ["POST", "GET", "DELETE"]


def test_429_then_success_and_500_exhausted(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.OA_VIDEOS,
                       Reply(status=429, json=ms.error_body("slow"),
                             headers={"retry-after-ms": "1500"}),
                       Reply(json=ms.openai_video("video_abc", "completed", 100)))
    client, clock = make(fake_server)
    assert client.img2vid(SOURCE, "p", {}, lambda d: None).provider_task_id == "video_abc"
    assert clock.sleeps == [1.5]
    fake_server.script(ms.OA_VIDEOS, Reply(status=503, json=ms.error_body("overloaded")))
    with pytest.raises(ServerError) as info:
        client.img2vid(SOURCE, "p", {}, lambda d: None)
    assert info.value.retryable and info.value.status_code == 503
    assert len([r for r in fake_server.requests if r.path == ms.OA_VIDEOS]) == 2 + 3


def test_poll_request_timeout(fake_server: FakeHttpServer) -> None:
    script_job(fake_server)
    fake_server.script(VIDEO, Reply(json=ms.openai_video("video_abc", "queued"), delay_s=2.0))
    client, _ = make(fake_server, request_timeout_s=0.2, max_attempts=2)
    with pytest.raises(ProviderTimeoutError):
        client.img2vid(SOURCE, "p", {}, lambda d: None)
    assert len([r for r in fake_server.requests if r.path == VIDEO]) == 2


def test_fetch_content_sends_auth_and_caps_size(fake_server: FakeHttpServer) -> None:
    script_job(fake_server, ms.openai_video("video_abc", "completed", 100))
    fake_server.script(f"{VIDEO}/content", Reply(body=ms.MP4, content_type="video/mp4"))
    client, _ = make(fake_server)
    item = client.img2vid(SOURCE, "p", {}, lambda d: None).content[0]
    assert b"".join(client.fetch_content(item, 10_000)) == ms.MP4
    download: Recorded = fake_server.requests[-1]
    assert download.method == "GET" and download.headers["authorization"] == f"Bearer {KEY}"
    with pytest.raises(ProviderError) as info:
        list(client.fetch_content(item, 20))
    assert info.value.error_code == "content_too_large"


def test_fetch_content_vendor_error_is_mapped(fake_server: FakeHttpServer) -> None:
    fake_server.script(f"{VIDEO}/content", Reply(status=404, json=ms.error_body("gone")))
    client, _ = make(fake_server)
    item = ContentItem(url=f"{fake_server.base_url}{VIDEO}/content", content_type="video")
    with pytest.raises(InvalidRequestError, match="404"):
        list(client.fetch_content(item, 10_000))


def test_video_preview(fake_server: FakeHttpServer) -> None:
    client, _ = make(fake_server)
    preview = client.get_preview_info("img2vid", {"model": "sora-2", "duration": "12",
                                                  "aspect_ratio": "9:16"})
    assert preview.resolution == {"width": 720, "height": 1280, "megapixels": 0.92}
    assert preview.credits["num_images"] == 1
    assert preview.credits["total_cost_usd"] == pytest.approx(1.2)
