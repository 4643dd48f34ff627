"""Issue 12: a media vendor is its client file plus one record (engine/media_vendor.py).

A fake vendor is registered here only, with its record and a small client class, and every table
that derives from records knows it: the engine's catalog and generateV2's provider check, the
preview route's engine operation, the server settings and the per-call credentials, the client
settings' base address, and the live client registry (a real generation over HTTP).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from engine import MediaPreviewRequest
from engine.media_catalog import (
    PROVIDER_ACTIONS,
    PROVIDER_CONCURRENCY,
    PROVIDER_CREDENTIAL,
    data_schema,
    prompt_providers,
    provider_metadata,
)
from engine.media_vendor import MediaVendor, vendor
from engine.modules.media.v2_prompts import check_inputs, output_schema
from engine.provider_types import ContentItem, GenerationResult, ProgressCallback
from providers.credentials import build_credentials, missing_key_message
from providers.media.base import MEDIA_PROVIDER_CLASSES
from providers.media.registry import media_factory, media_vendor
from providers.media.settings import MediaClientSettings
from providers.media.vendor_base import VendorMediaClient
from providers.provider_set import DefaultProviderSet
from tests.conftest import make_engine
from tests.fakes_http.server import FakeHttpServer, Reply, fake_server  # noqa: F401
from virtual_server.settings import load_settings

SCHEMA = {"type": "object", "properties": {"prompt": {"type": "string", "description": "Scene"}},
          "required": ["prompt"], "additionalProperties": False}
FAKE = MediaVendor(
    provider_id="fakeart", actions=("txt2img",), concurrency=2, credential="fakeart_api_key",
    key_setting="FAKEART_API_KEY", url_setting="FAKEART_BASE_URL",
    default_url="https://api.fakeart.example", schemas={"txt2img": SCHEMA},
    metadata={"txt2img": {"size": [{"key": "small", "label": "Small"}]}},
    prompt_actions=("txt2img",))


class FakeArtClient(VendorMediaClient):
    """All a client file holds: the vendor's HTTP exchange, auth and pricing."""

    provider_id = "fakeart"
    vendor = "FakeArt"

    def auth_headers(self) -> dict[str, str]:
        return {"x-fakeart-key": self._secret}

    def unit_price(self, action: str, params: dict[str, Any]) -> tuple[float, float]:
        return 2.0, 0.01

    def txt2img(self, prompt: str, params: dict[str, Any],
                progress: ProgressCallback) -> GenerationResult:
        body = self.json_of(self.request("POST", self.url("/v1/paint"),
                                         json_body={"prompt": prompt}))
        return GenerationResult(content=[ContentItem(url=body["url"], content_type="image",
                                                     seed=-1)], raw_response=body, usage=None)


@pytest.fixture
def fakeart() -> Iterator[None]:
    with media_vendor(FAKE, FakeArtClient):
        yield
    assert vendor("fakeart") is None and "fakeart" not in PROVIDER_ACTIONS


def test_the_catalog_derives_from_the_record(fakeart: None) -> None:
    assert PROVIDER_ACTIONS["fakeart"] == ("txt2img",)
    assert (PROVIDER_CONCURRENCY["fakeart"], PROVIDER_CREDENTIAL["fakeart"]) == (2, "fakeart_api_key")
    assert data_schema("fakeart", "txt2img") == SCHEMA
    assert provider_metadata("fakeart", "txt2img")["size"][0]["key"] == "small"
    info = MEDIA_PROVIDER_CLASSES["fakeart"]
    assert (info.actions, info.concurrency) == (("txt2img",), 2)
    assert "fakeart" in prompt_providers("txt2img")
    check_inputs("txt2img", ["fakeart", "openai"], {"user": "write prompts"})
    assert output_schema("txt2img", ["fakeart"])["properties"]["prompts"]["properties"] == \
        {"fakeart": SCHEMA}


def test_settings_and_credentials_know_the_vendor(fakeart: None) -> None:
    settings = load_settings({"WFE_JWT_SECRET": "s" * 32, "FAKEART_API_KEY": "fa-secret-123",
                              "FAKEART_BASE_URL": "http://fake.local/"})
    assert settings.provider_keys["FAKEART_API_KEY"] == "fa-secret-123"
    assert settings.provider_urls["FAKEART_BASE_URL"] == "http://fake.local"
    assert build_credentials(settings.provider_keys, None)["fakeart_api_key"] == "fa-secret-123"
    assert build_credentials({}, {"fakeart_api_key": "from-request"}) == \
        {"fakeart_api_key": "from-request"}
    assert "FAKEART_API_KEY" in missing_key_message("fakeart")
    client_settings = MediaClientSettings.from_values(settings.provider_urls)
    assert client_settings.base_url("fakeart") == "http://fake.local"
    assert MediaClientSettings().base_url("fakeart") == "https://api.fakeart.example"


def test_preview_through_the_engine(fakeart: None) -> None:
    """The preview route's engine operation builds the live client and asks its pricing."""
    providers = DefaultProviderSet(media_factory=media_factory(MediaClientSettings()))
    eng = make_engine(mode="virtual", providers=providers)
    req = MediaPreviewRequest(provider="fakeart", action_type="txt2img",
                              params={"num_images": "3"}, mock=False)
    preview = eng.media_preview("u", None, req.provider, req.action_type, dict(req.params),
                                {"fakeart_api_key": "fa-secret-123"}, req.mock)
    assert preview.credits["credits"] == 6.0 and preview.credits["total_cost_usd"] == 0.06
    assert preview.resolution["width"] == 1024


def test_a_live_generation_goes_to_the_configured_address(
        fakeart: None, fake_server: FakeHttpServer) -> None:
    fake_server.script("/v1/paint", Reply(json={"url": "https://cdn.fakeart.example/1.png"}))
    settings = MediaClientSettings.from_values({"FAKEART_BASE_URL": fake_server.base_url})
    client = DefaultProviderSet(media_factory=media_factory(settings)).for_call(False).media(
        "fakeart", {"fakeart_api_key": "fa-secret-123"})
    result = client.txt2img("a cat", {}, lambda event: None)
    assert result.content[0].url == "https://cdn.fakeart.example/1.png"
    sent = fake_server.requests[0]
    assert sent.body == {"prompt": "a cat"} and sent.headers["x-fakeart-key"] == "fa-secret-123"


def test_unregistered_vendor_is_unknown_everywhere() -> None:
    assert "fakeart" not in PROVIDER_ACTIONS and "fakeart" not in MEDIA_PROVIDER_CLASSES
    assert data_schema("fakeart", "txt2img") == {}
    settings = load_settings({"WFE_JWT_SECRET": "s" * 32, "FAKEART_API_KEY": "x"})
    assert "FAKEART_API_KEY" not in settings.provider_keys
