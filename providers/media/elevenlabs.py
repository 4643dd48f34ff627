"""ElevenLabs music (txt2audio): one blocking `POST /v1/music` returning the audio bytes.

The track is returned inline, so the content item is a data URL. ElevenLabs has no endpoint to
stop a composition, so cancellation only stops waiting for it.
"""

from __future__ import annotations

from typing import Any

from engine.provider_types import (
    ContentItem,
    GenerationError,
    GenerationResult,
    InvalidRequestError,
    ProgressCallback,
    UsageInfo,
)
from providers.media.polling import PollStatus
from providers.media.source_image import to_data_url
from providers.media.vendor_base import VendorMediaClient

MUSIC_MODEL = "music_v1"
DEFAULT_OUTPUT_FORMAT = "mp3_44100_128"
DEFAULT_LENGTH_MS = 30_000
MIN_LENGTH_MS, MAX_LENGTH_MS = 10_000, 300_000
#: USD per minute of music. Indicative only: ElevenLabs bills music in plan credits.
PRICE_PER_MINUTE = 0.80


def music_length_ms(params: dict[str, Any]) -> int:
    """`music_length_ms`, else `duration_seconds` / `duration` in seconds, else 30 s."""
    value = params.get("music_length_ms")
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        seconds = params.get("duration_seconds", params.get("duration"))
        if isinstance(seconds, str):
            try:
                seconds = float(seconds)
            except ValueError:
                seconds = None
        value = seconds * 1000 if isinstance(seconds, (int, float)) else DEFAULT_LENGTH_MS
    length = int(value)
    if not MIN_LENGTH_MS <= length <= MAX_LENGTH_MS:
        raise InvalidRequestError(
            f"Music length must be between {MIN_LENGTH_MS} and {MAX_LENGTH_MS} ms")
    return length


class ElevenLabsClient(VendorMediaClient):
    provider_id = "elevenlabs"
    vendor = "ElevenLabs"

    def auth_headers(self) -> dict[str, str]:
        return {"xi-api-key": self._secret}

    def resolution(self, action: str, params: dict[str, Any]) -> tuple[int, int]:
        return 0, 0

    def unit_price(self, action: str, params: dict[str, Any]) -> tuple[float, float]:
        return round(PRICE_PER_MINUTE * music_length_ms(params) / 60_000, 4), 1.0

    def txt2audio(self, prompt: str, params: dict[str, Any],
                  progress: ProgressCallback) -> GenerationResult:
        params = self.format_params(params)
        if not (prompt or "").strip():
            raise InvalidRequestError("ElevenLabs music needs a prompt")
        output_format = str(params.get("output_format") or DEFAULT_OUTPUT_FORMAT)
        if not output_format.startswith("mp3_"):
            raise InvalidRequestError(f"Unsupported output_format '{output_format}'")
        length = music_length_ms(params)
        body: dict[str, Any] = {"prompt": prompt, "music_length_ms": length,
                                "model_id": MUSIC_MODEL}
        if isinstance(params.get("force_instrumental"), bool):
            body["force_instrumental"] = params["force_instrumental"]
        response = self.run_blocking(
            lambda: self.request("POST", self.url("/v1/music"), json_body=body,
                                 params={"output_format": output_format},
                                 timeout_s=self.settings.poll_timeout_s),
            progress, timeout_s=self.settings.poll_timeout_s,
            message=lambda: PollStatus(done=False, message="Composing music"))
        audio = response.content
        if not audio or response.headers.get("content-type", "").startswith("application/json"):
            raise GenerationError("ElevenLabs returned no audio")
        item = ContentItem(url=to_data_url("audio/mpeg", audio), content_type="audio",
                           seed=-1, extension="mp3")
        usage = UsageInfo(provider=self.provider_id, model=MUSIC_MODEL,
                          display_name="Eleven Music", action_type="txt2audio",
                          total_cost=round(PRICE_PER_MINUTE * length / 60_000, 6),
                          duration_seconds=length / 1000, audio_type="music",
                          characters=len(prompt))
        raw = {"output_format": output_format, "music_length_ms": length,
               "bytes": len(audio), "request_id": response.headers.get("request-id")}
        return GenerationResult(content=[item], raw_response=raw, usage=usage)
