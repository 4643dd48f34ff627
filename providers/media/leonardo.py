"""Leonardo.ai: txt2img / img2img (Phoenix) and img2vid (Motion, Veo, Kling).

Every action creates a job and polls `GET /api/rest/v1/generations/{id}` until it is COMPLETE
or FAILED. img2img and img2vid need the source as a Leonardo image: a generated image id passed
in `params.image_id`, or else the source is uploaded as an init image (a presigned S3 form,
which must not receive the API key). Leonardo has no cancel endpoint, so cancelling only stops
waiting. Result URLs are public CDN URLs.
"""

from __future__ import annotations

import json
from typing import Any

from engine.provider_types import (
    ContentItem,
    GenerationError,
    GenerationResult,
    InvalidRequestError,
    ProgressCallback,
    ServerError,
    UsageInfo,
)
from providers.media.mock import image_count
from providers.media.polling import PollStatus
from providers.media.source_image import url_extension
from providers.media.vendor_base import VendorMediaClient

PHOENIX = "de7d3faf-762f-48e0-b3b7-9d0ac3a3fcf3"
DEFAULT_VIDEO_MODEL = "MOTION2"
#: USD per API credit and credits per image / clip. Indicative only: Leonardo prices each job
#: itself (its `apiCreditCost` is what usage reports when present).
COST_PER_CREDIT = 0.002
IMAGE_CREDITS = {"fast": 8.0, "quality": 16.0, "ultra": 40.0}
VIDEO_CREDITS = {"MOTION2": 250.0, "MOTION2FAST": 120.0, "VEO3": 2000.0, "VEO3FAST": 1000.0,
                 "KLING2_1": 600.0, "KLING2_5": 700.0}
