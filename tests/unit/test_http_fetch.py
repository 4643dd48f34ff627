"""GuardedHttpFetcher (providers.md PRV-17, modules.md MOD-fetch-1) with a fake resolver and
httpx.MockTransport: no real DNS or network."""

from __future__ import annotations

import json

import httpx
import pytest

from engine.provider_types import ProviderError, ProviderTimeoutError
from providers.http_fetch import MAX_BODY_BYTES, GuardedHttpFetcher, is_public_address

PUBLIC = "93.184.216.34"


class Recorder:
    """MockTransport handler answering with `status`/`headers` and a streamed body."""

    def __init__(self, status: int = 200, body: bytes = b'{"ok": true}',
                 headers: dict[str, str] | None = None, buffered: bool = False) -> None:
        self.requests: list[httpx.Request] = []
        self.status, self.body, self.headers, self.buffered = status, body, headers, buffered

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.buffered:
            return httpx.Response(self.status, headers=self.headers, content=self.body)
        chunks = [self.body[i:i + 65536] for i in range(0, len(self.body), 65536)]
        return httpx.Response(self.status, headers=self.headers,
                              stream=httpx.ByteStream(b"".join(chunks)))


def fetcher(addresses: dict[str, list[str]], handler) -> GuardedHttpFetcher:
    return GuardedHttpFetcher(resolver=lambda host, port: addresses[host],
                              transport=httpx.MockTransport(handler))


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.5", "192.168.1.1", "169.254.169.254", "224.0.0.1",
    "0.0.0.0", "240.0.0.1", "100.64.0.1", "::1", "fe80::1", "fc00::1", "ff02::1", "::",
    "::ffff:127.0.0.1"])
def test_prv17_non_public_addresses_refused(address: str) -> None:
    assert is_public_address(address) is False
    rec = Recorder()
    with pytest.raises(ProviderError):
        fetcher({"api.test": [address]}, rec).fetch("GET", "https://api.test/x", None, None,
                                                    None, 10)
    assert rec.requests == []


def test_prv17_public_addresses_accepted() -> None:
    assert is_public_address(PUBLIC) and is_public_address("2606:4700:4700::1111")


def test_prv17_every_resolved_address_must_be_public() -> None:
    rec = Recorder()
    with pytest.raises(ProviderError, match="non-public"):
        fetcher({"api.test": [PUBLIC, "10.0.0.1"]}, rec).fetch(
            "GET", "http://api.test/", None, None, None, 5)
    assert rec.requests == []


def test_prv17_ip_literal_urls_are_checked_too() -> None:
    rec = Recorder()
    with pytest.raises(ProviderError):
        fetcher({}, rec).fetch("GET", "http://127.0.0.1:8080/admin", None, None, None, 5)
    with pytest.raises(ProviderError):
        fetcher({}, rec).fetch("GET", "http://[::1]/", None, None, None, 5)
    assert rec.requests == []


@pytest.mark.parametrize("url", ["ftp://api.test/x", "file:///etc/passwd", "api.test/x",
                                 "gopher://api.test"])
def test_prv17_only_http_and_https(url: str) -> None:
    with pytest.raises(ProviderError):
        fetcher({"api.test": [PUBLIC]}, Recorder()).fetch("GET", url, None, None, None, 5)


def test_prv17_connects_to_checked_address_with_original_host() -> None:
    rec = Recorder()
    calls: list[tuple[str, int]] = []

    def resolver(host: str, port: int) -> list[str]:
        calls.append((host, port))
        return [PUBLIC]

    f = GuardedHttpFetcher(resolver=resolver, transport=httpx.MockTransport(rec))
    status, headers, body = f.fetch("POST", "https://api.test/v1/items?x=1",
                                    {"X-Token": "t", "Host": "evil", "Accept-Encoding": "gzip"},
                                    {"a": 1}, {"page": 2}, 10)
    assert status == 200 and json.loads(body) == {"ok": True}
    assert calls == [("api.test", 443)]
    (request,) = rec.requests
    assert request.url.host == PUBLIC and request.url.scheme == "https"
    assert request.url.path == "/v1/items"
    assert dict(request.url.params) == {"x": "1", "page": "2"}
    assert request.headers["host"] == "api.test"
    assert request.headers["accept-encoding"] == "identity"
    assert request.headers["x-token"] == "t"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {"a": 1}
    assert request.extensions["sni_hostname"] == "api.test"
    assert request.method == "POST"


def test_prv17_explicit_port_kept_in_host_header() -> None:
    rec = Recorder()
    fetcher({"api.test": ["2606:4700:4700::1111"]}, rec).fetch(
        "GET", "http://api.test:8080/p", None, None, None, 5)
    request = rec.requests[0]
    assert request.headers["host"] == "api.test:8080"
    assert request.url.port == 8080 and request.url.host == "2606:4700:4700::1111"
    assert "sni_hostname" not in request.extensions


def test_prv17_redirects_are_not_followed() -> None:
    rec = Recorder(302, b"", {"Location": "http://127.0.0.1/"})
    status, headers, body = fetcher({"api.test": [PUBLIC]}, rec).fetch(
        "GET", "http://api.test/", None, None, None, 5)
    assert status == 302 and headers["location"] == "http://127.0.0.1/"
    assert len(rec.requests) == 1


@pytest.mark.parametrize("buffered", [False, True])
def test_prv17_body_capped_at_5_mib(buffered: bool) -> None:
    big = Recorder(body=b"x" * (MAX_BODY_BYTES + 1), buffered=buffered)
    with pytest.raises(ProviderError, match="5 MiB"):
        fetcher({"api.test": [PUBLIC]}, big).fetch("GET", "http://api.test/", None, None, None, 5)
    exact = Recorder(body=b"y" * MAX_BODY_BYTES, buffered=buffered)
    _, _, body = fetcher({"api.test": [PUBLIC]}, exact).fetch("GET", "http://api.test/", None,
                                                             None, None, 5)
    assert len(body) == MAX_BODY_BYTES


def test_prv17_timeout_capped_at_60_seconds() -> None:
    rec = Recorder()
    fetcher({"api.test": [PUBLIC]}, rec).fetch("GET", "http://api.test/", None, None, None, 600)
    timeout = rec.requests[0].extensions["timeout"]
    assert max(v for v in timeout.values() if v is not None) == 60.0


def test_prv17_transport_errors_become_provider_errors() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(ProviderTimeoutError):
        fetcher({"api.test": [PUBLIC]}, timeout).fetch("GET", "http://api.test/", None, None,
                                                       None, 5)

    def broken(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(ProviderError, match="ConnectError"):
        fetcher({"api.test": [PUBLIC]}, broken).fetch("GET", "http://api.test/", None, None,
                                                      None, 5)


def test_prv17_unresolvable_host() -> None:
    def resolver(host: str, port: int) -> list[str]:
        raise OSError("no such host")

    f = GuardedHttpFetcher(resolver=resolver, transport=httpx.MockTransport(Recorder()))
    with pytest.raises(ProviderError, match="Could not resolve"):
        f.fetch("GET", "http://nope.test/", None, None, None, 5)
