"""Anthropic client against a local fake Anthropic server (providers.md §3, PRV-6…PRV-11)."""

from __future__ import annotations

import base64
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from engine.ports import CancelToken
from engine.provider_types import (
    ContentPart,
    InsufficientCreditsError,
    InvalidRequestError,
    LLMRequest,
    Message,
    ProviderCancelled,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailable,
    RateLimitError,
    ServerError,
)
from providers.llm import models
from providers.llm.anthropic import AnthropicClient
from providers.llm.anthropic_payload import STRUCTURED_OUTPUT_BETA
from tests.fakes_http import anthropic_shapes as an
from tests.fakes_http.server import FakeHttpServer, Reply, fake_server  # noqa: F401

KEY = "sk-ant-test-0123456789abcdefgh"
CREDS = {"anthropic_api_key": KEY}
SCHEMA = {"type": "object", "required": ["scenes"], "properties": {"scenes": {
    "type": "array", "minItems": 3, "maxItems": 3, "items": {
        "type": "object", "required": ["weight", "name"], "properties": {
            "weight": {"type": "integer", "minimum": 10, "maximum": 100,
                       "description": "Importance"},
            "name": {"type": "string", "maxLength": 40}}}}}}


def make(server: FakeHttpServer, **kw: float) -> AnthropicClient:
    kw.setdefault("provider_timeout_s", 5.0)
    kw.setdefault("stream_chunk_timeout_s", 2.0)
    kw.setdefault("cancel_check_interval_s", 0.05)
    return AnthropicClient(base_url=server.base_url, **kw)


def text(role: str, value: str) -> Message:
    return Message(role=role, content=[ContentPart(type="text", value=value)])  # type: ignore[arg-type]


def req(model: str = "claude-sonnet-4-5", **kw) -> LLMRequest:
    kw.setdefault("messages", [text("system", "You write scenes."), text("user", "Three scenes.")])
    return LLMRequest(model=model, **kw)


def test_success_headers_system_blocks_and_default_max_tokens(fake_server: FakeHttpServer) -> None:
    fake_server.script(an.MESSAGES, Reply(json=an.messages_body("Scene one.")))
    result = make(fake_server).call(req(), CREDS)
    assert result.content == "Scene one." and result.finish_reason == "end_turn"
    sent = fake_server.requests[0]
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == KEY and sent.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in sent.headers and "anthropic-beta" not in sent.headers
    assert sent.body["system"] == [{"type": "text", "text": "You write scenes."}]
    assert sent.body["messages"] == [{"role": "user",
                                      "content": [{"type": "text", "text": "Three scenes."}]}]
    assert sent.body["max_tokens"] == 64000          # model maximum when absent


def test_usage_counts_cache_reads_and_writes_prv8(fake_server: FakeHttpServer) -> None:
    fake_server.script(an.MESSAGES, Reply(json=an.messages_body(
        "x", input_tokens=50, output_tokens=10, cache_read=900, cache_creation=50)))
    usage = make(fake_server).call(req(), CREDS).usage
    assert (usage.prompt_tokens, usage.cached_tokens, usage.completion_tokens) == (1000, 900, 10)
    assert usage.cost_usd == pytest.approx(models.cost_usd("claude-sonnet-4-5", 1000, 10, 900))
    assert usage.display_name == "Claude Sonnet 4.5"


def test_cache_flags_add_cache_control(fake_server: FakeHttpServer) -> None:
    fake_server.script(an.MESSAGES, Reply(json=an.messages_body("x")))
    messages = [text("system", "A"), text("system", "B"), text("user", "U1"),
                text("assistant", "A1"), text("user", "U2")]
    make(fake_server).call(req(messages=messages, cache_system_message=True,
                               cache_user_prefix=True), CREDS)
    body = fake_server.requests[0].body
    assert body["system"] == [{"type": "text", "text": "A"},
                              {"type": "text", "text": "B", "cache_control": {"type": "ephemeral"}}]
    assert body["messages"][0]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in body["messages"][2]["content"][-1]


def test_consecutive_user_turns_are_merged(fake_server: FakeHttpServer) -> None:
    fake_server.script(an.MESSAGES, Reply(json=an.messages_body("x")))
    make(fake_server).call(req(messages=[text("user", "a"), text("user", "b")]), CREDS)
    assert fake_server.requests[0].body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]


@pytest.mark.parametrize("effort,budget", [("low", 2048), ("medium", 8192), ("high", 24576)])
def test_reasoning_effort_maps_to_thinking_budget(fake_server: FakeHttpServer, effort: str,
                                                  budget: int) -> None:
    fake_server.script(an.MESSAGES, Reply(json=an.messages_body("x", thinking="hmm")))
    result = make(fake_server).call(req(reasoning_effort=effort, temperature=0.3,
                                        max_tokens=1000), CREDS)
    assert result.content == "x"                     # thinking blocks are not content
    body = fake_server.requests[0].body
    assert body["thinking"] == {"type": "enabled", "budget_tokens": budget}
    assert body["max_tokens"] == budget + 1000 and "temperature" not in body


