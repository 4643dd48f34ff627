"""`MediaClientSettings`: what live media clients take from server settings.

Vendor base URLs are configurable so tests and gateway deployments can point elsewhere; which
setting holds a vendor's address, and its default, come from the vendor's record
(engine/media_vendor.py). The polling cadence and limits follow providers.md PRV-13. Keys are
never settings: they come per call in `Credentials` (PRV-1), and so does Stable Diffusion's
address (`SD_FORGE_API_URL`, PRV-2).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.media_vendor import vendor, vendors


@dataclass(frozen=True)
class MediaClientSettings:
    #: provider id -> API root; a vendor missing here uses its record's `default_url`
    base_urls: Mapping[str, str] = field(default_factory=dict)
    poll_interval_s: float = 2.0
    video_poll_interval_s: float = 10.0
    poll_timeout_s: float = 300.0
    sd_poll_timeout_s: float = 600.0
    request_timeout_s: float = 60.0
    max_attempts: int = 3

    def base_url(self, provider_id: str) -> str:
        given = self.base_urls.get(provider_id)
        if given:
            return given
        record = vendor(provider_id)
        return record.default_url if record is not None else ""

    @classmethod
    def from_values(cls, values: Mapping[str, str],
                    poll_interval_s: float | None = None) -> MediaClientSettings:
        """From the server's vendor addresses (each record's `url_setting`; an empty value means
        the default, a record's `url_suffix` is dropped) and its `WFE_MEDIA_POLL_INTERVAL_S`."""
        poll_interval = cls.poll_interval_s if poll_interval_s is None else poll_interval_s
        if poll_interval <= 0:
            raise ValueError("WFE_MEDIA_POLL_INTERVAL_S must be positive")
        urls: dict[str, str] = {}
        for record in vendors():
            if record.url_setting is None:
                continue
            value = (values.get(record.url_setting) or "").strip().rstrip("/")
            if record.url_suffix and value.endswith(record.url_suffix):
                value = value[: -len(record.url_suffix)]
            if value:
                urls[record.provider_id] = value
        return cls(base_urls=urls, poll_interval_s=poll_interval,
                   # long video jobs poll five times less often (2 s → 10 s, PRV-13)
                   video_poll_interval_s=poll_interval * 5)
