"""`MediaClientSettings`: what live media clients take from server settings.

Vendor base URLs are configurable so tests and gateway deployments can point elsewhere; the
polling cadence and limits follow providers.md PRV-13. Keys are never settings: they come per
call in `Credentials` (PRV-1), and so does Stable Diffusion's address (`SD_FORGE_API_URL`, PRV-2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

DEFAULT_OPENAI_BASE_URL = "https://api.openai.com"
DEFAULT_ELEVENLABS_BASE_URL = "https://api.elevenlabs.io"
DEFAULT_LEONARDO_BASE_URL = "https://cloud.leonardo.ai"
DEFAULT_MIDAPI_BASE_URL = "https://api.midapi.ai"


def _base(values: Mapping[str, str], name: str, default: str, strip_v1: bool = False) -> str:
    value = (values.get(name) or "").strip().rstrip("/")
    if strip_v1 and value.endswith("/v1"):
        # OPENAI_BASE_URL is shared with the LLM client, which includes the version segment
        value = value[: -len("/v1")]
    return value or default


@dataclass(frozen=True)
class MediaClientSettings:
    openai_base_url: str = DEFAULT_OPENAI_BASE_URL
    elevenlabs_base_url: str = DEFAULT_ELEVENLABS_BASE_URL
    leonardo_base_url: str = DEFAULT_LEONARDO_BASE_URL
    midapi_base_url: str = DEFAULT_MIDAPI_BASE_URL
    poll_interval_s: float = 2.0
    video_poll_interval_s: float = 10.0
    poll_timeout_s: float = 300.0
    sd_poll_timeout_s: float = 600.0
    request_timeout_s: float = 60.0
    max_attempts: int = 3

    @classmethod
    def from_values(cls, values: Mapping[str, str],
                    poll_interval_s: float | None = None) -> "MediaClientSettings":
        """From the server's vendor addresses (`OPENAI_BASE_URL` — a trailing `/v1` is dropped —,
        `ELEVENLABS_BASE_URL`, `LEONARDO_BASE_URL`, `MIDAPI_BASE_URL`; an empty value means the
        default) and its parsed `WFE_MEDIA_POLL_INTERVAL_S`."""
        poll_interval = cls.poll_interval_s if poll_interval_s is None else poll_interval_s
        if poll_interval <= 0:
            raise ValueError("WFE_MEDIA_POLL_INTERVAL_S must be positive")
        return cls(
            openai_base_url=_base(values, "OPENAI_BASE_URL", DEFAULT_OPENAI_BASE_URL, True),
            elevenlabs_base_url=_base(values, "ELEVENLABS_BASE_URL", DEFAULT_ELEVENLABS_BASE_URL),
            leonardo_base_url=_base(values, "LEONARDO_BASE_URL", DEFAULT_LEONARDO_BASE_URL),
            midapi_base_url=_base(values, "MIDAPI_BASE_URL", DEFAULT_MIDAPI_BASE_URL),
            poll_interval_s=poll_interval,
            # long video jobs poll five times less often (2 s → 10 s, PRV-13)
            video_poll_interval_s=poll_interval * 5,
        )