def test_prv6_temperature_clamped_and_max_tokens_capped(fake_server: FakeHttpServer) -> None:
    fake_server.script(an.MESSAGES, Reply(json=an.messages_body("x")))
    make(fake_server).call(req(model="claude-opus-4-1", temperature=1.7, max_tokens=10**9,
                               reasoning_effort="extreme"), CREDS)
    body = fake_server.requests[0].body
    assert body["temperature"] == 1.0 and body["max_tokens"] == 32000 and "thinking" not in body


def test_prv7_output_format_with_sanitised_schema(fake_server: FakeHttpServer) -> None:
    answer = '{"scenes": [{"weight": 50, "name": "a"}]}'
    fake_server.script(an.MESSAGES, Reply(json=an.messages_body("```json\n" + answer + "\n```")))
    result = make(fake_server).call(req(output_schema=SCHEMA), CREDS)
    assert result.content == {"scenes": [{"weight": 50, "name": "a"}]}
    sent = fake_server.requests[0]
    assert sent.headers["anthropic-beta"] == STRUCTURED_OUTPUT_BETA
    schema = sent.body["output_format"]["schema"]
    assert sent.body["output_format"]["type"] == "json_schema"
    scenes = schema["properties"]["scenes"]
    weight = scenes["items"]["properties"]["weight"]
    assert "minimum" not in weight and "maximum" not in weight
    assert weight["description"] == "Importance (minimum: 10, maximum: 100)"
    assert "minItems" not in scenes and "(minItems: 3, maxItems: 3)" in scenes["description"]
    assert scenes["items"]["properties"]["name"]["description"] == "(maxLength: 40)"
    assert schema["additionalProperties"] is False
    assert scenes["items"]["additionalProperties"] is False
    assert SCHEMA["properties"]["scenes"]["minItems"] == 3      # caller's schema untouched


def test_prv7_unknown_model_gets_schema_in_prompt(fake_server: FakeHttpServer) -> None:
    fake_server.script(an.MESSAGES, Reply(json=an.messages_body('{"scenes": []}')))
    make(fake_server).call(req(model="claude-unknown", output_schema=SCHEMA), CREDS)
    body = fake_server.requests[0].body
    assert "output_format" not in body and body["max_tokens"] == 4096
    assert '"minItems": 3' in body["messages"][-1]["content"][-1]["text"]


def test_prv7_invalid_json_is_retryable(fake_server: FakeHttpServer) -> None:
    fake_server.script(an.MESSAGES, Reply(json=an.messages_body("not json")))
    with pytest.raises(ProviderError) as info:
        make(fake_server).call(req(output_schema=SCHEMA), CREDS)
    assert info.value.error_code == "invalid_json" and info.value.retryable


def test_vision_parts(fake_server: FakeHttpServer, tmp_path) -> None:
    jpeg = b"\xff\xd8\xff\xe0" + b"\x01" * 20
    path = tmp_path / "media" / "photo.bin"
    path.parent.mkdir()
    path.write_bytes(jpeg)
    data_url = "data:image/webp;base64,UklGRgAAAABXRUJQ"
    message = Message(role="user", content=[
        ContentPart(type="image_base64", value=data_url),
        ContentPart(type="image_url", value="https://example.com/cat.png"),
        ContentPart(type="image_path", value=str(path)),
        ContentPart(type="text", value="What is shown?")])
    fake_server.script(an.MESSAGES, Reply(json=an.messages_body("cats")))
    make(fake_server).call(req(messages=[message]), CREDS)
    blocks = fake_server.requests[0].body["messages"][0]["content"]
    assert blocks[0] == {"type": "image", "source": {"type": "base64", "media_type": "image/webp",
                                                     "data": "UklGRgAAAABXRUJQ"}}
    assert blocks[1] == {"type": "image", "source": {"type": "url",
                                                     "url": "https://example.com/cat.png"}}
    assert blocks[2]["source"] == {"type": "base64", "media_type": "image/jpeg",
                                   "data": base64.b64encode(jpeg).decode()}


def test_missing_image_file_is_non_retryable(fake_server: FakeHttpServer, tmp_path) -> None:
    message = Message(role="user", content=[ContentPart(type="image_path",
                                                        value=str(tmp_path / "nope.png"))])
    with pytest.raises(InvalidRequestError) as info:
        make(fake_server).call(req(messages=[message]), CREDS)
    assert not info.value.retryable and str(tmp_path) not in info.value.message
    assert fake_server.requests == []


def test_429_retry_after_date_and_vendor_reset_header(fake_server: FakeHttpServer) -> None:
    reset = (datetime.now(timezone.utc) + timedelta(seconds=20)).isoformat().replace("+00:00", "Z")
    fake_server.script(an.MESSAGES,
                       an.error_reply(429, "rate_limit_error", "Too many",
                                      headers={"anthropic-ratelimit-requests-reset": reset}),
                       an.error_reply(429, "rate_limit_error", "Too many",
                                      headers={"retry-after": "3"}))
    client = make(fake_server)
    with pytest.raises(RateLimitError) as info:
        client.call(req(), CREDS)
    assert 17 <= (info.value.retry_after or 0) <= 21
    with pytest.raises(RateLimitError) as info:
        client.call(req(), CREDS)
    assert info.value.retry_after == 3.0


