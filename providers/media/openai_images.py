"""OpenAI image generation (gpt-image models): txt2img via /v1/images/generations, img2img via
/v1/images/edits. Images come back inline as base64, so content items are data URLs and
`fetch_content` needs no network."""

from __future__ import annotations

import base64
from typing import Any

from engine.provider_types import (
    ContentItem,
    GenerationError,
    GenerationResult,
    InvalidRequestError,
    ProgressCallback,
    UsageInfo,
)
from providers.media.mock import image_count
from providers.media.source_image import to_data_url
from providers.media.vendor_base import VendorMediaClient

DEFAULT_IMAGE_MODEL = "gpt-image-1"
SIZES = {"1:1": "1024x1024", "2:3": "1024x1536", "3:2": "1536x1024"}
QUALITIES = ("low", "medium", "high")
FORMATS = ("png", "jpeg", "webp")
BACKGROUNDS = ("auto", "transparent", "opaque")
DISPLAY_NAMES = {"gpt-image-1-mini": "GPT Image 1 Mini", "gpt-image-1": "GPT Image 1",
                 "gpt-image-1.5": "GPT Image 1.5"}

#: USD per image by model, quality and size (square, portrait/landscape). Indicative only:
#: taken from OpenAI's published per-image estimates; the bill is token-based and may differ.
IMAGE_PRICES: dict[str, dict[str, tuple[float, float]]] = {
    "gpt-image-1-mini": {"low": (0.005, 0.006), "medium": (0.011, 0.015),
                         "high": (0.036, 0.052)},
    "gpt-image-1": {"low": (0.011, 0.016), "medium": (0.042, 0.063), "high": (0.167, 0.25)},
    "gpt-image-1.5": {"low": (0.009, 0.013), "medium": (0.034, 0.05), "high": (0.133, 0.2)},
}


def image_price(model: str, quality: str, size: str) -> float:
    square, oblong = IMAGE_PRICES.get(model, IMAGE_PRICES[DEFAULT_IMAGE_MODEL]).get(
        quality, IMAGE_PRICES[DEFAULT_IMAGE_MODEL]["medium"])
    return square if size == "1024x1024" else oblong


def _choice(params: dict[str, Any], key: str, allowed: tuple[str, ...], default: str) -> str:
    value = str(params.get(key) or default)
    if value not in allowed:
        raise InvalidRequestError(f"Unsupported {key} '{value}' (allowed: {', '.join(allowed)})")
    return value


class OpenAIImagesClient(VendorMediaClient):
    provider_id = "openai"
    vendor = "OpenAI"

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._secret}"}

    def image_options(self, params: dict[str, Any]) -> dict[str, Any]:
        """The request fields shared by generations and edits."""
        size = params.get("size")
        if size not in SIZES.values():
            ratio = str(params.get("aspect_ratio") or "1:1")
            if ratio not in SIZES:
                raise InvalidRequestError(f"Unsupported aspect_ratio '{ratio}' for OpenAI images")
            size = SIZES[ratio]
        return {"model": str(params.get("model") or DEFAULT_IMAGE_MODEL),
                "n": image_count(params), "size": size,
                "quality": _choice(params, "quality", QUALITIES, "medium"),
                "background": _choice(params, "background", BACKGROUNDS, "auto"),
                "output_format": _choice(params, "output_format", FORMATS, "png")}

    def resolution(self, action: str, params: dict[str, Any]) -> tuple[int, int]:
        width, height = self.image_options(params)["size"].split("x")
        return int(width), int(height)

    def unit_price(self, action: str, params: dict[str, Any]) -> tuple[float, float]:
        options = self.image_options(params)
        return image_price(options["model"], options["quality"], options["size"]), 1.0

    def txt2img(self, prompt: str, params: dict[str, Any],
                progress: ProgressCallback) -> GenerationResult:
        options = self._prompted(prompt, params)
        response = self.run_blocking(
            lambda: self.json_of(self.request("POST", self.url("/v1/images/generations"),
                                              json_body=options,
                                              timeout_s=self.settings.poll_timeout_s)),
            progress, timeout_s=self.settings.poll_timeout_s)
        return self._result("txt2img", options, response)

    def img2img(self, source_image: str, prompt: str, params: dict[str, Any],
                progress: ProgressCallback) -> GenerationResult:
        options = self._prompted(prompt, params)
        data, name, mime = self.source_image(source_image)
        fields = {key: str(value) for key, value in options.items()}
        response = self.run_blocking(
            lambda: self.json_of(self.request("POST", self.url("/v1/images/edits"), data=fields,
                                              files={"image": (name, data, mime)},
                                              timeout_s=self.settings.poll_timeout_s)),
            progress, timeout_s=self.settings.poll_timeout_s)
        return self._result("img2img", options, response)

    def _prompted(self, prompt: str, params: dict[str, Any]) -> dict[str, Any]:
        if not (prompt or "").strip():
            raise InvalidRequestError("OpenAI image generation needs a prompt")
        return {"prompt": prompt, **self.image_options(params)}

    def _result(self, action: str, options: dict[str, Any],
                response: dict[str, Any]) -> GenerationResult:
        fmt = options["output_format"]
        items = []
        for entry in response.get("data") or []:
            encoded = entry.get("b64_json") if isinstance(entry, dict) else None
            if not isinstance(encoded, str) or not encoded:
                continue
            items.append(ContentItem(url=to_data_url(f"image/{fmt}", base64.b64decode(encoded)),
                                     content_type="image", seed=-1, extension=fmt))
        if not items:
            raise GenerationError("OpenAI returned no images")
        model = options["model"]
        usage = UsageInfo(
            provider=self.provider_id, model=model,
            display_name=DISPLAY_NAMES.get(model, model), action_type=action,
            total_cost=round(image_price(model, options["quality"], options["size"])
                             * len(items), 6),
            image_count=len(items))
        raw = {"created": response.get("created"), "usage": response.get("usage"),
               "image_count": len(items), "size": options["size"],
               "quality": options["quality"]}
        return GenerationResult(content=items, raw_response=raw, usage=usage)
