"""Mock providers, models configuration and static media info (providers.md PRV-8, PRV-12,
PRV-14…16, §3.4, §4.5)."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from engine import media_catalog
from engine.mock_data import MOCK_PLACEHOLDER_URL, generate_mock
from engine.ports import CancelToken
from engine.provider_types import (
    ContentPart,
    InvalidRequestError,
    LLMRequest,
    Message,
    ProviderCancelled,
)
from providers.llm import models
from providers.llm.mock import MockLLMProvider
from providers.media.base import MEDIA_PROVIDER_CLASSES
from providers.media.mock import MockMediaProvider

SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
          "required": ["a", "b"]}


def request(schema: Any = None, seed: int = 42) -> LLMRequest:
    return LLMRequest(model="x", messages=[Message(role="user", content=[
        ContentPart(type="text", value="hi")])], output_schema=schema, seed=seed)


# ------------------------------------------------------------------ PRV-12 mock LLM


def test_prv12_structured_content_and_text() -> None:
    result = MockLLMProvider().call(request(SCHEMA), {})
    assert result.content == generate_mock(SCHEMA, 42)
    assert result.content_text == json.dumps(result.content, indent=2, ensure_ascii=False)
    assert result.model == "mock-preview"
    u = result.usage
    assert (u.prompt_tokens, u.completion_tokens, u.total_tokens, u.cached_tokens,
            u.cost_usd) == (0, 0, 0, 0, 0.0)


def test_prv12_text_content_without_schema() -> None:
    result = MockLLMProvider().call(request(None, seed=7), {})
    assert result.content == generate_mock(None, 7) == result.content_text


def test_prv12_deterministic_and_leaves_global_random_alone() -> None:
    state = random.getstate()
    a = MockLLMProvider().call(request(SCHEMA, seed=5), {})
    b = MockLLMProvider().call(request(SCHEMA, seed=5), {})
    assert a.content == b.content
    assert random.getstate() == state


def test_prv12_streaming_in_three_chunks() -> None:
    chunks: list[str] = []
    result = MockLLMProvider().call_streaming(request(SCHEMA), {}, CancelToken(), chunks.append)
    assert len(chunks) == 3 and "".join(chunks) == result.content_text


def test_prv12_streaming_honours_cancel_between_chunks() -> None:
    token = CancelToken()
    chunks: list[str] = []

    def on_chunk(text: str) -> None:
        chunks.append(text)
        token.cancel()

    with pytest.raises(ProviderCancelled):
        MockLLMProvider().call_streaming(request(SCHEMA), {}, token, on_chunk)
    assert len(chunks) == 1


# ------------------------------------------------------------------ §3.4 models, PRV-8


def test_models_config_lists_every_model_id() -> None:
    assert models.model_ids("openai") == ["gpt-5.2", "gpt-5.1", "gpt-5", "gpt-5-mini", "gpt-4.1",
                                          "gpt-4.1-mini", "gpt-4o", "gpt-4o-mini"]
    assert models.model_ids("anthropic") == ["claude-sonnet-4-5", "claude-opus-4-1",
                                             "claude-haiku-4-5"]
    assert models.default_model("openai") == "gpt-5.2"
    assert models.default_model("anthropic") == "claude-sonnet-4-5"
    listing = models.models_listing()
    assert listing["default_provider"] == "openai" and listing["default_model"] == "gpt-5.2"
    assert listing["providers"]["anthropic"]["models"][0] == {"id": "claude-sonnet-4-5",
                                                              "name": "Claude Sonnet 4.5"}


def test_models_config_entries_are_complete() -> None:
    config = models.load_config()
    for provider in config["providers"].values():
        for entry in provider["models"]:
            assert {"id", "name", "vision", "structured_output", "temperature",
                    "reasoning_effort", "max_output_tokens", "price_per_million"} <= set(entry)
            assert set(entry["price_per_million"]) == {"prompt", "completion", "cached"}


def test_capabilities_known_and_unknown_models() -> None:
    caps = models.capabilities("gpt-5.2")
    assert caps.vision and caps.structured_output and not caps.temperature
    assert caps.api_endpoint == "responses"
    unknown = models.capabilities("mystery-model")
    assert unknown.vision is False and unknown.structured_output is False


def test_prv8_cost_formula(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "prices",
                        lambda model: {"prompt": 2.0, "completion": 10.0, "cached": 0.5})
    cost = models.cost_usd("any", prompt_tokens=1_000, completion_tokens=200, cached_tokens=400)
    assert cost == pytest.approx((600 * 2.0 + 200 * 10.0 + 400 * 0.5) / 1_000_000)
    usage = models.usage_for("gpt-4o", 100, 50, 10)
    assert usage.total_tokens == 150 and usage.display_name == "GPT-4o"


# ------------------------------------------------------------------ PRV-14/15 static info


def test_prv14_classes_expose_catalog_schemas_and_actions() -> None:
    leo = MEDIA_PROVIDER_CLASSES["leonardo"]
    assert leo.actions == ("txt2img", "img2img", "img2vid") and leo.concurrency == 3
    assert leo.get_data_schema("img2vid") == media_catalog.data_schema("leonardo", "img2vid")
    assert leo.get_metadata("txt2img") == media_catalog.provider_metadata("leonardo", "txt2img")
    assert MEDIA_PROVIDER_CLASSES["midjourney"].concurrency == 1
    assert MEDIA_PROVIDER_CLASSES["elevenlabs"].actions == ("txt2audio",)
    with pytest.raises(InvalidRequestError):
        MEDIA_PROVIDER_CLASSES["elevenlabs"].get_data_schema("txt2img")
    assert MEDIA_PROVIDER_CLASSES["stable_diffusion"].get_metadata("img2vid") == {}


# ------------------------------------------------------------------ PRV-16 mock media


@pytest.mark.parametrize("params, n", [({}, 1), ({"num_images": 4}, 4), ({"num_images": "3"}, 3),
                                       ({"num_images": 0}, 1), ({"num_images": 5}, 1),
                                       ({"num_images": True}, 1), ({"num_images": 2.0}, 1),
                                       ({"num_images": "two"}, 1)])
def test_prv16_number_of_items(params: dict[str, Any], n: int) -> None:
    result = MockMediaProvider("openai").txt2img("p", params, lambda d: None)
    assert len(result.content) == n


@pytest.mark.parametrize("provider, action, kind", [
    ("leonardo", "txt2img", "image"), ("openai", "img2img", "image"),
    ("midjourney", "img2vid", "video"), ("elevenlabs", "txt2audio", "audio")])
def test_prv16_items_by_action(provider: str, action: str, kind: str) -> None:
    mock = MockMediaProvider(provider)
    progress: list[dict[str, Any]] = []
    method = getattr(mock, action)
    args = ("p", {}, progress.append) if action.startswith("txt") else ("src", "p", {},
                                                                        progress.append)
    result = method(*args)
    (item,) = result.content
    assert (item.url, item.content_type, item.seed) == (MOCK_PLACEHOLDER_URL, kind, -1)
    assert result.usage is None
    assert progress == [{"status": "processing",
                         "progress": {"elapsed_ms": 0, "message": "Generating (mock)"}}]


def test_prv16_same_actions_as_real_provider() -> None:
    for provider, actions in media_catalog.PROVIDER_ACTIONS.items():
        assert MockMediaProvider(provider).actions == tuple(actions)
    with pytest.raises(InvalidRequestError):
        MockMediaProvider("stable_diffusion").img2vid("s", "p", {}, lambda d: None)


def test_prv16_preview_info() -> None:
    info = MockMediaProvider("leonardo").get_preview_info("txt2img", {"num_images": "2"})
    assert info.resolution == {"width": 1024, "height": 1024, "megapixels": 1.05}
    assert info.credits == {"credits": 0, "cost_per_credit": 0, "total_cost_usd": 0,
                            "num_images": 2, "credits_per_image": 0, "cost_per_image_usd": 0}
