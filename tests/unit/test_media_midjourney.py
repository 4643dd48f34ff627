"""Midjourney (midapi proxy) client against a local fake vendor."""

from __future__ import annotations

from typing import Any

import pytest

from engine.provider_types import (
    AuthenticationError,
    GenerationError,
    InsufficientCreditsError,
    InvalidRequestError,
    ProviderCancelled,
    ProviderTimeoutError,
    ProviderUnavailable,
    ServerError,
)
from providers.media.midjourney import MidjourneyClient
from providers.media.settings import MediaClientSettings
from tests.fakes_http import media_shapes as ms
from tests.fakes_http.server import FakeHttpServer, Reply, fake_server  # noqa: F401

KEY = "mj-test-key-0123456789abcdef"
URLS = [f"https://cdn.midapi.example/t1/{i}.png" for i in range(4)]


def make(server: FakeHttpServer, **kw: Any) -> tuple[MidjourneyClient, ms.FakeClock]:
    clock = ms.FakeClock()
    kw.setdefault("request_timeout_s", 5.0)
    settings = MediaClientSettings(base_urls={"midjourney": server.base_url}, **kw)
    return MidjourneyClient({"midapi_api_key": KEY}, settings, sleep=clock.sleep,
                            monotonic=clock.monotonic), clock


def test_txt2img_task_polling_and_items(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.MJ_GENERATE, Reply(json=ms.mj_task("t1")))
    fake_server.script(ms.MJ_RECORD, Reply(json=ms.mj_record("t1", 0)),
                       Reply(json=ms.mj_record("t1", 0)), Reply(json=ms.mj_record("t1", 1, URLS)))
    client, clock = make(fake_server)
    seen: list[dict[str, Any]] = []
    result = client.txt2img("a cosy cabin", client.format_params(
        {"aspect_ratio": "9:16", "speed": "turbo", "version": "7", "stylization": "100"}),
        seen.append)
    create = fake_server.requests[0]
    assert create.headers["authorization"] == f"Bearer {KEY}"
    assert create.body == {"taskType": "mj_txt2img", "prompt": "a cosy cabin",
                           "aspectRatio": "9:16", "speed": "turbo", "version": "7",
                           "stylization": 100}
    polls = fake_server.requests[1:]
    assert all(p.method == "GET" and p.query == {"taskId": "t1"} for p in polls)
    assert len(polls) == 3 and clock.sleeps == [2.0, 2.0] and len(seen) == 2
    assert [i.url for i in result.content] == URLS
    assert result.provider_task_id == "t1" and result.content[0].extension == "png"
    assert result.usage is not None and result.usage.total_cost == pytest.approx(0.08)
    assert result.usage.image_count == 4


def test_img2vid_needs_url_and_polls_slowly(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.MJ_GENERATE, Reply(json=ms.mj_task("v1")))
    fake_server.script(ms.MJ_RECORD, Reply(json=ms.mj_record("v1", 0)),
                       Reply(json=ms.mj_record("v1", 1, ["https://cdn.example/v1.mp4"])))
    client, clock = make(fake_server)
    with pytest.raises(InvalidRequestError, match="http"):
        client.img2vid("data:image/png;base64,AAAA", "p", {}, lambda d: None)
    result = client.img2vid("https://cdn.example/still.png", "it moves", {}, lambda d: None)
    assert fake_server.requests[0].body == {"taskType": "mj_video", "prompt": "it moves",
                                            "fileUrl": "https://cdn.example/still.png",
                                            "speed": "fast"}
    assert clock.sleeps == [10.0]
    assert (result.content[0].content_type, result.content[0].extension) == ("video", "mp4")


def test_envelope_error_codes_map_like_statuses(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.MJ_GENERATE, Reply(json=ms.mj_task("", code=401,
                                                             msg=f"bad key {KEY}")),
                       Reply(json=ms.mj_task("", code=402, msg="Insufficient credits")),
                       Reply(json=ms.mj_task("", code=500, msg="server")),
                       Reply(json=ms.mj_task("t1")))
    client, clock = make(fake_server)
    with pytest.raises(AuthenticationError) as auth:
        client.txt2img("p", {}, lambda d: None)
    assert KEY not in auth.value.message
    with pytest.raises(InsufficientCreditsError):
        client.txt2img("p", {}, lambda d: None)
    fake_server.script(ms.MJ_RECORD, Reply(json=ms.mj_record("t1", 1, URLS)))
    with pytest.raises(ServerError):   # envelope errors are not retried: they are not HTTP 5xx
        client.txt2img("p", {}, lambda d: None)
    assert len(client.txt2img("p", {}, lambda d: None).content) == 4


def test_http_429_then_success(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.MJ_GENERATE, Reply(status=429, json={"msg": "slow"},
                                             headers={"retry-after": "5"}),
                       Reply(json=ms.mj_task("t1")))
    fake_server.script(ms.MJ_RECORD, Reply(json=ms.mj_record("t1", 1, URLS)))
    client, clock = make(fake_server)
    assert len(client.txt2img("p", {}, lambda d: None).content) == 4
    assert clock.sleeps == [5.0]


def test_failure_timeout_cancel(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.MJ_GENERATE, Reply(json=ms.mj_task("t1")))
    fake_server.script(ms.MJ_RECORD, Reply(json=ms.mj_record("t1", 3, error="banned prompt")))
    client, _ = make(fake_server)
    with pytest.raises(GenerationError, match="banned prompt"):
        client.txt2img("p", {}, lambda d: None)
    fake_server.script(ms.MJ_RECORD, Reply(json=ms.mj_record("t1", 0)))
    client, clock = make(fake_server, poll_timeout_s=3.0)
    with pytest.raises(ProviderTimeoutError):
        client.txt2img("p", {}, lambda d: None)

    def cancel(update: dict[str, Any]) -> None:
        raise ProviderCancelled("Operation cancelled")

    with pytest.raises(ProviderCancelled):
        client.txt2img("p", {}, cancel)


def test_credential_and_validation(fake_server: FakeHttpServer) -> None:
    with pytest.raises(ProviderUnavailable, match="midapi_api_key"):
        MidjourneyClient({})
    client, _ = make(fake_server)
    with pytest.raises(InvalidRequestError, match="speed"):
        client.txt2img("p", {"speed": "warp"}, lambda d: None)
    with pytest.raises(InvalidRequestError):
        client.img2img("https://x", "p", {}, lambda d: None)
    assert fake_server.requests == []