class LeonardoClient(VendorMediaClient):
    provider_id = "leonardo"
    vendor = "Leonardo"

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._secret}", "Accept": "application/json"}

    def unit_price(self, action: str, params: dict[str, Any]) -> tuple[float, float]:
        if action == "img2vid":
            return VIDEO_CREDITS.get(str(params.get("model") or DEFAULT_VIDEO_MODEL),
                                     VIDEO_CREDITS[DEFAULT_VIDEO_MODEL]), COST_PER_CREDIT
        return IMAGE_CREDITS.get(str(params.get("generation_mode") or "fast"),
                                 IMAGE_CREDITS["fast"]), COST_PER_CREDIT

    def image_body(self, prompt: str, params: dict[str, Any]) -> dict[str, Any]:
        if not (prompt or "").strip():
            raise InvalidRequestError("Leonardo generation needs a prompt")
        width, height = self.resolution("txt2img", params)
        mode = str(params.get("generation_mode") or "fast")
        body: dict[str, Any] = {
            "prompt": prompt, "modelId": str(params.get("model_id") or params.get("model")
                                             or PHOENIX),
            "width": width, "height": height, "num_images": image_count(params),
            "contrast": float(params.get("contrast") or 3.5),
            "alchemy": mode in ("quality", "ultra"), "ultra": mode == "ultra"}
        for key, field in (("guidance_scale", "guidance_scale"),
                           ("num_inference_steps", "num_inference_steps"),
                           ("scheduler", "scheduler"), ("negative_prompt", "negative_prompt")):
            if params.get(key) not in (None, ""):
                body[field] = params[key]
        return body

    def txt2img(self, prompt: str, params: dict[str, Any],
                progress: ProgressCallback) -> GenerationResult:
        params = self.format_params(params)
        body = self.image_body(prompt, params)
        return self._image_job("txt2img", body, params, progress)

    def img2img(self, source_image: str, prompt: str, params: dict[str, Any],
                progress: ProgressCallback) -> GenerationResult:
        params = self.format_params(params)
        body = self.image_body(prompt, params)
        image_id, kind = self._source_id(source_image, params)
        body["init_generation_image_id" if kind == "GENERATED" else "init_image_id"] = image_id
        strength = params.get("init_strength")
        body["init_strength"] = float(strength) if isinstance(strength, (int, float)) else 0.5
        return self._image_job("img2img", body, params, progress)

    def img2vid(self, source_image: str, prompt: str, params: dict[str, Any],
                progress: ProgressCallback) -> GenerationResult:
        params = self.format_params(params)
        text = str(params.get("positive_prompt") or prompt or "").strip()
        if not text:
            raise InvalidRequestError("Leonardo video generation needs a prompt")
        model = str(params.get("model") or DEFAULT_VIDEO_MODEL)
        image_id, kind = self._source_id(source_image, params)
        body: dict[str, Any] = {"imageId": image_id, "imageType": kind, "prompt": text,
                                "model": model, "resolution": "RESOLUTION_720",
                                "frameInterpolation": bool(params.get("frame_interpolation",
                                                                      True))}
        if params.get("negative_prompt"):
            body["negativePrompt"] = str(params["negative_prompt"])
        created = self.json_of(self.request(
            "POST", self.url("/api/rest/v1/generations-image-to-video"), json_body=body))
        job = created.get("motionVideoGenerationJob") or {}
        generation = self._wait(job, progress, self.settings.video_poll_interval_s)
        items = [ContentItem(url=url, content_type="video", seed=-1,
                             extension=url_extension(url, "mp4"))
                 for url in (i.get("motionMP4URL") or i.get("url")
                             for i in generation.get("generated_images") or [])
                 if isinstance(url, str) and url]
        return self._result("img2vid", model, items, job, generation)

    # ---------------------------------------------------------------- internals

    def _image_job(self, action: str, body: dict[str, Any], params: dict[str, Any],
                   progress: ProgressCallback) -> GenerationResult:
        created = self.json_of(self.request("POST", self.url("/api/rest/v1/generations"),
                                            json_body=body))
        job = created.get("sdGenerationJob") or {}
        generation = self._wait(job, progress, self.settings.poll_interval_s)
        seed: Any = generation.get("seed") if isinstance(generation.get("seed"), int) else -1
        items = [ContentItem(url=image["url"], content_type="image", seed=seed,
                             extension=url_extension(image["url"], "jpg"))
                 for image in generation.get("generated_images") or []
                 if isinstance(image, dict) and isinstance(image.get("url"), str)]
        return self._result(action, body["modelId"], items, job, generation)

    def _wait(self, job: Any, progress: ProgressCallback, interval_s: float) -> dict[str, Any]:
        generation_id = job.get("generationId") if isinstance(job, dict) else None
        if not isinstance(generation_id, str) or not generation_id:
            raise ServerError("Leonardo returned a job without a generation id")
        return self.poll(lambda: self._look(generation_id), progress, interval_s=interval_s,
                         timeout_s=self.settings.poll_timeout_s) | {"id": generation_id}

    def _look(self, generation_id: str) -> PollStatus:
        body = self.json_of(self.request("GET",
                                         self.url(f"/api/rest/v1/generations/{generation_id}")))
        generation = body.get("generations_by_pk")
        if not isinstance(generation, dict):
            raise ServerError("Leonardo returned an unexpected generation body")
        status = str(generation.get("status") or "")
        if status == "FAILED":
            raise GenerationError("Leonardo reported the generation as failed")
        if status == "COMPLETE":
            return PollStatus(done=True, result=generation)
        return PollStatus(done=False, message="Generating" if status else "Queued")

    def _source_id(self, source: str, params: dict[str, Any]) -> tuple[str, str]:
        """(image id, image type): a generated image id if given, else an uploaded init image."""
        if isinstance(params.get("image_id"), str) and params["image_id"]:
            return params["image_id"], "GENERATED"
        data, name, mime = self.source_image(source)
        extension = {"image/jpeg": "jpg", "image/webp": "webp"}.get(mime, "png")
        slot = self.json_of(self.request("POST", self.url("/api/rest/v1/init-image"),
                                         json_body={"extension": extension}))
        upload = slot.get("uploadInitImage") or {}
        try:
            fields = json.loads(upload.get("fields") or "{}")
            image_id, target = str(upload["id"]), str(upload["url"])
        except (KeyError, TypeError, ValueError):
            raise ServerError("Leonardo returned an unexpected init-image slot") from None
        # presigned form: no API key goes there (the URL is not below the Leonardo base)
        self.request("POST", target, data={k: str(v) for k, v in fields.items()},
                     files={"file": (name, data, mime)})
        return image_id, "UPLOADED"

    def _result(self, action: str, model: str, items: list[ContentItem], job: dict[str, Any],
                generation: dict[str, Any]) -> GenerationResult:
        if not items:
            raise GenerationError("Leonardo returned no content")
        credits = job.get("apiCreditCost")
        credits = float(credits) if isinstance(credits, (int, float)) else None
        usage = UsageInfo(provider=self.provider_id, model=model,
                          display_name="Phoenix 1.0" if model == PHOENIX else model,
                          action_type=action, credits=credits,
                          total_cost=round((credits or 0.0) * COST_PER_CREDIT, 6),
                          image_count=len(items) if action != "img2vid" else None)
        raw = {"generation_id": generation.get("id"), "status": generation.get("status"),
               "api_credit_cost": credits}
        return GenerationResult(content=items, raw_response=raw,
                                provider_task_id=generation.get("id"), usage=usage)
