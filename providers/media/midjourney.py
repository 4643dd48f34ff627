"""Midjourney through the midapi proxy: txt2img and img2vid as tasks.

`POST /api/v1/mj/generate` answers `{code, msg, data: {taskId}}` (errors arrive as a non-200
`code` inside an HTTP 200 too); `GET /api/v1/mj/record-info?taskId=` reports `successFlag`
0 running, 1 done, 2/3 failed, with the result URLs in `resultInfoJson.resultUrls`. The proxy
has no cancel endpoint, so cancelling only stops waiting. Video needs a public source URL.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from engine.provider_types import (
    ContentItem,
    GenerationError,
    GenerationResult,
    InvalidRequestError,
    ProgressCallback,
    ServerError,
    UsageInfo,
)
from providers.llm.http_errors import error_from_status
from providers.media.polling import PollStatus
from providers.media.source_image import url_extension
from providers.media.vendor_base import VendorMediaClient

SPEEDS = ("relaxed", "fast", "turbo")
#: USD per task by speed, and per video task. Indicative only (midapi's published prices).
TASK_PRICES = {"relaxed": 0.02, "fast": 0.04, "turbo": 0.08}
VIDEO_PRICE = 0.30
class MidjourneyClient(VendorMediaClient):
    provider_id = "midjourney"
    vendor = "Midjourney"

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._secret}"}

    def unit_price(self, action: str, params: dict[str, Any]) -> tuple[float, float]:
        if action == "img2vid":
            return VIDEO_PRICE, 1.0
        # one task yields a grid of four images; the preview prices the task per image
        return TASK_PRICES.get(str(params.get("speed") or "fast"), TASK_PRICES["fast"]) / 4, 1.0

    def txt2img(self, prompt: str, params: dict[str, Any],
                progress: ProgressCallback) -> GenerationResult:
        params = self.format_params(params)
        speed = str(params.get("speed") or "fast")
        if speed not in SPEEDS:
            raise InvalidRequestError(f"Unsupported speed '{speed}'")
        body: dict[str, Any] = {"taskType": "mj_txt2img", "prompt": self._prompt(prompt),
                                "aspectRatio": str(params.get("aspect_ratio") or "1:1"),
                                "speed": speed,
                                "version": str(params.get("version") or params.get("versions")
                                               or "7")}
        for key, field in (("stylization", "stylization"), ("weirdness", "weirdness"),
                           ("variety", "variety")):
            if isinstance(params.get(key), (int, float)) or str(params.get(key) or "").isdigit():
                body[field] = int(params[key])
        return self._task("txt2img", body, progress, self.settings.poll_interval_s,
                          TASK_PRICES[speed])

    def img2vid(self, source_image: str, prompt: str, params: dict[str, Any],
                progress: ProgressCallback) -> GenerationResult:
        if not str(source_image or "").startswith(("http://", "https://")):
            raise InvalidRequestError("Midjourney video needs an http(s) source image URL")
        body = {"taskType": "mj_video", "prompt": self._prompt(prompt),
                "fileUrl": source_image, "speed": "fast"}
        return self._task("img2vid", body, progress, self.settings.video_poll_interval_s,
                          VIDEO_PRICE)

    def format_params(self, params: dict[str, Any]) -> dict[str, Any]:
        result = super().format_params(params)
        for key in ("stylization", "weirdness", "variety"):
            if isinstance(result.get(key), str) and result[key].strip().isdigit():
                result[key] = int(result[key])
        return result

    # ---------------------------------------------------------------- internals

    @staticmethod
    def _prompt(prompt: str) -> str:
        if not (prompt or "").strip():
            raise InvalidRequestError("Midjourney generation needs a prompt")
        return prompt.strip()

    def _data(self, response: httpx.Response) -> dict[str, Any]:
        """The `data` object of a midapi envelope; a non-200 `code` maps like an HTTP status."""
        body = self.json_of(response)
        code = body.get("code")
        if isinstance(code, int) and code != 200:
            message = json.dumps({"error": {"message": str(body.get("msg") or "")}})
            raise error_from_status(self.vendor, code, dict(response.headers), message,
                                    self._secrets)
        data = body.get("data")
        if not isinstance(data, dict):
            raise ServerError("Midjourney returned an unexpected body")
        return data

    def _task(self, action: str, body: dict[str, Any], progress: ProgressCallback,
              interval_s: float, price: float) -> GenerationResult:
        created = self._data(self.request("POST", self.url("/api/v1/mj/generate"),
                                          json_body=body))
        task_id = created.get("taskId")
        if not isinstance(task_id, str) or not task_id:
            raise ServerError("Midjourney returned a task without an id")
        record = self.poll(lambda: self._look(task_id), progress, interval_s=interval_s,
                           timeout_s=self.settings.poll_timeout_s)
        info = record.get("resultInfoJson") if isinstance(record.get("resultInfoJson"),
                                                          dict) else {}
        kind, default_ext = ("video", "mp4") if action == "img2vid" else ("image", "png")
        items = [ContentItem(url=url, content_type=kind, seed=-1,
                             extension=url_extension(url, default_ext))
                 for url in (entry.get("resultUrl") for entry in info.get("resultUrls") or []
                             if isinstance(entry, dict))
                 if isinstance(url, str) and url]
        if not items:
            raise GenerationError("Midjourney returned no content")
        version = str(body.get("version") or "video")
        usage = UsageInfo(provider=self.provider_id, model=f"midjourney-{version}",
                          display_name=f"Midjourney {version}", action_type=action,
                          total_cost=price,
                          image_count=len(items) if action == "txt2img" else None)
        return GenerationResult(content=items, raw_response={"task_id": task_id,
                                                             "result_count": len(items)},
                                provider_task_id=task_id, usage=usage)

    def _look(self, task_id: str) -> PollStatus:
        record = self._data(self.request("GET", self.url("/api/v1/mj/record-info"),
                                         params={"taskId": task_id}))
        flag = record.get("successFlag")
        if flag == 1:
            return PollStatus(done=True, result=record)
        if flag in (2, 3):
            detail = str(record.get("errorMessage") or "no reason given")[:500]
            raise GenerationError(self.safe(f"Midjourney task failed: {detail}"))
        return PollStatus(done=False, message="Generating")
