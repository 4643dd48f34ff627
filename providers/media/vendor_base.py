"""Common machinery of the live media clients (providers.md §4): credentials, HTTP with
error mapping and bounded retries, polling, downloads and preview estimates.

A client object owns one `httpx.Client` (never configured from the environment, PRV-1) and is
built per call by the registry (PRV-5). Vendor failures map to the provider error classes via
`providers.llm.http_errors`, so a 429 or a 5xx means the same thing whichever vendor answered;
every message is scrubbed of the call's credentials.
"""

from __future__ import annotations

import json
import ssl
import time
from functools import lru_cache
from typing import Any, Callable, ClassVar, Iterator, Mapping
from urllib.parse import urlsplit

import httpx

from engine.media_vendor import vendor as vendor_record
from engine.provider_types import (
    ContentItem,
    Credentials,
    GenerationResult,
    InvalidRequestError,
    PreviewInfo,
    ProgressCallback,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailable,
    ServerError,
)
from engine.sanitize import sanitize_message
from providers.llm.http_errors import error_from_exception, error_from_status
from providers.media import polling
from providers.media.mock import image_count
from providers.media.settings import MediaClientSettings
from providers.media.source_image import load_source_image, parse_data_url, too_large

_CHUNK = 64 * 1024
_MAX_BACKOFF_S = 60.0
_SIZE_PIXELS = {"small": 512, "medium": 1024, "large": 1536}
#: UI values that arrive as strings but are numbers for every vendor
_NUMERIC_KEYS = ("num_images", "steps", "cfg_scale", "width", "height", "seed", "batch_size",
                 "denoising_strength", "music_length_ms", "duration_seconds",
                 "guidance_scale", "num_inference_steps", "contrast")


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context for all clients: building one costs tens of milliseconds and
    a client is built per call (PRV-5)."""
    return httpx.create_ssl_context(trust_env=False)


def _number(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return value


def ratio_size(aspect_ratio: str, long_side: int) -> tuple[int, int]:
    """(width, height) with `long_side` pixels on the long side, rounded to multiples of 8."""
    try:
        w_part, h_part = (float(x) for x in str(aspect_ratio).split(":", 1))
    except ValueError:
        w_part = h_part = 1.0
    if w_part <= 0 or h_part <= 0:
        w_part = h_part = 1.0
    scale = long_side / max(w_part, h_part)
    return (max(8, round(w_part * scale / 8) * 8), max(8, round(h_part * scale / 8) * 8))


def guarded_source_download(url: str, max_bytes: int) -> bytes:
    """GET a source image through the guarded fetcher (PRV-17): no loopback, private or
    link-local targets, no redirects, a body cap."""
    from providers.http_fetch import GuardedHttpFetcher

    status, _headers, body = GuardedHttpFetcher(max_body_bytes=max_bytes).fetch(
        "GET", url, {"Accept": "image/*"}, None, None, 60.0)
    if status >= 400:
        raise InvalidRequestError(f"The source image URL answered HTTP {status}")
    return body


class VendorMediaClient:
    """Base of every live client; subclasses set `provider_id` and implement their actions."""

    provider_id: ClassVar[str] = ""
    vendor: ClassVar[str] = ""
    actions: tuple[str, ...] = ()
    concurrency: int = 1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.vendor = cls.vendor or cls.provider_id

    def __init__(self, credentials: Credentials, settings: MediaClientSettings | None = None, *,
                 transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic,
                 source_fetcher: Callable[[str, int], bytes] | None = None) -> None:
        record = vendor_record(self.provider_id)
        if record is None:
            raise ProviderUnavailable(f"Unknown media provider '{self.provider_id}'")
        self.actions = record.actions  # from the vendor's record (engine/media_vendor.py)
        self.concurrency = record.concurrency
        name = record.credential
        secret = (credentials or {}).get(name)
        if not isinstance(secret, str) or not secret.strip():
            raise ProviderUnavailable(
                f"Provider '{self.provider_id}' needs the credential '{name}'")
        self._secret = secret.strip()
        self._secrets = tuple(v for v in (credentials or {}).values()
                              if isinstance(v, str) and v.strip())
        self.settings = settings or MediaClientSettings()
        self._sleep = sleep
        self._monotonic = monotonic
        self._source_fetcher = source_fetcher or guarded_source_download
        self._http = httpx.Client(transport=transport, trust_env=False, follow_redirects=False,
                                  verify=_tls_context(),
                                  timeout=self._timeout(self.settings.request_timeout_s))

    # ---------------------------------------------------------------- subclass hooks

    def base_url(self) -> str:
        """The vendor's API root (settings, else its record's default); auth headers are sent
        only to URLs below it."""
        return self.settings.base_url(self.provider_id)

    def auth_headers(self) -> dict[str, str]:
        return {}

    def unit_price(self, action: str, params: dict[str, Any]) -> tuple[float, float]:
        """(credits per image or clip, USD per credit). USD-billed vendors report credits in
        USD with a cost per credit of 1.0."""
        return 0.0, 0.0

    def resolution(self, action: str, params: dict[str, Any]) -> tuple[int, int]:
        long_side = _SIZE_PIXELS.get(str(params.get("size") or "medium"), 1024)
        return ratio_size(str(params.get("aspect_ratio") or "1:1"), long_side)

    # ---------------------------------------------------------------- MediaProvider

    def close(self) -> None:
        self._http.close()

    def format_params(self, params: dict[str, Any]) -> dict[str, Any]:
        result = dict(params or {})
        for key in _NUMERIC_KEYS:
            if key in result:
                result[key] = _number(result[key])
        return result

    def txt2img(self, prompt: str, params: dict[str, Any],
                progress: ProgressCallback) -> GenerationResult:
        raise self.unsupported("txt2img")

    def img2img(self, source_image: str, prompt: str, params: dict[str, Any],
                progress: ProgressCallback) -> GenerationResult:
        raise self.unsupported("img2img")

    def img2vid(self, source_image: str, prompt: str, params: dict[str, Any],
                progress: ProgressCallback) -> GenerationResult:
        raise self.unsupported("img2vid")

    def txt2audio(self, prompt: str, params: dict[str, Any],
                  progress: ProgressCallback) -> GenerationResult:
        raise self.unsupported("txt2audio")

    def get_preview_info(self, action: str, params: dict[str, Any]) -> PreviewInfo:
        """Resolution from aspect ratio and size, credits from the vendor's pricing (§4.5)."""
        if action not in self.actions:
            raise self.unsupported(action)
        params = self.format_params(params)
        width, height = self.resolution(action, params)
        count = image_count(params) if action in ("txt2img", "img2img") else 1
        per_item, cost_per_credit = self.unit_price(action, params)
        return PreviewInfo(
            resolution={"width": width, "height": height,
                        "megapixels": round(width * height / 1_000_000, 2)},
            credits={"credits": round(per_item * count, 4), "cost_per_credit": cost_per_credit,
                     "total_cost_usd": round(per_item * count * cost_per_credit, 4),
                     "num_images": count, "credits_per_image": per_item,
                     "cost_per_image_usd": round(per_item * cost_per_credit, 4)})

    def fetch_content(self, item: ContentItem, max_bytes: int) -> Iterator[bytes]:
        """Data URLs decoded; http(s) URLs streamed, with auth only for the vendor's own URLs."""
        if item.url.startswith("data:"):
            data = parse_data_url(item.url)[1]
            if len(data) > max_bytes:
                raise too_large(max_bytes)
            for start in range(0, len(data), _CHUNK):
                yield data[start:start + _CHUNK]
            return
        if urlsplit(item.url).scheme not in ("http", "https"):
            raise InvalidRequestError("Content URL must be a data, http or https URL")
        yield from self.stream_download(item.url, max_bytes)

    # ---------------------------------------------------------------- helpers for subclasses

    def unsupported(self, action: str) -> InvalidRequestError:
        return InvalidRequestError(f"Provider '{self.provider_id}' does not support '{action}'")

    def url(self, path: str) -> str:
        return self.base_url().rstrip("/") + path

    def _timeout(self, seconds: float) -> httpx.Timeout:
        return httpx.Timeout(seconds, connect=min(10.0, seconds))

    def _headers_for(self, url: str) -> dict[str, str]:
        base = self.base_url().rstrip("/")
        return self.auth_headers() if base and (url == base or url.startswith(base + "/")) else {}

    def safe(self, text: str) -> str:
        return sanitize_message(text, self._secrets)

    def request(self, method: str, url: str, *, json_body: Any = None,
                data: Mapping[str, Any] | None = None, files: Mapping[str, Any] | None = None,
                params: Mapping[str, Any] | None = None, timeout_s: float | None = None,
                attempts: int | None = None) -> httpx.Response:
        """One vendor call with error mapping; retryable failures (429, 5xx, timeouts) are
        retried up to `max_attempts` times, waiting `retry-after` when the vendor says so."""
        tries = max(1, attempts if attempts is not None else self.settings.max_attempts)
        for attempt in range(1, tries + 1):
            try:
                return self._send(method, url, json_body, data, files, params, timeout_s)
            except ProviderError as exc:
                if not exc.retryable or attempt >= tries:
                    raise
                wait = exc.retry_after if exc.retry_after is not None else 2.0 ** (attempt - 1)
                self._sleep(min(_MAX_BACKOFF_S, max(0.0, wait)))
        raise AssertionError("unreachable")

    def _send(self, method: str, url: str, json_body: Any, data: Mapping[str, Any] | None,
              files: Mapping[str, Any] | None, params: Mapping[str, Any] | None,
              timeout_s: float | None) -> httpx.Response:
        timeout = self._timeout(timeout_s or self.settings.request_timeout_s)
        try:
            response = self._http.request(method, url, json=json_body, data=data, files=files,
                                          params=params, headers=self._headers_for(url),
                                          timeout=timeout)
        except httpx.HTTPError as exc:
            raise error_from_exception(self.vendor, exc) from None
        if response.status_code >= 400:
            raise error_from_status(self.vendor, response.status_code, dict(response.headers),
                                    response.content, self._secrets)
        return response

    def json_of(self, response: httpx.Response) -> dict[str, Any]:
        try:
            body = json.loads(response.content)
        except ValueError:
            raise ServerError(f"{self.vendor} returned a body that is not JSON") from None
        if not isinstance(body, dict):
            raise ServerError(f"{self.vendor} returned an unexpected body")
        return body

    def stream_download(self, url: str, max_bytes: int) -> Iterator[bytes]:
        """GET `url` in chunks, refusing more than `max_bytes`."""
        try:
            with self._http.stream("GET", url, headers=self._headers_for(url)) as response:
                if response.status_code >= 400:
                    raise error_from_status(self.vendor, response.status_code,
                                            dict(response.headers), response.read(),
                                            self._secrets)
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise too_large(max_bytes)
                total = 0
                for chunk in response.iter_bytes(_CHUNK):
                    total += len(chunk)
                    if total > max_bytes:
                        raise too_large(max_bytes)
                    yield chunk
        except httpx.HTTPError as exc:
            raise error_from_exception(self.vendor, exc) from None

    def download(self, url: str, max_bytes: int) -> bytes:
        return b"".join(self.stream_download(url, max_bytes))

    def source_image(self, source: str) -> tuple[bytes, str, str]:
        """(bytes, file name, mime type) of an img2img / img2vid source. A source URL comes from
        the caller, so it is fetched like `api.fetch` fetches (public addresses only)."""
        return load_source_image(source, self._source_fetcher)

    def poll(self, step: Callable[[], polling.PollStatus], progress: ProgressCallback, *,
             interval_s: float, timeout_s: float,
             on_stop: Callable[[], None] | None = None,
             wait: Callable[[float], None] | None = None) -> Any:
        return polling.poll_until_done(step, progress, vendor=self.vendor,
                                       interval_s=interval_s, timeout_s=timeout_s,
                                       wait=wait or self._sleep, monotonic=self._monotonic,
                                       on_stop=on_stop)

    def run_blocking(self, call: Callable[[], Any], progress: ProgressCallback, *,
                     timeout_s: float, message: Callable[[], polling.PollStatus] | None = None,
                     on_stop: Callable[[], None] | None = None) -> Any:
        """Run a long blocking vendor call in a worker thread, reporting progress every
        `poll_interval_s` (from `message` when given) until it returns."""
        job = polling.BackgroundCall(call, name=f"{self.provider_id}-call")

        def step() -> polling.PollStatus:
            if job.done:
                try:
                    return polling.PollStatus(done=True, result=job.result())
                except ProviderTimeoutError:
                    polling.stop_quietly(on_stop)   # the vendor may still be working on it
                    raise
            return message() if message is not None else polling.PollStatus(False, None,
                                                                             "Generating")

        return self.poll(step, progress, interval_s=self.settings.poll_interval_s,
                         timeout_s=timeout_s, on_stop=on_stop, wait=job.wait)
