"""Media registry, settings and the shared polling helpers (providers.md §2, §4.2, PRV-5)."""

from __future__ import annotations

from typing import Any

import pytest

from engine.provider_types import (
    ContentItem,
    InvalidRequestError,
    ProviderCancelled,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailable,
)
from providers.media import registry
from providers.media.polling import BackgroundCall, PollStatus, poll_until_done
from providers.media.settings import MediaClientSettings
from providers.provider_set import DefaultProviderSet
from tests.fakes_http import media_shapes as ms
from tests.fakes_http.server import FakeHttpServer, Reply, fake_server  # noqa: F401

ALL_CREDS = {"openai_api_key": "sk-a-0123456789", "leonardo_api_key": "leo-0123456789",
             "midapi_api_key": "mj-0123456789", "elevenlabs_api_key": "el-0123456789",
             "sd_forge_api_url": "http://127.0.0.1:7860"}


def test_settings_defaults_and_from_values() -> None:
    defaults = MediaClientSettings()
    assert (defaults.poll_interval_s, defaults.video_poll_interval_s) == (2.0, 10.0)
    assert (defaults.poll_timeout_s, defaults.sd_poll_timeout_s) == (300.0, 600.0)
    assert defaults.base_url("openai") == "https://api.openai.com"
    assert MediaClientSettings.from_values({}) == defaults
    custom = MediaClientSettings.from_values({
        "OPENAI_BASE_URL": "http://gw.local/openai/v1/", "ELEVENLABS_BASE_URL": " ",
        "LEONARDO_BASE_URL": "http://leo.local", "MIDAPI_BASE_URL": "http://mj.local/"},
        poll_interval_s=0.5)
    assert custom.base_url("openai") == "http://gw.local/openai"
    assert custom.base_url("elevenlabs") == defaults.base_url("elevenlabs")
    assert (custom.base_url("leonardo"), custom.base_url("midjourney")) == ("http://leo.local",
                                                                  "http://mj.local")
    assert custom.poll_interval_s == 0.5
    with pytest.raises(ValueError):
        MediaClientSettings.from_values({}, poll_interval_s=0)


def test_every_provider_has_a_live_client_with_catalog_info() -> None:
    for name in ("openai", "leonardo", "midjourney", "stable_diffusion", "elevenlabs"):
        client = registry.create_media_client(name, ALL_CREDS)
        assert client.provider_id == name
        assert client.actions == registry.media_class(name).actions
        assert client.concurrency == registry.media_class(name).concurrency
    with pytest.raises(ProviderError) as info:
        registry.create_media_client("acme", ALL_CREDS)
    assert info.value.error_code == "unknown_provider"


def test_missing_credential_is_unavailable_without_values() -> None:
    creds = {k: v for k, v in ALL_CREDS.items() if k != "leonardo_api_key"}
    with pytest.raises(ProviderUnavailable) as info:
        DefaultProviderSet(media_factory=registry.media_factory(MediaClientSettings())
                           ).for_call(False).media("leonardo", creds)
    assert "leonardo_api_key" in info.value.message
    assert not any(value in info.value.message for value in creds.values())


def test_unregistered_provider_keeps_raising(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(registry.LIVE_MEDIA_CLIENTS, "midjourney")
    with pytest.raises(ProviderUnavailable, match="Live generation for 'midjourney'"):
        registry.create_media_client("midjourney", ALL_CREDS)


def test_media_factory_uses_settings(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.EL_MUSIC, Reply(body=ms.MP3, content_type="audio/mpeg"))
    settings = MediaClientSettings(base_urls={"elevenlabs": fake_server.base_url},
                                   poll_interval_s=0.01)
    providers = DefaultProviderSet(media_factory=registry.media_factory(settings))
    client = providers.for_call(False).media("elevenlabs", ALL_CREDS)
    result = client.txt2audio("song", {}, lambda d: None)
    assert fake_server.requests[0].path == ms.EL_MUSIC
    assert b"".join(client.fetch_content(result.content[0], 10_000)) == ms.MP3


def test_fetch_content_rejects_other_schemes() -> None:
    client = registry.create_media_client("leonardo", ALL_CREDS)
    with pytest.raises(InvalidRequestError):
        list(client.fetch_content(ContentItem(url="file:///etc/passwd", content_type="image"),
                                  100))


def test_poll_until_done_reports_and_stops() -> None:
    clock = ms.FakeClock()
    looks = iter([PollStatus(False, message="a", percent=10), PollStatus(False, message="b"),
                  PollStatus(True, result="done")])
    seen: list[dict[str, Any]] = []
    result = poll_until_done(lambda: next(looks), seen.append, vendor="V", interval_s=3,
                             timeout_s=100, wait=clock.sleep, monotonic=clock.monotonic)
    assert result == "done" and clock.sleeps == [3, 3]
    assert seen == [{"status": "processing", "progress": {"elapsed_ms": 0, "message": "a",
                                                          "percent": 10.0}},
                    {"status": "processing", "progress": {"elapsed_ms": 3000,
                                                          "message": "b"}}]
    stops: list[int] = []

    def failing_stop() -> None:
        stops.append(1)
        raise ProviderError("cancel endpoint down")

    with pytest.raises(ProviderTimeoutError, match="within 5 s"):
        poll_until_done(lambda: PollStatus(False), None, vendor="V", interval_s=2,
                        timeout_s=5, wait=clock.sleep, monotonic=clock.monotonic,
                        on_stop=failing_stop)

    def cancel(update: dict[str, Any]) -> None:
        raise ProviderCancelled("stop")

    with pytest.raises(ProviderCancelled):
        poll_until_done(lambda: PollStatus(False), cancel, vendor="V", interval_s=2,
                        timeout_s=5, wait=clock.sleep, monotonic=clock.monotonic,
                        on_stop=failing_stop)
    assert stops == [1, 1]


def test_background_call_reraises() -> None:
    def boom() -> None:
        raise ProviderError("vendor broke")

    job = BackgroundCall(boom)
    job.wait(2.0)
    assert job.done
    with pytest.raises(ProviderError, match="vendor broke"):
        job.result()
    assert BackgroundCall(lambda: 5).result() == 5
