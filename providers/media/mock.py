"""Deterministic mock media provider (providers.md PRV-16): no I/O, no sleeping."""

from __future__ import annotations

import base64
from typing import Any, Iterator

import engine.media_catalog as media_catalog
from engine.mock_data import MOCK_PLACEHOLDER_URL
from engine.provider_types import (
    ContentItem,
    GenerationResult,
    InvalidRequestError,
    PreviewInfo,
    ProgressCallback,
    ProviderError,
)

_KIND = {"txt2img": "image", "img2img": "image", "img2vid": "video", "txt2audio": "audio"}


def image_count(params: dict[str, Any]) -> int:
    """`num_images` when it is an integer (or integer string) in 1–4, else 1."""
    value = (params or {}).get("num_images")
    if isinstance(value, bool):
        return 1
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    return value if isinstance(value, int) and 1 <= value <= 4 else 1


class MockMediaProvider:
    """Pretends to be provider `provider_id`, with that provider's actions."""

    def __init__(self, provider_id: str) -> None:
        self.provider_id = provider_id
        self.actions: tuple[str, ...] = tuple(media_catalog.PROVIDER_ACTIONS.get(provider_id, ()))
        self.concurrency = media_catalog.PROVIDER_CONCURRENCY.get(provider_id, 1)

    def format_params(self, params: dict[str, Any]) -> dict[str, Any]:
        return dict(params or {})

    def _generate(self, action: str, params: dict[str, Any],
                  progress: ProgressCallback | None) -> GenerationResult:
        if action not in self.actions:
            raise InvalidRequestError(
                f"Provider '{self.provider_id}' does not support '{action}'")
        if progress is not None:
            progress({"status": "processing",
                      "progress": {"elapsed_ms": 0, "message": "Generating (mock)"}})
        items = [ContentItem(url=MOCK_PLACEHOLDER_URL, content_type=_KIND[action], seed=-1)
                 for _ in range(image_count(params))]
        return GenerationResult(content=items, raw_response={"mock": True}, usage=None)

    def txt2img(self, prompt: str, params: dict[str, Any],
                progress: ProgressCallback) -> GenerationResult:
        return self._generate("txt2img", params, progress)

    def img2img(self, source_image: str, prompt: str, params: dict[str, Any],
                progress: ProgressCallback) -> GenerationResult:
        return self._generate("img2img", params, progress)

    def img2vid(self, source_image: str, prompt: str, params: dict[str, Any],
                progress: ProgressCallback) -> GenerationResult:
        return self._generate("img2vid", params, progress)

    def txt2audio(self, prompt: str, params: dict[str, Any],
                  progress: ProgressCallback) -> GenerationResult:
        return self._generate("txt2audio", params, progress)

    def fetch_content(self, item: ContentItem, max_bytes: int) -> Iterator[bytes]:
        """Only the mock's own placeholder (a data URL) exists; decoding it is not I/O."""
        if not item.url.startswith("data:") or "," not in item.url:
            raise InvalidRequestError("The mock media provider has only data URLs")
        data = base64.b64decode(item.url.split(",", 1)[1])
        if len(data) > max_bytes:
            raise ProviderError("Generated media is too large", error_code="content_too_large")
        yield data

    def get_preview_info(self, action: str, params: dict[str, Any]) -> PreviewInfo:
        return PreviewInfo(
            resolution={"width": 1024, "height": 1024, "megapixels": 1.05},
            credits={"credits": 0, "cost_per_credit": 0, "total_cost_usd": 0,
                     "num_images": image_count(params), "credits_per_image": 0,
                     "cost_per_image_usd": 0})