def test_overloaded_500s_and_credit_errors(fake_server: FakeHttpServer) -> None:
    fake_server.script(an.MESSAGES, an.error_reply(529, "overloaded_error", "Overloaded"),
                       an.error_reply(500, "api_error", "Internal"),
                       an.error_reply(400, "invalid_request_error",
                                      "Your credit balance is too low to access the API."))
    client = make(fake_server)
    for _ in range(2):
        with pytest.raises(ServerError) as info:
            client.call(req(), CREDS)
        assert info.value.retryable
    with pytest.raises(InsufficientCreditsError) as credit:
        client.call(req(), CREDS)
    assert not credit.value.retryable


def test_prv10_key_not_in_messages(fake_server: FakeHttpServer) -> None:
    fake_server.script(an.MESSAGES, an.error_reply(401, "authentication_error", f"bad key {KEY}"),
                       an.error_reply(400, "invalid_request_error", f"echo x-api-key: {KEY}"))
    client = make(fake_server)
    for _ in range(2):
        with pytest.raises(ProviderError) as info:
            client.call(req(), CREDS)
        assert KEY not in info.value.message and "sk-ant" not in info.value.message


def test_timeout_when_server_sleeps(fake_server: FakeHttpServer) -> None:
    fake_server.script(an.MESSAGES, Reply(json=an.messages_body("late"), delay_s=3.0))
    started = time.monotonic()
    with pytest.raises(ProviderTimeoutError):
        make(fake_server, provider_timeout_s=0.3).call(req(), CREDS)
    assert time.monotonic() - started < 2.0


def test_prv9_missing_key_no_request(fake_server: FakeHttpServer) -> None:
    client = make(fake_server)
    with pytest.raises(ProviderUnavailable, match="No API key configured for provider 'anthropic'"):
        client.call(req(), {"openai_api_key": "sk-other-provider-123"})
    with pytest.raises(ProviderUnavailable):
        client.call_streaming(req(), {"anthropic_api_key": "  "}, CancelToken(), None)
    assert fake_server.requests == []


def test_streaming_success_with_usage(fake_server: FakeHttpServer) -> None:
    fake_server.script(an.MESSAGES, Reply(sse=an.messages_stream(
        ['{"scenes"', ': []}'], input_tokens=10, output_tokens=33, cache_read=90)))
    chunks: list[str] = []
    result = make(fake_server).call_streaming(req(output_schema=SCHEMA), CREDS, CancelToken(),
                                              chunks.append)
    assert chunks == ['{"scenes"', ': []}'] and result.content == {"scenes": []}
    assert (result.usage.prompt_tokens, result.usage.cached_tokens,
            result.usage.completion_tokens) == (100, 90, 33)
    assert result.finish_reason == "end_turn"
    assert fake_server.requests[0].body["stream"] is True


def test_streaming_error_event_is_retryable(fake_server: FakeHttpServer) -> None:
    events = an.messages_stream(["a"])[:3] + [
        ("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})]
    fake_server.script(an.MESSAGES, Reply(sse=events))
    with pytest.raises(ServerError, match="Overloaded") as info:
        make(fake_server).call_streaming(req(), CREDS, CancelToken(), None)
    assert info.value.retryable


def test_prv11_stalled_stream_watchdog(fake_server: FakeHttpServer) -> None:
    fake_server.script(an.MESSAGES, Reply(sse=an.messages_stream(["a", "b"]), stall_after=4))
    started = time.monotonic()
    with pytest.raises(ProviderTimeoutError) as info:
        make(fake_server, stream_chunk_timeout_s=0.2).call_streaming(req(), CREDS,
                                                                      CancelToken(), None)
    assert info.value.retryable and 0.2 <= time.monotonic() - started < 1.5


def test_prv11_cancel_within_two_intervals(fake_server: FakeHttpServer) -> None:
    interval = 0.1
    fake_server.script(an.MESSAGES, Reply(sse=an.messages_stream(["a", "b"]), stall_after=4))
    token = CancelToken()
    first = threading.Event()
    marks: list[float] = []

    def cancel_later() -> None:
        first.wait(5)
        time.sleep(0.03)
        marks.append(time.monotonic())
        token.cancel()

    threading.Thread(target=cancel_later, daemon=True).start()
    with pytest.raises(ProviderCancelled):
        make(fake_server, stream_chunk_timeout_s=10, cancel_check_interval_s=interval
             ).call_streaming(req(), CREDS, token, lambda _t: first.set())
    assert time.monotonic() - marks[0] < 2 * interval


def test_cancelled_before_start_sends_nothing_useful(fake_server: FakeHttpServer) -> None:
    fake_server.script(an.MESSAGES, Reply(sse=an.messages_stream(["a"])))
    token = CancelToken()
    token.cancel()
    with pytest.raises(ProviderCancelled):
        make(fake_server).call_streaming(req(), CREDS, token, None)
