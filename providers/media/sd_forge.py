"""Stable Diffusion through an AUTOMATIC1111 / Forge server (`/sdapi/v1/*`).

The server's address is the credential `SD_FORGE_API_URL` (PRV-2): it may carry basic-auth
userinfo, so it is scrubbed from messages like a key. txt2img / img2img are single blocking
POSTs; while one runs in a worker thread we poll `/sdapi/v1/progress` for the progress bar and,
when the engine cancels (or the job overruns), ask the server to stop via `/sdapi/v1/interrupt`.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlsplit

from engine.provider_types import (
    ContentItem,
    Credentials,
    GenerationError,
    GenerationResult,
    ProgressCallback,
    ProviderError,
    ProviderUnavailable,
    UsageInfo,
)
from providers.media.mock import image_count
from providers.media.polling import PollStatus
from providers.media.source_image import to_data_url
from providers.media.vendor_base import VendorMediaClient, ratio_size

DEFAULT_STEPS = 25
DEFAULT_CFG = 7.0
DEFAULT_SAMPLER = "Euler a"
DEFAULT_DENOISING = 0.6


def _dimensions(params: dict[str, Any]) -> tuple[int, int] | None:
    """`width`/`height`, or the display schema's `resolution` ({width, height} or "WxH")."""
    resolution = params.get("resolution")
    if isinstance(resolution, dict):
        params = {**params, **{k: resolution.get(k) for k in ("width", "height")}}
    elif isinstance(resolution, str) and "x" in resolution:
        w, _, h = resolution.lower().partition("x")
        if w.strip().isdigit() and h.strip().isdigit():
            return int(w), int(h)
    width, height = params.get("width"), params.get("height")
    if str(width).isdigit() and str(height).isdigit():
        return int(width), int(height)  # type: ignore[arg-type]
    return None


def combined_prompt(prompt: str, params: dict[str, Any]) -> str:
    """The chosen style's prompt (`prompt_type` tag/natural), else both joined, else `prompt`."""
    tag = str(params.get("tag_prompt") or "").strip()
    natural = str(params.get("natural_prompt") or "").strip()
    chosen = {"tag": tag, "natural": natural}.get(str(params.get("prompt_type") or ""))
    if chosen:
        return chosen
    return ", ".join(part for part in (tag, natural) if part) or (prompt or "").strip()


