"""Shared pieces of the live LLM clients: error mapping, retry-after parsing, schema
preparation, SSE parsing and the registry (providers.md §2, §3.2, PRV-5, PRV-7, PRV-10)."""

from __future__ import annotations

import httpx
import pytest

from engine.provider_types import (
    AuthenticationError,
    InsufficientCreditsError,
    InvalidRequestError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    ServerError,
)
from engine.settings import EngineSettings
from providers.llm.anthropic import AnthropicClient
from providers.llm.common import parse_content, strip_fences
from providers.llm.http_errors import (
    error_from_exception,
    error_from_status,
    error_from_stream_event,
    parse_retry_after,
)
from providers.llm.openai import OpenAIClient
from providers.llm.registry import LLMClientSettings, create_llm_client, llm_factory
from providers.llm.schemas import anthropic_schema, openai_strict_schema
from providers.llm.streaming import iter_sse
from providers.provider_set import DefaultProviderSet


@pytest.mark.parametrize("headers,expected", [
    ({"Retry-After": "12"}, 12.0),
    ({"retry-after": "1.5"}, 1.5),
    ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
    ({"retry-after": "Wed, 21 Oct 2015 07:28:30 GMT"}, 30.0),
    ({"x-ratelimit-reset-requests": "6m0s", "x-ratelimit-reset-tokens": "20ms"}, 360.0),
    ({"anthropic-ratelimit-tokens-reset": "2015-10-21T07:28:45Z"}, 45.0),
    ({"retry-after": "soon"}, None),
    ({}, None),
])
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    now = 1445412480.0            # 2015-10-21T07:28:00Z
    assert parse_retry_after(headers, now=now) == expected


@pytest.mark.parametrize("status,body,cls", [
    (401, b'{"error": {"message": "bad"}}', AuthenticationError),
    (403, b"forbidden", AuthenticationError),
    (402, b"{}", InsufficientCreditsError),
    (429, b'{"error": {"message": "x", "code": "insufficient_quota"}}', InsufficientCreditsError),
    (429, b'{"error": {"message": "slow"}}', RateLimitError),
    (500, b"oops", ServerError),
    (503, b"", ServerError),
    (400, b'{"type": "error", "error": {"type": "invalid_request_error", "message": "m"}}',
     InvalidRequestError),
    (404, b"{}", InvalidRequestError),
])
def test_status_mapping(status: int, body: bytes, cls: type) -> None:
    error = error_from_status("V", status, {}, body)
    assert type(error) is cls and error.status_code == status
    assert error.retryable is (cls in (RateLimitError, ServerError))


def test_stream_event_and_transport_mapping() -> None:
    assert isinstance(error_from_stream_event("V", "rate_limit_error", "m"), RateLimitError)
    assert isinstance(error_from_stream_event("V", "overloaded_error", "m"), ServerError)
    assert isinstance(error_from_stream_event("V", "invalid_request_error", "m"),
                      InvalidRequestError)
    timeout = error_from_exception("V", httpx.ReadTimeout("https://u:secret@h/x"))
    assert isinstance(timeout, ProviderTimeoutError) and "secret" not in timeout.message


def test_prv10_status_messages_scrub_known_secrets() -> None:
    error = error_from_status("V", 400, {}, b'{"error": {"message": "key=abc-SECRET-123"}}',
                              ["abc-SECRET-123"])
    assert "SECRET" not in error.message and "***" in error.message


def test_fences_and_parse_content() -> None:
    assert strip_fences("```json\n{\"a\": 1}\n```") == '{"a": 1}'
    assert strip_fences("```\n[1]\n```  ") == "[1]"
    assert parse_content(' {"a": 1} ', {"type": "object"}) == {"a": 1}
    assert parse_content("plain", None) == "plain"
    with pytest.raises(ProviderError) as info:
        parse_content("{", {"type": "object"})
    assert info.value.error_code == "invalid_json" and info.value.retryable


def test_openai_strict_schema_closes_objects() -> None:
    schema = {"properties": {"a": {"type": "object", "properties": {"b": {"type": "string"}},
                                   "required": ["b"]}}, "required": ["a"]}
    prepared, strict = openai_strict_schema(schema)
    assert strict and prepared["type"] == "object"
    assert prepared["additionalProperties"] is False
    assert prepared["properties"]["a"]["additionalProperties"] is False
    _, strict = openai_strict_schema({"type": "object", "properties": {"x": {}},
                                      "additionalProperties": True, "required": ["x"]})
    assert strict is False


def test_anthropic_schema_moves_constraints_into_descriptions() -> None:
    schema = {"type": "object", "$defs": {"w": {"type": "number", "exclusiveMinimum": 0,
                                                "multipleOf": 5}},
              "properties": {"list": {"type": "array", "maxItems": 2, "items": {
                  "anyOf": [{"type": "string", "minLength": 1},
                            {"type": "object", "properties": {}}]}}}}
    out = anthropic_schema(schema)
    assert out["$defs"]["w"] == {"type": "number",
                                 "description": "(exclusiveMinimum: 0, multipleOf: 5)"}
    any_of = out["properties"]["list"]["items"]["anyOf"]
    assert any_of[0] == {"type": "string", "description": "(minLength: 1)"}
    assert any_of[1]["additionalProperties"] is False and out["additionalProperties"] is False
    assert out["properties"]["list"]["description"] == "(maxItems: 2)"


def test_iter_sse_parses_events_comments_and_done() -> None:
    lines = [": comment", "event: a", 'data: {"x": 1}', "", "data: line1", "data: line2", "",
             "data: [DONE]", ""]
    events = list(iter_sse(iter(lines)))
    assert [(e.event, e.data) for e in events] == [
        ("a", {"x": 1}), ("message", "line1\nline2"), ("message", "[DONE]")]


def test_registry_builds_configured_clients_prv5() -> None:
    settings = LLMClientSettings.from_values(
        {"OPENAI_BASE_URL": "http://127.0.0.1:1/v1", "ANTHROPIC_BASE_URL": ""},
        EngineSettings(provider_timeout_s=7, llm_stream_chunk_timeout_s=3,
                       cancel_check_interval_s=0.2))
    openai = create_llm_client("openai", settings)
    assert isinstance(openai, OpenAIClient) and openai.options.base_url == "http://127.0.0.1:1/v1"
    assert (openai.options.provider_timeout_s, openai.options.stream_chunk_timeout_s,
            openai.options.cancel_check_interval_s) == (7.0, 3.0, 0.2)
    anthropic = create_llm_client("anthropic", settings)
    assert isinstance(anthropic, AnthropicClient)
    assert anthropic.options.base_url == "https://api.anthropic.com"
    assert create_llm_client("openai") is not create_llm_client("openai")
    with pytest.raises(ProviderError) as info:
        create_llm_client("acme")
    assert info.value.error_code == "unknown_provider" and not info.value.retryable
    view = DefaultProviderSet(llm_factory=llm_factory(settings)).for_call(False)
    assert view.llm("openai").options.base_url == "http://127.0.0.1:1/v1"  # type: ignore[attr-defined]
    assert view.llm("anthropic").default_model() == "claude-sonnet-4-5"
