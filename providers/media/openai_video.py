"""OpenAI video generation (Sora) and the complete `openai` media client.

img2vid creates a job (`POST /v1/videos`, multipart with the source image as
`input_reference`), polls `GET /v1/videos/{id}` every `video_poll_interval_s`, and returns the
vendor's content URL; that URL needs the API key, which `fetch_content` adds because it lies
below the OpenAI base URL. A cancelled or overrunning job is deleted (best effort).
"""

from __future__ import annotations

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
from providers.media.openai_images import OpenAIImagesClient
from providers.media.polling import PollStatus

DEFAULT_VIDEO_MODEL = "sora-2"
DURATIONS = ("4", "8", "12")
VIDEO_NAMES = {"sora-2": "Sora 2", "sora-2-pro": "Sora 2 Pro"}
#: USD per second of video by model and size. Indicative only (OpenAI's published prices).
VIDEO_PRICES: dict[str, dict[str, float]] = {
    "sora-2": {"720x1280": 0.10, "1280x720": 0.10},
    "sora-2-pro": {"720x1280": 0.30, "1280x720": 0.30, "1024x1792": 0.50, "1792x1024": 0.50},
}


def _portrait(aspect_ratio: str) -> bool:
    try:
        width, height = (float(x) for x in aspect_ratio.split(":", 1))
    except ValueError:
        return False
    return height > width


def video_size(params: dict[str, Any]) -> str:
    """Explicit `size`, else from `aspect_ratio` and `quality` (`HD` only for sora-2-pro)."""
    if isinstance(params.get("size"), str) and "x" in params["size"]:
        return str(params["size"])
    model = str(params.get("model") or DEFAULT_VIDEO_MODEL)
    hd = str(params.get("quality") or "").upper() == "HD" and model == "sora-2-pro"
    portrait = _portrait(str(params.get("aspect_ratio") or "16:9"))
    if hd:
        return "1024x1792" if portrait else "1792x1024"
    return "720x1280" if portrait else "1280x720"


def video_seconds(params: dict[str, Any]) -> str:
    value = params.get("seconds", params.get("duration"))
    text = str(value if value is not None else "4").strip()
    if text.endswith(".0"):
        text = text[:-2]
    if text not in DURATIONS:
        raise InvalidRequestError(f"Unsupported video duration '{text}' (allowed: 4, 8, 12)")
    return text


def price_per_second(model: str, size: str) -> float:
    table = VIDEO_PRICES.get(model, VIDEO_PRICES[DEFAULT_VIDEO_MODEL])
    return table.get(size, max(table.values()))


class OpenAIMediaClient(OpenAIImagesClient):
    """The `openai` media provider: gpt-image txt2img / img2img plus Sora img2vid."""

    def resolution(self, action: str, params: dict[str, Any]) -> tuple[int, int]:
        if action != "img2vid":
            return super().resolution(action, params)
        width, height = video_size(params).split("x")
        return int(width), int(height)

    def unit_price(self, action: str, params: dict[str, Any]) -> tuple[float, float]:
        if action != "img2vid":
            return super().unit_price(action, params)
        model = str(params.get("model") or DEFAULT_VIDEO_MODEL)
        return price_per_second(model, video_size(params)) * int(video_seconds(params)), 1.0

    def img2vid(self, source_image: str, prompt: str, params: dict[str, Any],
                progress: ProgressCallback) -> GenerationResult:
        params = self.format_params(params)
        if not (prompt or "").strip():
            raise InvalidRequestError("OpenAI video generation needs a prompt")
        fields = {"model": str(params.get("model") or DEFAULT_VIDEO_MODEL), "prompt": prompt,
                  "seconds": video_seconds(params), "size": video_size(params)}
        data, name, mime = self.source_image(source_image)
        created = self.json_of(self.request(
            "POST", self.url("/v1/videos"), data=fields,
            files={"input_reference": (name, data, mime)}))
        video_id = created.get("id")
        if not isinstance(video_id, str) or not video_id:
            raise ServerError("OpenAI returned a video job without an id")
        final = created if created.get("status") in ("completed", "failed") else self.poll(
            lambda: self._look(video_id), progress,
            interval_s=self.settings.video_poll_interval_s,
            timeout_s=self.settings.poll_timeout_s, on_stop=lambda: self._delete(video_id))
        if final.get("status") == "failed":
            raise self._failure(final)
        seconds = int(fields["seconds"])
        usage = UsageInfo(
            provider=self.provider_id, model=fields["model"],
            display_name=VIDEO_NAMES.get(fields["model"], fields["model"]),
            action_type="img2vid", duration_seconds=float(seconds),
            total_cost=round(price_per_second(fields["model"], fields["size"]) * seconds, 6))
        item = ContentItem(url=self.url(f"/v1/videos/{video_id}/content"),
                           content_type="video", seed=-1, extension="mp4")
        raw = {k: final.get(k) for k in ("id", "status", "model", "seconds", "size",
                                          "created_at", "completed_at") if k in final}
        return GenerationResult(content=[item], raw_response=raw, provider_task_id=video_id,
                                usage=usage)

    def _look(self, video_id: str) -> PollStatus:
        state = self.json_of(self.request("GET", self.url(f"/v1/videos/{video_id}")))
        status = str(state.get("status") or "")
        if status in ("completed", "failed"):
            return PollStatus(done=True, result=state)
        percent = state.get("progress")
        percent = float(percent) if isinstance(percent, (int, float)) else None
        label = "Queued" if status == "queued" else "Generating video"
        message = f"{label} {percent:.0f}%" if percent is not None else label
        return PollStatus(done=False, message=message, percent=percent)

    def _failure(self, state: dict[str, Any]) -> GenerationError:
        error: Any = state.get("error") if isinstance(state.get("error"), dict) else {}
        detail = str(error.get("message") or "no reason given")[:500]
        return GenerationError(self.safe(f"OpenAI video generation failed: {detail}"))

    def _delete(self, video_id: str) -> None:
        self.request("DELETE", self.url(f"/v1/videos/{video_id}"), attempts=1)
