"""api.fetch (modules.md MOD-fetch-1/2)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
import pytest

from engine.errors import ModuleExecutionError
from engine.jsonutil import canonical_json
from engine.mock_data import generate_mock
from engine.modules.api.fetch import ApiFetchModule, extract
from engine.provider_types import ProviderError
from providers.http_fetch import GuardedHttpFetcher
from providers.provider_set import DefaultProviderSet
from tests.fakes import FakeProviderSet, make_module_context

DEFAULTS = {"base_url": None, "method": "GET", "headers": None, "body": None, "params": None,
            "timeout": 30, "extract_path": None, "error_on_failure": True}


class FakeFetcher:
    def __init__(self, status: int = 200, body: bytes = b'{"data": {"items": [1, 2, 3]}}',
                 error: ProviderError | None = None) -> None:
        self.status, self.body, self.error = status, body, error
        self.calls: list[tuple[Any, ...]] = []

    def fetch(self, method, url, headers, json_body, params, timeout_s):
        self.calls.append((method, url, headers, json_body, params, timeout_s))
        if self.error is not None:
            raise self.error
        return self.status, {}, self.body


def run(inputs: dict[str, Any], fetcher: FakeFetcher | None = None, **ctx: Any) -> dict[str, Any]:
    if fetcher is not None:
        ctx.setdefault("providers", FakeProviderSet(fetcher=fetcher))
        ctx.setdefault("mock", False)
    return ApiFetchModule().execute({**DEFAULTS, **inputs}, make_module_context(**ctx))


def test_mod_fetch_2_mock_result_without_request() -> None:
    out = run({"url": "https://api.test/x", "method": "post"})
    seed = int.from_bytes(hashlib.sha256(canonical_json(
        {"method": "POST", "url": "https://api.test/x"})).digest()[:8], "big")
    assert out == {"response": {"mock": True, "message": generate_mock(None, seed)},
                   "status_code": 200, "success": True}
    assert run({"url": "https://api.test/x", "method": "POST"}) == out
    assert run({"url": "https://api.test/y", "method": "POST"}) != out


def test_mod_fetch_2_mock_never_asks_for_the_fetcher() -> None:
    providers = DefaultProviderSet().for_call(True)   # its fetcher() raises in mock mode
    out = run({"url": "http://127.0.0.1/"}, providers=providers)
    assert out["success"] is True


def test_mod_fetch_1_json_response_and_extract_path() -> None:
    f = FakeFetcher()
    out = run({"url": "https://api.test/x", "extract_path": "data.items.1"}, f)
    assert out == {"response": 2, "status_code": 200, "success": True}
    assert run({"url": "https://api.test/x", "extract_path": "data.nope"}, f)["response"] is None
    assert extract({"a": [{"b": 1}]}, "a.0.b") == 1
    assert extract({"a": [1]}, "a.5") is None


def test_mod_fetch_1_text_body_falls_back_to_text_object() -> None:
    out = run({"url": "https://api.test/x"}, FakeFetcher(body=b"plain words"))
    assert out["response"] == {"text": "plain words"}


def test_mod_fetch_1_request_shape() -> None:
    f = FakeFetcher()
    run({"url": "items/1", "base_url": "https://api.test/v2", "method": "put",
         "headers": {"X-A": "1", "content-type": "text/plain"}, "body": {"k": "v"},
         "params": {"q": "z"}, "timeout": 500}, f)
    method, url, headers, body, params, timeout = f.calls[0]
    assert (method, url) == ("PUT", "https://api.test/v2/items/1")
    assert headers == {"X-A": "1", "Content-Type": "application/json"}
    assert body == {"k": "v"} and params == {"q": "z"} and timeout == 60.0


def test_mod_fetch_1_absolute_url_ignores_base() -> None:
    f = FakeFetcher()
    run({"url": "https://other.test/p", "base_url": "https://api.test/"}, f)
    assert f.calls[0][1] == "https://other.test/p"


@pytest.mark.parametrize("url", ["ftp://api.test/x", "file:///etc/passwd", "relative/only"])
def test_mod_fetch_1_only_http_and_https(url: str) -> None:
    f = FakeFetcher()
    with pytest.raises(ModuleExecutionError) as info:
        run({"url": url}, f)
    assert info.value.error_type == "execution_failed" and f.calls == []


def test_mod_fetch_1_non_2xx() -> None:
    with pytest.raises(ModuleExecutionError) as info:
        run({"url": "https://api.test/x"}, FakeFetcher(status=404, body=b"{}"))
    assert info.value.message == "HTTP 404 from api.test"
    out = run({"url": "https://api.test/x", "error_on_failure": False},
              FakeFetcher(status=302, body=b""))
    assert out == {"response": {"text": ""}, "status_code": 302, "success": False}


def test_mod_fetch_1_fetcher_refusal_is_execution_failed() -> None:
    f = FakeFetcher(error=ProviderError("Host 'x' resolves to a non-public address"))
    with pytest.raises(ModuleExecutionError) as info:
        run({"url": "https://x/"}, f)
    assert info.value.error_type == "execution_failed"
    assert "non-public" in info.value.message


def test_mod_fetch_1_private_target_refused_end_to_end() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"secret": True})

    guarded = GuardedHttpFetcher(resolver=lambda host, port: ["169.254.169.254"],
                                 transport=httpx.MockTransport(handler))
    providers = DefaultProviderSet(fetcher_factory=lambda: guarded).for_call(False)
    with pytest.raises(ModuleExecutionError):
        run({"url": "http://metadata.test/latest"}, providers=providers, mock=False)
    assert seen == []
    public = GuardedHttpFetcher(resolver=lambda host, port: ["93.184.216.34"],
                                transport=httpx.MockTransport(handler))
    providers = DefaultProviderSet(fetcher_factory=lambda: public).for_call(False)
    out = run({"url": "http://api.test/data"}, providers=providers, mock=False)
    assert out["response"] == {"secret": True}
    assert json.loads(seen[0].content or b"null") is None
