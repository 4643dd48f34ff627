"""DefaultProviderSet, registries and credentials (providers.md §1, §2, PRV-1…5, PRV-9, PRV-13;
engine.md ENG-10)."""

from __future__ import annotations

import os

import pytest

from engine.provider_types import LLMRequest, ProviderError, ProviderUnavailable
from providers.credentials import build_credentials, strip_keys
from providers.http_fetch import GuardedHttpFetcher
from providers.llm.mock import MockLLMProvider
from providers.llm.registry import PlaceholderLLMClient, create_llm_client
from providers.media.mock import MockMediaProvider
from providers.provider_set import DefaultProviderSet


def explode(*args, **kwargs):
    raise AssertionError("live constructor called")


def test_prv4_mock_view_never_constructs_live_providers() -> None:
    view = DefaultProviderSet(llm_factory=explode, media_factory=explode,
                              fetcher_factory=explode).for_call(True)
    assert isinstance(view.llm("openai"), MockLLMProvider)
    assert isinstance(view.llm("anything-at-all"), MockLLMProvider)
    media = view.media("leonardo", {})
    assert isinstance(media, MockMediaProvider) and media.provider_id == "leonardo"
    with pytest.raises(ProviderError):
        view.fetcher()


def test_for_call_live_uses_the_injected_constructors() -> None:
    made: list[str] = []

    def llm_factory(name: str):
        made.append(name)
        return PlaceholderLLMClient(name)

    fetcher = GuardedHttpFetcher()
    view = DefaultProviderSet(llm_factory=llm_factory,
                              fetcher_factory=lambda: fetcher).for_call(False)
    assert view.llm("anthropic").provider_id == "anthropic" and made == ["anthropic"]
    assert view.fetcher() is fetcher
    # the view keeps working for the other mode
    assert isinstance(view.for_call(True).llm("x"), MockLLMProvider)


def test_unknown_llm_provider_error_code() -> None:
    with pytest.raises(ProviderError) as info:
        DefaultProviderSet().for_call(False).llm("acme")
    assert info.value.error_code == "unknown_provider" and info.value.retryable is False


def test_prv5_registry_returns_a_new_client_per_call() -> None:
    assert create_llm_client("openai") is not create_llm_client("openai")


def test_prv9_placeholder_fails_before_network() -> None:
    client = create_llm_client("anthropic")
    req = LLMRequest(model="claude-sonnet-4-5", messages=[])
    with pytest.raises(ProviderUnavailable, match="No API key configured for provider 'anthropic'"):
        client.call(req, {})
    assert client.default_model() == "claude-sonnet-4-5"
    placeholder = PlaceholderLLMClient("anthropic")
    with pytest.raises(ProviderUnavailable, match="not installed"):
        placeholder.call(req, {"anthropic_api_key": "k"})


def test_prv13_live_media_needs_its_credential_and_static_info_is_complete() -> None:
    view = DefaultProviderSet().for_call(False)
    with pytest.raises(ProviderUnavailable, match="needs the credential 'openai_api_key'"):
        view.media("openai", {"leonardo_api_key": "k"})
    client = view.media("openai", {"openai_api_key": "k"})
    assert client.provider_id == "openai" and "img2vid" in client.actions
    info = view.media_class("stable_diffusion")
    assert info.actions == ("txt2img", "img2img") and info.concurrency == 1
    assert set(info.get_data_schema("txt2img")["properties"]) == {
        "tag_prompt", "natural_prompt", "negative_prompt", "style_notes"}
    with pytest.raises(ProviderError):
        view.media_class("acme")


# ------------------------------------------------------------------ credentials


def test_prv2_ai_config_keys_beat_settings() -> None:
    creds = build_credentials(
        {"OPENAI_API_KEY": "settings-openai", "LEONARDO_API_KEY": "settings-leo",
         "SD_FORGE_API_URL": "http://sd:7860", "ANTHROPIC_API_KEY": ""},
        {"openai_api_key": "request-openai", "api_key": "request-generic", "model": "x",
         "elevenlabs_api_key": ""})
    assert creds == {"openai_api_key": "request-openai", "leonardo_api_key": "settings-leo",
                     "sd_forge_api_url": "http://sd:7860", "api_key": "request-generic"}


def test_prv2_credential_names_accepted_from_settings() -> None:
    assert build_credentials({"midapi_api_key": "m"}, None) == {"midapi_api_key": "m"}


def test_prv1_building_credentials_leaves_environment_untouched() -> None:
    before = dict(os.environ)
    build_credentials({"OPENAI_API_KEY": "k"}, {"api_key": "z"})
    assert dict(os.environ) == before


def test_eng10_strip_keys_at_any_depth() -> None:
    config = {"provider": "openai", "api_key": "a", "openai_api_key": "b",
              "nested": {"leonardo_api_key": "c", "keep": 1,
                         "list": [{"api_key": "d", "x": 2}]},
              "api_keys_note": "kept (does not end in _api_key)"}
    assert strip_keys(config) == {"provider": "openai",
                                  "nested": {"keep": 1, "list": [{"x": 2}]},
                                  "api_keys_note": "kept (does not end in _api_key)"}
    assert config["api_key"] == "a"   # input untouched
    assert strip_keys(None) is None
