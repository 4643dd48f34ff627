"""OpenAI image client against a local fake vendor (providers.md §4, PRV-1, PRV-3, PRV-13)."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.provider_types import (
    AuthenticationError,
    ContentItem,
    GenerationError,
    InvalidRequestError,
    ProviderCancelled,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailable,
    RateLimitError,
    ServerError,
)
from providers.media.openai_images import OpenAIImagesClient
from providers.media.settings import MediaClientSettings
from providers.media.source_image import parse_data_url
from tests.fakes_http import media_shapes as ms
from tests.fakes_http.server import FakeHttpServer, Reply, fake_server  # noqa: F401

KEY = "sk-test-media-openai-0123456789"
CREDS = {"openai_api_key": KEY}


def make(server: FakeHttpServer, clock: ms.FakeClock | None = None,
         **kw: Any) -> OpenAIImagesClient:
    kw.setdefault("poll_interval_s", 0.02)
    kw.setdefault("request_timeout_s", 5.0)
    kw.setdefault("poll_timeout_s", 5.0)
    settings = MediaClientSettings(base_urls={"openai": server.base_url}, **kw)
    clock = clock or ms.FakeClock()
    return OpenAIImagesClient(CREDS, settings, sleep=clock.sleep, source_fetcher=loopback_download)


def loopback_download(url: str, max_bytes: int) -> bytes:
    """The tests' source fetcher: the fake server is on loopback, which the default refuses."""
    response = httpx.get(url, timeout=5.0)
    response.raise_for_status()
    return response.content[: max_bytes + 1]


def updates() -> tuple[list[dict[str, Any]], Any]:
    seen: list[dict[str, Any]] = []
    return seen, seen.append


def test_txt2img_request_shape_items_and_usage(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.OA_GENERATIONS, Reply(json=ms.openai_images(ms.PNG, ms.JPEG)))
    client = make(fake_server)
    result = client.txt2img("a cat in a hat", client.format_params(
        {"model": "gpt-image-1-mini", "aspect_ratio": "2:3", "quality": "high",
         "num_images": "2", "background": "opaque", "output_format": "webp"}), lambda d: None)
    request = fake_server.requests[0]
    assert request.method == "POST" and request.path == ms.OA_GENERATIONS
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.body == {"model": "gpt-image-1-mini", "prompt": "a cat in a hat", "n": 2,
                            "size": "1024x1536", "quality": "high", "background": "opaque",
                            "output_format": "webp"}
    assert [item.extension for item in result.content] == ["webp", "webp"]
    assert [item.content_type for item in result.content] == ["image", "image"]
    assert result.content[0].url.startswith("data:image/webp;base64,")
    assert parse_data_url(result.content[1].url)[1] == ms.JPEG
    assert result.usage is not None and result.usage.image_count == 2
    assert result.usage.total_cost == pytest.approx(2 * 0.052)
    assert result.usage.model == "gpt-image-1-mini" and result.usage.action_type == "txt2img"
    assert "b64_json" not in str(result.raw_response)


def test_txt2img_defaults_and_bad_aspect_ratio(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.OA_GENERATIONS, Reply(json=ms.openai_images(ms.PNG)))
    client = make(fake_server)
    result = client.txt2img("x", {}, lambda d: None)
    assert fake_server.requests[0].body["size"] == "1024x1024"
    assert fake_server.requests[0].body["model"] == "gpt-image-1"
    assert result.content[0].extension == "png"
    with pytest.raises(InvalidRequestError, match="aspect_ratio"):
        client.txt2img("x", {"aspect_ratio": "16:9"}, lambda d: None)
    with pytest.raises(InvalidRequestError, match="prompt"):
        client.txt2img("  ", {}, lambda d: None)
    assert len(fake_server.requests) == 1


def test_img2img_multipart_from_data_url(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.OA_EDITS, Reply(json=ms.openai_images(ms.PNG)))
    client = make(fake_server)
    source = "data:image/png;base64," + ms.b64(ms.PNG)
    result = client.img2img(source, "make it blue", {"aspect_ratio": "3:2"}, lambda d: None)
    request = fake_server.requests[0]
    assert request.path == ms.OA_EDITS and request.headers["authorization"] == f"Bearer {KEY}"
    assert request.body["prompt"] == "make it blue" and request.body["size"] == "1536x1024"
    assert request.body["n"] == "1" and request.body["model"] == "gpt-image-1"
    assert request.files["image"]["data"] == ms.PNG
    assert request.files["image"]["content_type"] == "image/png"
    assert result.usage is not None and result.usage.action_type == "img2img"


