"""Builders of media vendor replies (OpenAI images/videos, SD Forge, ElevenLabs, Leonardo,
midapi) and a fake clock for the clients' injected `sleep` / `monotonic`."""

from __future__ import annotations

import base64
import json
from typing import Any

PNG = b"\x89PNG\r\n\x1a\n" + b"fake-png-pixels"
JPEG = b"\xff\xd8\xff\xe0" + b"fake-jpeg-pixels"
MP3 = b"ID3\x04fake-mp3-frames" * 4
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"fake-mp4-frames" * 8

# ------------------------------------------------------------------ paths
OA_GENERATIONS = "/v1/images/generations"
OA_EDITS = "/v1/images/edits"
OA_VIDEOS = "/v1/videos"
SD_TXT2IMG = "/sdapi/v1/txt2img"
SD_IMG2IMG = "/sdapi/v1/img2img"
SD_PROGRESS = "/sdapi/v1/progress"
SD_INTERRUPT = "/sdapi/v1/interrupt"
EL_MUSIC = "/v1/music"
LEO_GENERATIONS = "/api/rest/v1/generations"
LEO_IMAGE_TO_VIDEO = "/api/rest/v1/generations-image-to-video"
LEO_INIT_IMAGE = "/api/rest/v1/init-image"
MJ_GENERATE = "/api/v1/mj/generate"
MJ_RECORD = "/api/v1/mj/record-info"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def error_body(message: str, code: str = "") -> dict[str, Any]:
    return {"error": {"message": message, "code": code or None, "type": "invalid_request_error"}}


# ------------------------------------------------------------------ OpenAI
def openai_images(*images: bytes, created: int = 1_700_000_000) -> dict[str, Any]:
    return {"created": created, "data": [{"b64_json": b64(image)} for image in images],
            "usage": {"input_tokens": 50, "output_tokens": 4160, "total_tokens": 4210,
                      "input_tokens_details": {"text_tokens": 50, "image_tokens": 0}}}


def openai_video(video_id: str, status: str, progress: int = 0,
                 error: str | None = None, seconds: str = "4") -> dict[str, Any]:
    body: dict[str, Any] = {"id": video_id, "object": "video", "model": "sora-2",
                            "status": status, "progress": progress, "seconds": seconds,
                            "size": "720x1280", "created_at": 1_700_000_000}
    if error is not None:
        body["error"] = {"code": "generation_failed", "message": error}
    return body


# ------------------------------------------------------------------ SD Forge
def sd_images(*images: bytes, seed: int = 1234, all_seeds: list[int] | None = None
              ) -> dict[str, Any]:
    seeds = all_seeds if all_seeds is not None else [seed + i for i in range(len(images))]
    info = {"prompt": "p", "seed": seed, "all_seeds": seeds, "width": 512, "height": 768}
    return {"images": [b64(image) for image in images], "parameters": {},
            "info": json.dumps(info)}


def sd_progress(fraction: float, eta: float = 3.0, job: str = "txt2img") -> dict[str, Any]:
    return {"progress": fraction, "eta_relative": eta,
            "state": {"job": job, "sampling_step": int(fraction * 20), "sampling_steps": 20,
                      "interrupted": False}, "current_image": None}


# ------------------------------------------------------------------ Leonardo
def leonardo_job(generation_id: str) -> dict[str, Any]:
    return {"sdGenerationJob": {"generationId": generation_id, "apiCreditCost": 24}}


def leonardo_motion_job(generation_id: str) -> dict[str, Any]:
    return {"motionVideoGenerationJob": {"generationId": generation_id, "apiCreditCost": 250}}


def leonardo_status(status: str, urls: list[str] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    return {"generations_by_pk": {
        "status": status, "id": "gen-1",
        "generated_images": [{"url": url, "id": f"img-{i}", "motionMP4URL": None}
                             for i, url in enumerate(urls)]}}


def leonardo_init_image(image_id: str, upload_url: str) -> dict[str, Any]:
    return {"uploadInitImage": {"id": image_id, "url": upload_url,
                                "fields": json.dumps({"key": f"uploads/{image_id}.png",
                                                      "policy": "p"})}}


# ------------------------------------------------------------------ midapi (Midjourney)
def mj_task(task_id: str, code: int = 200, msg: str = "success") -> dict[str, Any]:
    return {"code": code, "msg": msg, "data": {"taskId": task_id}}


def mj_record(task_id: str, flag: int, urls: list[str] = (),  # type: ignore[assignment]
              error: str | None = None) -> dict[str, Any]:
    return {"code": 200, "msg": "success", "data": {
        "taskId": task_id, "successFlag": flag, "errorMessage": error,
        "resultInfoJson": {"resultUrls": [{"resultUrl": url} for url in urls]}}}


# ------------------------------------------------------------------ clock
class FakeClock:
    """`sleep` advances `monotonic` instantly and records every wait."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now
