"""ElevenLabs music client against a local fake vendor (providers.md §4)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from engine.provider_types import (
    AuthenticationError,
    GenerationError,
    InvalidRequestError,
    ProviderCancelled,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailable,
    ServerError,
)
from providers.media.elevenlabs import ElevenLabsClient
from providers.media.settings import MediaClientSettings
from providers.media.source_image import parse_data_url
from tests.fakes_http import media_shapes as ms
from tests.fakes_http.server import FakeHttpServer, Reply, fake_server  # noqa: F401

KEY = "el-test-key-0123456789abcdef"


def make(server: FakeHttpServer, clock: ms.FakeClock | None = None,
         **kw: Any) -> ElevenLabsClient:
    kw.setdefault("poll_interval_s", 0.02)
    kw.setdefault("poll_timeout_s", 5.0)
    settings = MediaClientSettings(base_urls={"elevenlabs": server.base_url}, **kw)
    return ElevenLabsClient({"elevenlabs_api_key": KEY}, settings,
                            sleep=(clock or ms.FakeClock()).sleep)


def audio_reply(**kw: Any) -> Reply:
    return Reply(body=ms.MP3, content_type="audio/mpeg", **kw)


def test_music_request_shape_item_and_usage(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.EL_MUSIC, audio_reply(delay_s=0.1))
    client = make(fake_server)
    seen: list[dict[str, Any]] = []
    result = client.txt2audio("calm piano lullaby", client.format_params(
        {"duration_seconds": "15", "output_format": "mp3_44100_64",
         "force_instrumental": True}), seen.append)
    request = fake_server.requests[0]
    assert request.method == "POST" and request.path == ms.EL_MUSIC
    assert request.query == {"output_format": "mp3_44100_64"}
    assert request.headers["xi-api-key"] == KEY and "authorization" not in request.headers
    assert request.body == {"prompt": "calm piano lullaby", "music_length_ms": 15000,
                            "model_id": "music_v1", "force_instrumental": True}
    item = result.content[0]
    assert (item.content_type, item.extension) == ("audio", "mp3")
    assert parse_data_url(item.url) == ("audio/mpeg", ms.MP3)
    assert result.usage is not None and result.usage.duration_seconds == 15.0
    assert result.usage.characters == len("calm piano lullaby")
    assert result.usage.audio_type == "music" and result.usage.total_cost == pytest.approx(0.2)
    assert seen and seen[0]["progress"]["message"] == "Composing music"


def test_defaults_and_validation(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.EL_MUSIC, audio_reply())
    client = make(fake_server)
    client.txt2audio("p", {}, lambda d: None)
    assert fake_server.requests[0].query == {"output_format": "mp3_44100_128"}
    assert fake_server.requests[0].body["music_length_ms"] == 30000
    with pytest.raises(InvalidRequestError, match="between"):
        client.txt2audio("p", {"music_length_ms": 500}, lambda d: None)
    with pytest.raises(InvalidRequestError, match="output_format"):
        client.txt2audio("p", {"output_format": "pcm_16000"}, lambda d: None)
    with pytest.raises(InvalidRequestError, match="does not support"):
        client.txt2img("p", {}, lambda d: None)
    assert len(fake_server.requests) == 1


def test_429_retry_after_then_success(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.EL_MUSIC, Reply(status=429, json={"detail": {
        "status": "too_many_concurrent_requests", "message": "Too many requests"}},
        headers={"retry-after": "4"}), audio_reply())
    clock = ms.FakeClock()
    assert len(make(fake_server, clock).txt2audio("p", {}, lambda d: None).content) == 1
    assert clock.sleeps == [4.0] and len(fake_server.requests) == 2


def test_500_retried_then_server_error(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.EL_MUSIC, Reply(status=500, json={"detail": "internal"}))
    with pytest.raises(ServerError) as info:
        make(fake_server).txt2audio("p", {}, lambda d: None)
    assert info.value.retryable and len(fake_server.requests) == 3


def test_timeout(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.EL_MUSIC, audio_reply(delay_s=3.0))
    started = time.monotonic()
    with pytest.raises(ProviderTimeoutError):
        make(fake_server, poll_timeout_s=0.3, max_attempts=1).txt2audio("p", {}, lambda d: None)
    assert time.monotonic() - started < 2.0


def test_cancel_stops_waiting(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.EL_MUSIC, audio_reply(delay_s=5.0))

    def progress(update: dict[str, Any]) -> None:
        raise ProviderCancelled("Operation cancelled")

    started = time.monotonic()
    with pytest.raises(ProviderCancelled):
        make(fake_server).txt2audio("p", {}, progress)
    assert time.monotonic() - started < 2.0


def test_vendor_failures_and_key_hygiene(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.EL_MUSIC,
                       Reply(status=401, json={"detail": {"message": f"invalid key {KEY}"}}),
                       Reply(status=422, json={"detail": f"bad prompt for {KEY}"}),
                       Reply(json={"detail": "no audio"}))
    client = make(fake_server)
    with pytest.raises(AuthenticationError) as auth:
        client.txt2audio("p", {}, lambda d: None)
    with pytest.raises(InvalidRequestError) as bad:
        client.txt2audio("p", {}, lambda d: None)
    with pytest.raises(GenerationError):
        client.txt2audio("p", {}, lambda d: None)
    assert KEY not in auth.value.message and KEY not in bad.value.message
    assert "bad prompt" in bad.value.message


def test_missing_credential_and_fetch_cap(fake_server: FakeHttpServer) -> None:
    with pytest.raises(ProviderUnavailable, match="elevenlabs_api_key"):
        ElevenLabsClient({}, MediaClientSettings())
    fake_server.script(ms.EL_MUSIC, audio_reply())
    client = make(fake_server)
    item = client.txt2audio("p", {}, lambda d: None).content[0]
    assert b"".join(client.fetch_content(item, len(ms.MP3))) == ms.MP3
    with pytest.raises(ProviderError) as info:
        list(client.fetch_content(item, len(ms.MP3) - 1))
    assert info.value.error_code == "content_too_large"


def test_preview(fake_server: FakeHttpServer) -> None:
    preview = make(fake_server).get_preview_info("txt2audio", {"duration_seconds": 90})
    assert preview.credits["total_cost_usd"] == pytest.approx(1.2)
    assert preview.credits["num_images"] == 1
