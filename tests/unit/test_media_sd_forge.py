"""SD Forge client against a local fake AUTOMATIC1111/Forge server (providers.md §4, PRV-2)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from engine.provider_types import (
    GenerationError,
    InvalidRequestError,
    ProviderCancelled,
    ProviderTimeoutError,
    ProviderUnavailable,
    ServerError,
)
from providers.credentials import build_credentials
from providers.media.sd_forge import SDForgeClient, combined_prompt
from providers.media.settings import MediaClientSettings
from providers.media.source_image import parse_data_url
from tests.fakes_http import media_shapes as ms
from tests.fakes_http.server import FakeHttpServer, Reply, fake_server  # noqa: F401


def make(server: FakeHttpServer, clock: ms.FakeClock | None = None,
         url: str | None = None, **kw: Any) -> SDForgeClient:
    kw.setdefault("poll_interval_s", 0.03)
    kw.setdefault("sd_poll_timeout_s", 5.0)
    clock = clock or ms.FakeClock()
    base = url or f"http://user:sd-pass-0123456789@127.0.0.1:{server.base_url.rsplit(':', 1)[1]}"
    return SDForgeClient({"sd_forge_api_url": base}, MediaClientSettings(**kw),
                         sleep=clock.sleep)


def posts(server: FakeHttpServer, path: str) -> list[Any]:
    return [r for r in server.requests if r.path == path and r.method == "POST"]


def test_txt2img_payload_items_and_seeds(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.SD_TXT2IMG, Reply(json=ms.sd_images(ms.PNG, ms.PNG,
                                                              all_seeds=[11, 12])))
    fake_server.script(ms.SD_PROGRESS, Reply(json=ms.sd_progress(0.5)))
    params = {"prompt_type": "tag", "tag_prompt": "cat, hat, (cute:1.2)",
              "natural_prompt": "A cat.", "negative_prompt": "blurry",
              "resolution": {"width": "512", "height": "768"}, "batch_size": "2",
              "sampler_combo": {"sampler": "DPM++ 2M", "scheduler": "Karras", "steps": 30,
                                "cfg_scale": 5.5},
              "checkpoint": "juggernaut.safetensors", "seed": "42"}
    client = make(fake_server)
    result = client.txt2img("ignored", client.format_params(params), lambda d: None)
    body = posts(fake_server, ms.SD_TXT2IMG)[0].body
    assert body == {"prompt": "cat, hat, (cute:1.2)", "negative_prompt": "blurry",
                    "steps": 30, "cfg_scale": 5.5, "width": 512, "height": 768,
                    "sampler_name": "DPM++ 2M", "scheduler": "Karras", "seed": 42,
                    "batch_size": 2,
                    "override_settings": {"sd_model_checkpoint": "juggernaut.safetensors"}}
    assert [item.seed for item in result.content] == [11, 12]
    assert all(item.extension == "png" and item.content_type == "image"
               for item in result.content)
    assert parse_data_url(result.content[0].url) == ("image/png", ms.PNG)
    assert result.usage is not None and result.usage.image_count == 2
    assert result.usage.model == "juggernaut.safetensors" and result.usage.total_cost == 0.0


def test_defaults_and_grid_image_dropped(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.SD_TXT2IMG, Reply(json=ms.sd_images(
        ms.JPEG, ms.PNG, ms.PNG, all_seeds=[5, 6])))
    result = make(fake_server).txt2img("a plain prompt", {}, lambda d: None)
    body = posts(fake_server, ms.SD_TXT2IMG)[0].body
    assert body["prompt"] == "a plain prompt" and body["seed"] == -1
    assert body["batch_size"] == 1 and body["sampler_name"] == "Euler a"
    assert (body["width"], body["height"]) == (512, 768)
    assert [parse_data_url(i.url)[1] for i in result.content] == [ms.PNG, ms.PNG]
    assert [i.seed for i in result.content] == [5, 6]


def test_combined_prompt_rules() -> None:
    both = {"tag_prompt": "a, b", "natural_prompt": "A thing."}
    assert combined_prompt("p", both) == "a, b, A thing."
    assert combined_prompt("p", {**both, "prompt_type": "natural"}) == "A thing."
    assert combined_prompt("p", {"prompt_type": "tag"}) == "p"


def test_img2img_sends_init_image_and_denoising(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.SD_IMG2IMG, Reply(json=ms.sd_images(ms.PNG, seed=77)))
    source = "data:image/png;base64," + ms.b64(ms.JPEG)
    result = make(fake_server).img2img(source, "p", {"denoising_strength": "0.35"},
                                       lambda d: None)
    body = posts(fake_server, ms.SD_IMG2IMG)[0].body
    assert body["init_images"] == [ms.b64(ms.JPEG)] and body["denoising_strength"] == 0.35
    assert result.content[0].seed == 77 and result.usage.action_type == "img2img"


def test_progress_polled_while_generating(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.SD_TXT2IMG, Reply(json=ms.sd_images(ms.PNG), delay_s=0.4))
    fake_server.script(ms.SD_PROGRESS, Reply(json=ms.sd_progress(0.25, eta=9)),
                       Reply(json=ms.sd_progress(0.75, eta=2)))
    seen: list[dict[str, Any]] = []
    make(fake_server).txt2img("p", {}, seen.append)
    gets = [r for r in fake_server.requests if r.path == ms.SD_PROGRESS]
    assert len(gets) >= 2 and gets[0].method == "GET"
    assert gets[0].query == {"skip_current_image": "true"}
    assert seen[0]["progress"]["message"] == "Generating 25%, about 9 s left"
    assert seen[0]["progress"]["percent"] == 25.0
    assert any(u["progress"].get("percent") == 75.0 for u in seen)


def test_cancel_interrupts_the_server(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.SD_TXT2IMG, Reply(json=ms.sd_images(ms.PNG), delay_s=5.0))
    fake_server.script(ms.SD_PROGRESS, Reply(json=ms.sd_progress(0.1)))
    fake_server.script(ms.SD_INTERRUPT, Reply(json={}))
    calls: list[dict[str, Any]] = []

    def progress(update: dict[str, Any]) -> None:
        calls.append(update)
        if len(calls) == 2:
            raise ProviderCancelled("Operation cancelled")

    started = time.monotonic()
    with pytest.raises(ProviderCancelled):
        make(fake_server).txt2img("p", {}, progress)
    assert time.monotonic() - started < 2.0
    assert len(posts(fake_server, ms.SD_INTERRUPT)) == 1


def test_overall_timeout_interrupts(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.SD_TXT2IMG, Reply(json=ms.sd_images(ms.PNG), delay_s=3.0))
    fake_server.script(ms.SD_PROGRESS, Reply(status=500, json={"detail": "busy"}))
    fake_server.script(ms.SD_INTERRUPT, Reply(json={}))
    seen: list[dict[str, Any]] = []
    with pytest.raises(ProviderTimeoutError):
        make(fake_server, sd_poll_timeout_s=0.3, max_attempts=1).txt2img("p", {}, seen.append)
    assert len(posts(fake_server, ms.SD_INTERRUPT)) == 1
    assert seen and seen[0]["progress"]["message"] == "Generating"


def test_429_retry_after_then_success(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.SD_TXT2IMG, Reply(status=429, json={"detail": "queue full"},
                                            headers={"retry-after": "3"}),
                       Reply(json=ms.sd_images(ms.PNG)))
    clock = ms.FakeClock()
    result = make(fake_server, clock).txt2img("p", {}, lambda d: None)
    assert len(result.content) == 1 and clock.sleeps == [3.0]
    assert len(posts(fake_server, ms.SD_TXT2IMG)) == 2


def test_500_retried_then_server_error_without_address(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.SD_TXT2IMG, Reply(status=500, json={
        "error": "OutOfMemoryError", "detail": "CUDA out of memory"}))
    client = make(fake_server)
    with pytest.raises(ServerError) as info:
        client.txt2img("p", {}, lambda d: None)
    assert len(posts(fake_server, ms.SD_TXT2IMG)) == 3
    assert "OutOfMemoryError" in info.value.message
    assert "sd-pass-0123456789" not in info.value.message


def test_request_timeout_is_provider_timeout(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.SD_TXT2IMG, Reply(json=ms.sd_images(ms.PNG), delay_s=3.0))
    fake_server.script(ms.SD_PROGRESS, Reply(json=ms.sd_progress(0.1)))
    fake_server.script(ms.SD_INTERRUPT, Reply(json={}))
    with pytest.raises(ProviderTimeoutError):
        make(fake_server, sd_poll_timeout_s=0.2, request_timeout_s=0.2,
             max_attempts=1).txt2img("p", {}, lambda d: None)


def test_no_images_is_generation_error(fake_server: FakeHttpServer) -> None:
    fake_server.script(ms.SD_TXT2IMG, Reply(json={"images": [], "info": "{}"}))
    with pytest.raises(GenerationError):
        make(fake_server).txt2img("p", {}, lambda d: None)


def test_credential_is_the_address(fake_server: FakeHttpServer) -> None:
    with pytest.raises(ProviderUnavailable, match="sd_forge_api_url"):
        SDForgeClient({"openai_api_key": "sk-other-0123456789"})
    # the server setting SD_FORGE_API_URL becomes that credential (PRV-2)
    from_settings = build_credentials({"SD_FORGE_API_URL": fake_server.base_url}, None)
    assert SDForgeClient(from_settings).base_url() == fake_server.base_url
    with pytest.raises(ProviderUnavailable, match="http") as info:
        SDForgeClient({"sd_forge_api_url": "ftp://secret-host-xyz"})
    assert "secret-host-xyz" not in info.value.message


def test_unsupported_action_and_preview(fake_server: FakeHttpServer) -> None:
    client = make(fake_server)
    with pytest.raises(InvalidRequestError):
        client.img2vid("data:,", "p", {}, lambda d: None)
    preview = client.get_preview_info("txt2img", {"resolution": "832x1216",
                                                  "num_images": 2})
    assert preview.resolution == {"width": 832, "height": 1216, "megapixels": 1.01}
    assert preview.credits["total_cost_usd"] == 0 and preview.credits["num_images"] == 2
    assert fake_server.requests == []