def test_img2img_source_from_url_and_local_file(fake_server: FakeHttpServer,
                                                tmp_path: Path) -> None:
    fake_server.script("/cdn/source.jpg", Reply(body=ms.JPEG, content_type="image/jpeg"))
    fake_server.script(ms.OA_EDITS, Reply(json=ms.openai_images(ms.PNG)))
    client = make(fake_server)
    client.img2img(fake_server.base_url + "/cdn/source.jpg", "p", {}, lambda d: None)
    download, edit = fake_server.requests[0], fake_server.requests[1]
    assert download.method == "GET" and download.path == "/cdn/source.jpg"
    assert edit.files["image"]["data"] == ms.JPEG
    assert edit.files["image"]["content_type"] == "image/jpeg"
    local = tmp_path / "picture.png"
    local.write_bytes(ms.PNG)
    client.img2img(str(local), "p", {}, lambda d: None)
    assert fake_server.requests[-1].files["image"]["filename"] == "picture.png"
    with pytest.raises(InvalidRequestError):
        client.img2img(str(tmp_path / "missing.png"), "p", {}, lambda d: None)


def test_429_with_retry_after_then_success(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.OA_GENERATIONS,
                       Reply(status=429, json=ms.error_body("Rate limit reached"),
                             headers={"retry-after": "7"}),
                       Reply(json=ms.openai_images(ms.PNG)))
    clock = ms.FakeClock()
    result = make(fake_server, clock).txt2img("x", {}, lambda d: None)
    assert len(result.content) == 1 and len(fake_server.requests) == 2
    assert clock.sleeps == [7.0]


def test_500_is_retried_then_raises_retryable(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.OA_GENERATIONS, Reply(status=500, json=ms.error_body("boom")))
    clock = ms.FakeClock()
    with pytest.raises(ServerError) as info:
        make(fake_server, clock, max_attempts=3).txt2img("x", {}, lambda d: None)
    assert info.value.retryable and info.value.status_code == 500
    assert len(fake_server.requests) == 3 and clock.sleeps == [1.0, 2.0]


def test_429_exhausted_is_rate_limit_error(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.OA_GENERATIONS, Reply(status=429, json=ms.error_body("slow down")))
    with pytest.raises(RateLimitError):
        make(fake_server, max_attempts=2).txt2img("x", {}, lambda d: None)
    assert len(fake_server.requests) == 2


def test_timeout_is_provider_timeout(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.OA_GENERATIONS, Reply(json=ms.openai_images(ms.PNG), delay_s=3.0))
    started = time.monotonic()
    with pytest.raises(ProviderTimeoutError):
        make(fake_server, poll_timeout_s=0.3, max_attempts=1).txt2img("x", {}, lambda d: None)
    assert time.monotonic() - started < 2.0


def test_progress_reported_while_waiting(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.OA_GENERATIONS, Reply(json=ms.openai_images(ms.PNG), delay_s=0.3))
    seen, record = updates()
    make(fake_server).txt2img("x", {}, record)
    assert len(seen) >= 3
    assert all(u["status"] == "processing" and "message" in u["progress"] for u in seen)
    elapsed = [u["progress"]["elapsed_ms"] for u in seen]
    assert elapsed == sorted(elapsed) and elapsed[-1] >= 100


def test_cancel_from_progress_callback(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.OA_GENERATIONS, Reply(json=ms.openai_images(ms.PNG), delay_s=5.0))
    calls: list[int] = []

    def progress(update: dict[str, Any]) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise ProviderCancelled("Operation cancelled")

    started = time.monotonic()
    with pytest.raises(ProviderCancelled):
        make(fake_server).txt2img("x", {}, progress)
    assert time.monotonic() - started < 2.0 and len(calls) == 2


def test_vendor_failures(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.OA_GENERATIONS,
                       Reply(status=400, json=ms.error_body(
                           "Your request was rejected by the safety system",
                           "moderation_blocked")),
                       Reply(json={"created": 1, "data": []}))
    client = make(fake_server)
    with pytest.raises(InvalidRequestError, match="safety system") as info:
        client.txt2img("x", {}, lambda d: None)
    assert not info.value.retryable and len(fake_server.requests) == 1
    with pytest.raises(GenerationError, match="no images"):
        client.txt2img("x", {}, lambda d: None)


