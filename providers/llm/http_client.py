"""The two HTTP exchanges every vendor client needs: one JSON POST and one SSE POST.

httpx is used directly (not the vendor SDKs) so timeouts, stream closing and the transport are
ours to control, tests can point the clients at loopback fakes, and no SDK can read keys or
base URLs from the environment behind our back (PRV-1).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import httpx

from engine.provider_types import ProviderTimeoutError, ServerError
from providers.llm.http_errors import error_from_exception, error_from_status
from providers.llm.streaming import Opener, SSEEvent, StreamLimits, iter_sse

_CONNECT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class ClientOptions:
    """What a live client needs besides the request: where, how long, and how to connect.

    `transport` is the same seam the media clients have (tests and gateways plug in there)."""

    base_url: str
    provider_timeout_s: float = 300.0
    stream_chunk_timeout_s: float = 180.0
    cancel_check_interval_s: float = 0.1
    transport: httpx.BaseTransport | None = None

    def http(self, timeout: httpx.Timeout) -> httpx.Client:
        """A fresh client per call; `trust_env=False`: nothing is taken from the environment."""
        return httpx.Client(transport=self.transport, timeout=timeout, trust_env=False,
                            follow_redirects=False)

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    def stream_limits(self) -> StreamLimits:
        return StreamLimits(chunk_timeout_s=self.stream_chunk_timeout_s,
                            check_interval_s=self.cancel_check_interval_s,
                            overall_timeout_s=self.provider_timeout_s)


def _timeout(seconds: float) -> httpx.Timeout:
    return httpx.Timeout(seconds, connect=min(_CONNECT_TIMEOUT_S, seconds))


def post_json(options: ClientOptions, path: str, headers: dict[str, str], body: dict[str, Any],
              vendor: str, secrets: Iterable[str]) -> dict[str, Any]:
    """POST and return the JSON object, within the overall `provider_timeout_s` deadline."""
    deadline = time.monotonic() + options.provider_timeout_s
    chunks: list[bytes] = []
    try:
        with options.http(_timeout(options.provider_timeout_s)) as client, \
                client.stream("POST", options.url(path), headers=headers, json=body) as response:
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise ProviderTimeoutError(
                        f"{vendor} call exceeded {options.provider_timeout_s:g} s")
            status, response_headers = response.status_code, dict(response.headers)
    except httpx.HTTPError as exc:
        raise error_from_exception(vendor, exc) from None
    raw = b"".join(chunks)
    if status >= 400:
        raise error_from_status(vendor, status, response_headers, raw, secrets)
    try:
        data = json.loads(raw)
    except ValueError:
        raise ServerError(f"{vendor} returned a body that is not JSON") from None
    if not isinstance(data, dict):
        raise ServerError(f"{vendor} returned an unexpected body")
    return data


def sse_opener(options: ClientOptions, path: str, headers: dict[str, str],
               body: dict[str, Any], vendor: str, secrets: Iterable[str]) -> Opener:
    """An opener for `pump_events`. The caller enforces the chunk watchdog; the socket read
    timeout is only a safety net that ends a helper thread if a socket shutdown ever fails."""
    known = list(secrets)
    # longer than the watchdog so the caller's clearer stall error wins the race
    safety_read_s = options.stream_chunk_timeout_s * 2 + 1.0

    def open_events(register: Callable[[httpx.Response], None]) -> Iterator[SSEEvent]:
        try:
            with options.http(_timeout(safety_read_s)) as client, \
                    client.stream("POST", options.url(path), headers=headers,
                                  json=body) as response:
                register(response)
                if response.status_code >= 400:
                    raw = response.read()
                    raise error_from_status(vendor, response.status_code,
                                            dict(response.headers), raw, known)
                yield from iter_sse(response.iter_lines())
        except httpx.HTTPError as exc:
            raise error_from_exception(vendor, exc) from None

    return open_events