class SDForgeClient(VendorMediaClient):
    provider_id = "stable_diffusion"
    vendor = "Stable Diffusion"

    def __init__(self, credentials: Credentials, *args: Any, **kwargs: Any) -> None:
        super().__init__(credentials, *args, **kwargs)
        if urlsplit(self._secret).scheme not in ("http", "https"):
            raise ProviderUnavailable("SD_FORGE_API_URL must be an http(s) URL")

    def base_url(self) -> str:
        return self._secret

    def resolution(self, action: str, params: dict[str, Any]) -> tuple[int, int]:
        return _dimensions(params) or ratio_size(str(params.get("aspect_ratio") or "2:3"), 768)

    def payload(self, prompt: str, params: dict[str, Any]) -> dict[str, Any]:
        params = self.format_params(params)
        combo: Any = params.get("sampler_combo") if isinstance(params.get("sampler_combo"),
                                                                dict) else {}
        width, height = self.resolution("txt2img", params)
        body: dict[str, Any] = {
            "prompt": combined_prompt(prompt, params),
            "negative_prompt": str(params.get("negative_prompt") or ""),
            "steps": int(combo.get("steps") or params.get("steps") or DEFAULT_STEPS),
            "cfg_scale": float(combo.get("cfg_scale") or params.get("cfg_scale") or DEFAULT_CFG),
            "width": width, "height": height,
            "sampler_name": str(combo.get("sampler") or params.get("sampler_name")
                                or DEFAULT_SAMPLER),
            "seed": int(params["seed"]) if isinstance(params.get("seed"), int) else -1,
            "batch_size": int(params.get("batch_size") or image_count(params)),
        }
        scheduler = combo.get("scheduler") or params.get("scheduler")
        if scheduler:
            body["scheduler"] = str(scheduler)
        if params.get("checkpoint"):
            body["override_settings"] = {"sd_model_checkpoint": str(params["checkpoint"])}
        return body

    def txt2img(self, prompt: str, params: dict[str, Any],
                progress: ProgressCallback) -> GenerationResult:
        return self._generate("txt2img", self.payload(prompt, params), params, progress)

    def img2img(self, source_image: str, prompt: str, params: dict[str, Any],
                progress: ProgressCallback) -> GenerationResult:
        body = self.payload(prompt, params)
        data = self.source_image(source_image)[0]
        body["init_images"] = [base64.b64encode(data).decode("ascii")]
        strength = self.format_params(params).get("denoising_strength")
        body["denoising_strength"] = (float(strength) if isinstance(strength, (int, float))
                                      else DEFAULT_DENOISING)
        return self._generate("img2img", body, params, progress)

    def _generate(self, action: str, body: dict[str, Any], params: dict[str, Any],
                  progress: ProgressCallback) -> GenerationResult:
        timeout = self.settings.sd_poll_timeout_s
        response = self.run_blocking(
            lambda: self.json_of(self.request("POST", self.url(f"/sdapi/v1/{action}"),
                                              json_body=body, timeout_s=timeout)),
            progress, timeout_s=timeout, message=self._progress, on_stop=self._interrupt)
        return self._result(action, body, params, response)

    def _progress(self) -> PollStatus:
        """The server's own progress; a failing progress call only loses the percentage."""
        try:
            state = self.json_of(self.request("GET", self.url("/sdapi/v1/progress"),
                                              params={"skip_current_image": "true"},
                                              attempts=1))
        except ProviderError:
            return PollStatus(done=False, message="Generating")
        fraction = state.get("progress")
        if not isinstance(fraction, (int, float)):
            return PollStatus(done=False, message="Generating")
        percent = max(0.0, min(1.0, float(fraction))) * 100
        eta = state.get("eta_relative")
        suffix = f", about {float(eta):.0f} s left" if isinstance(eta, (int, float)) else ""
        return PollStatus(done=False, message=f"Generating {percent:.0f}%{suffix}",
                          percent=percent)

    def _interrupt(self) -> None:
        self.request("POST", self.url("/sdapi/v1/interrupt"), attempts=1)

    def _result(self, action: str, body: dict[str, Any], params: dict[str, Any],
                response: dict[str, Any]) -> GenerationResult:
        images = [i for i in response.get("images") or [] if isinstance(i, str) and i]
        info = self._info(response.get("info"))
        seeds = [s for s in info.get("all_seeds") or [] if isinstance(s, int)]
        if len(seeds) > 1 and len(images) == len(seeds) + 1:
            images = images[1:]   # the server was configured to prepend a grid image
        if not images:
            raise GenerationError("Stable Diffusion returned no images")
        first = info.get("seed") if isinstance(info.get("seed"), int) else None
        items = []
        for index, encoded in enumerate(images):
            seed = seeds[index] if index < len(seeds) else (
                first + index if first is not None else -1)
            items.append(ContentItem(url=to_data_url("image/png", base64.b64decode(encoded)),
                                     content_type="image", seed=seed, extension="png"))
        model = str(params.get("checkpoint") or info.get("sd_model_name") or "stable-diffusion")
        usage = UsageInfo(provider=self.provider_id, model=model, display_name=model,
                          action_type=action, total_cost=0.0, image_count=len(items))
        keep = ("seed", "all_seeds", "width", "height", "sampler_name", "steps", "cfg_scale",
                "sd_model_name")
        raw = {"info": {k: info[k] for k in keep if k in info}, "image_count": len(items),
               "prompt": body["prompt"]}
        return GenerationResult(content=items, raw_response=raw, usage=usage)

    @staticmethod
    def _info(value: Any) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        try:
            parsed = json.loads(value) if isinstance(value, str) else {}
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