def test_keys_never_in_error_messages(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.OA_GENERATIONS,
                       Reply(status=401, json=ms.error_body(f"Incorrect API key {KEY}")),
                       Reply(status=400, json=ms.error_body(f"bad value near {KEY}")))
    client = make(fake_server)
    with pytest.raises(AuthenticationError) as auth:
        client.txt2img("x", {}, lambda d: None)
    with pytest.raises(InvalidRequestError) as bad:
        client.txt2img("x", {}, lambda d: None)
    for error in (auth.value, bad.value):
        assert KEY not in str(error) and KEY not in error.message
    assert "***" in bad.value.message


def test_missing_credential_names_it_without_values() -> None:
    with pytest.raises(ProviderUnavailable, match="openai_api_key") as info:
        OpenAIImagesClient({"leonardo_api_key": "sk-leo-secret-123456"})
    assert "sk-leo-secret" not in info.value.message
    with pytest.raises(ProviderUnavailable):
        OpenAIImagesClient({"openai_api_key": "  "})


def test_fetch_content_data_url_and_cap(fake_server: FakeHttpServer) -> None:
    data = bytes(range(256)) * 600
    item = ContentItem(url="data:image/png;base64," + base64.b64encode(data).decode(),
                       content_type="image", extension="png")
    client = make(fake_server)
    assert b"".join(client.fetch_content(item, len(data))) == data
    with pytest.raises(ProviderError) as info:
        b"".join(client.fetch_content(item, len(data) - 1))
    assert info.value.error_code == "content_too_large"


def test_fetch_content_foreign_url_gets_no_auth(fake_server: FakeHttpServer) -> None:
    fake_server.script("/elsewhere.png", Reply(body=ms.PNG * 100, content_type="image/png"))
    settings = MediaClientSettings(base_urls={"openai": "https://api.openai.example"})
    client = OpenAIImagesClient(CREDS, settings)
    item = ContentItem(url=fake_server.base_url + "/elsewhere.png", content_type="image")
    assert b"".join(client.fetch_content(item, 10_000)) == ms.PNG * 100
    assert "authorization" not in fake_server.requests[0].headers
    with pytest.raises(ProviderError) as info:
        list(client.fetch_content(item, 100))
    assert info.value.error_code == "content_too_large"


def test_preview_info_and_unsupported_action(fake_server: FakeHttpServer) -> None:
    client = make(fake_server)
    preview = client.get_preview_info("txt2img", {"aspect_ratio": "2:3", "quality": "medium",
                                                  "num_images": "3",
                                                  "model": "gpt-image-1"})
    assert preview.resolution == {"width": 1024, "height": 1536, "megapixels": 1.57}
    assert preview.credits["num_images"] == 3
    assert preview.credits["cost_per_image_usd"] == pytest.approx(0.063)
    assert preview.credits["total_cost_usd"] == pytest.approx(0.189)
    with pytest.raises(InvalidRequestError):
        client.get_preview_info("txt2audio", {})
    with pytest.raises(InvalidRequestError, match="does not support"):
        client.txt2audio("x", {}, lambda d: None)


def test_source_urls_are_fetched_through_the_guard_by_default(
        fake_server: FakeHttpServer) -> None:
    """Without an injected fetcher a loopback source URL is refused before any request."""
    guarded = OpenAIImagesClient(CREDS, MediaClientSettings(base_urls={"openai": fake_server.base_url}))
    with pytest.raises(ProviderError) as info:
        guarded.img2img(fake_server.base_url + "/cdn/source.jpg", "p", {}, lambda d: None)
    assert info.value.error_code == "url_refused"
    assert fake_server.requests == []


def test_non_image_sources_are_refused(fake_server: FakeHttpServer, tmp_path: Path) -> None:
    fake_server.script("/internal/config", Reply(body=b"secret=1\n", content_type="text/plain"))
    client = make(fake_server)
    with pytest.raises(InvalidRequestError, match="not a PNG"):
        client.img2img(fake_server.base_url + "/internal/config", "p", {}, lambda d: None)
    text_file = tmp_path / "notes.png"
    text_file.write_text("not an image")
    with pytest.raises(InvalidRequestError, match="not a PNG"):
        client.img2img(str(text_file), "p", {}, lambda d: None)
    assert [r.path for r in fake_server.requests] == ["/internal/config"]
