"""Guarded HTTP fetcher for `api.fetch` (providers.md PRV-17, modules.md MOD-fetch-1).

Workflow authors choose the URL, so the fetcher must not become a door into the server's own
network: every resolved address must be public, and the connection goes to the very address that
was checked (no second DNS lookup that could be rebound), with the original Host header and TLS
server name. Redirects are never followed and bodies are capped.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any, Callable
from urllib.parse import urlsplit, urlunsplit

import httpx

from engine.provider_types import ProviderError, ProviderTimeoutError

Resolver = Callable[[str, int], list[str]]

MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_TIMEOUT_S = 60.0
_DEFAULT_PORTS = {"http": 80, "https": 443}
_DROPPED_HEADERS = {"host", "accept-encoding", "content-length", "transfer-encoding", "connection"}


def system_resolver(host: str, port: int) -> list[str]:
    """All addresses of `host` from the operating system's resolver, in order, de-duplicated."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in seen:
            seen.append(address)
    return seen


def is_public_address(address: str) -> bool:
    """False for loopback, private, link-local, multicast, reserved and unspecified ranges."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
            or ip.is_reserved or ip.is_unspecified):
        return False
    return ip.is_global


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


class GuardedHttpFetcher:
    """`HttpFetcher` on httpx; `resolver` and `transport` are injectable for tests."""

    def __init__(self, *, resolver: Resolver | None = None,
                 transport: httpx.BaseTransport | None = None,
                 max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self._resolver = resolver or system_resolver
        self._transport = transport
        self._max_body_bytes = max_body_bytes

    def fetch(self, method: str, url: str, headers: dict[str, str] | None, json_body: Any,
              params: dict[str, Any] | None, timeout_s: float) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = parts.hostname
        if scheme not in _DEFAULT_PORTS or not host:
            raise ProviderError("Only http and https URLs are allowed", error_code="url_refused")
        try:
            port = parts.port or _DEFAULT_PORTS[scheme]
        except ValueError:
            raise ProviderError("Invalid port in URL", error_code="url_refused") from None
        address = self._checked_address(host, port)
        netloc = f"[{address}]" if ":" in address else address
        if parts.port:
            netloc += f":{parts.port}"
        target = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
        send_headers = {k: v for k, v in (headers or {}).items()
                        if k.lower() not in _DROPPED_HEADERS}
        host_header = f"[{host}]" if ":" in host else host
        send_headers["Host"] = host_header + (f":{parts.port}" if parts.port else "")
        send_headers["Accept-Encoding"] = "identity"
        extensions = {"sni_hostname": host} if scheme == "https" else {}
        timeout = max(0.001, min(float(timeout_s), MAX_TIMEOUT_S))
        try:
            with httpx.Client(transport=self._transport, follow_redirects=False,
                              timeout=timeout, trust_env=False) as client:
                url_obj = httpx.URL(target)
                if params:  # merged, not replacing the query already in the URL
                    url_obj = url_obj.copy_merge_params(params)
                request = client.build_request(method.upper(), url_obj, headers=send_headers,
                                               json=json_body, extensions=extensions)
                response = client.send(request, stream=True)
                try:
                    body = self._read_capped(response)
                finally:
                    response.close()
        except httpx.TimeoutException:
            raise ProviderTimeoutError(f"Request to {host} timed out") from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise ProviderError(f"Request to {host} failed: {type(exc).__name__}") from None
        return response.status_code, dict(response.headers), body

    def _checked_address(self, host: str, port: int) -> str:
        if _is_ip_literal(host):
            addresses = [host]
        else:
            try:
                addresses = list(self._resolver(host, port))
            except (OSError, UnicodeError):
                raise ProviderError(f"Could not resolve host '{host}'",
                                    error_code="url_refused") from None
        if not addresses:
            raise ProviderError(f"Could not resolve host '{host}'", error_code="url_refused")
        for address in addresses:
            if not is_public_address(address):
                raise ProviderError(f"Host '{host}' resolves to a non-public address",
                                    error_code="url_refused")
        return addresses[0]

    def _read_capped(self, response: httpx.Response) -> bytes:
        if response.is_stream_consumed:  # already buffered (for example by a mock transport)
            if len(response.content) > self._max_body_bytes:
                raise ProviderError("Response body exceeds 5 MiB", error_code="too_large")
            return response.content
        chunks: list[bytes] = []
        total = 0
        for chunk in response.iter_raw():
            total += len(chunk)
            if total > self._max_body_bytes:
                raise ProviderError("Response body exceeds 5 MiB", error_code="too_large")
            chunks.append(chunk)
        return b"".join(chunks)
