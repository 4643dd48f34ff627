"""OpenAI client against a local fake OpenAI server (providers.md §3, PRV-1, PRV-6…PRV-11)."""

from __future__ import annotations

import base64
import os
import threading
import time
from email.utils import formatdate

import pytest

from engine.ports import CancelToken
from engine.provider_types import (
    AuthenticationError,
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
from providers.llm.openai import OpenAIClient
from tests.fakes_http import openai_shapes as oa
from tests.fakes_http.server import FakeHttpServer, Reply, fake_server  # noqa: F401

KEY = "sk-test-openai-0123456789abcdef"
CREDS = {"openai_api_key": KEY}
SCHEMA = {"type": "object", "properties": {"title": {"type": "string"},
                                           "tags": {"type": "array", "items": {"type": "string"}}},
          "required": ["title", "tags"]}


def make(server: FakeHttpServer, **kw: float) -> OpenAIClient:
    kw.setdefault("provider_timeout_s", 5.0)
    kw.setdefault("stream_chunk_timeout_s", 2.0)
    kw.setdefault("cancel_check_interval_s", 0.05)
    return OpenAIClient(base_url=server.base_url + "/v1", **kw)


def text(role: str, value: str) -> Message:
    return Message(role=role, content=[ContentPart(type="text", value=value)])  # type: ignore[arg-type]


def req(model: str = "gpt-4.1", **kw) -> LLMRequest:
    kw.setdefault("messages", [text("system", "Be brief."), text("user", "Name a cat.")])
    return LLMRequest(model=model, **kw)


# ------------------------------------------------------------------ success paths


def test_responses_call_success_usage_and_cost_prv8(fake_server: FakeHttpServer) -> None:
    fake_server.script(oa.RESPONSES, Reply(json=oa.responses_body(
        "Whiskers", input_tokens=1000, output_tokens=200, cached_tokens=400)))
    result = make(fake_server).call(req(), CREDS)
    assert result.content == "Whiskers" and result.content_text == "Whiskers"
    assert result.finish_reason == "stop" and result.model == "gpt-4.1"
    usage = result.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens,
            usage.total_tokens) == (1000, 200, 400, 1200)
    price = models.prices("gpt-4.1")
    expected = (600 * price["prompt"] + 200 * price["completion"] + 400 * price["cached"]) / 1e6
    assert usage.cost_usd == pytest.approx(expected) and usage.display_name == "GPT-4.1"
    sent = fake_server.requests[0]
    assert sent.path == "/v1/responses"
    assert sent.headers["authorization"] == "Bearer " + KEY
    assert sent.body["instructions"] == "Be brief."
    assert sent.body["input"] == [{"role": "user",
                                   "content": [{"type": "input_text", "text": "Name a cat."}]}]
    assert "stream" not in sent.body and sent.body["store"] is False


def test_chat_completions_endpoint_override(fake_server: FakeHttpServer) -> None:
    fake_server.script(oa.CHAT, Reply(json=oa.chat_body("Tom", cached_tokens=10)))
    result = make(fake_server).call(req(api_endpoint="completions", max_tokens=50), CREDS)
    assert result.content == "Tom" and result.usage.cached_tokens == 10
    body = fake_server.requests[0].body
    assert fake_server.requests[0].path == "/v1/chat/completions"
    assert body["messages"] == [{"role": "system", "content": "Be brief."},
                                {"role": "user", "content": [{"type": "text",
                                                              "text": "Name a cat."}]}]
    assert body["max_completion_tokens"] == 50


def test_assistant_turns_are_sent_as_history(fake_server: FakeHttpServer) -> None:
    fake_server.script(oa.RESPONSES, Reply(json=oa.responses_body("ok")))
    messages = [text("user", "a"), text("assistant", "b"), text("user", "FEEDBACK FROM USER: c")]
    make(fake_server).call(req(messages=messages), CREDS)
    assert [item["role"] for item in fake_server.requests[0].body["input"]] == [
        "user", "assistant", "user"]
    assert fake_server.requests[0].body["input"][1]["content"] == "b"


# ------------------------------------------------------------------ structured output (PRV-7)


def test_prv7_strict_json_schema_format_and_fence_stripping(fake_server: FakeHttpServer) -> None:
    fake_server.script(oa.RESPONSES, Reply(json=oa.responses_body(
        '```json\n{"title": "Cats", "tags": ["soft"]}\n```')))
    result = make(fake_server).call(req(output_schema=SCHEMA), CREDS)
    assert result.content == {"title": "Cats", "tags": ["soft"]}
    fmt = fake_server.requests[0].body["text"]["format"]
    assert fmt["type"] == "json_schema" and fmt["name"] == "output_schema"
    assert fmt["strict"] is True and fmt["schema"]["additionalProperties"] is False
    assert SCHEMA.get("additionalProperties") is None          # caller's schema untouched


def test_prv7_schema_with_optional_property_is_sent_non_strict(fake_server: FakeHttpServer) -> None:
    fake_server.script(oa.CHAT, Reply(json=oa.chat_body('{"title": "x", "tags": []}')))
    schema = {**SCHEMA, "required": ["title"]}
    make(fake_server).call(req(output_schema=schema, api_endpoint="completions"), CREDS)
    fmt = fake_server.requests[0].body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "output_schema"
    assert fmt["json_schema"]["strict"] is False


def test_prv7_unsupported_model_gets_schema_text_and_json_mode(fake_server: FakeHttpServer) -> None:
    fake_server.script(oa.RESPONSES, Reply(json=oa.responses_body('{"title": "x", "tags": []}')))
    result = make(fake_server).call(req(model="legacy-model", output_schema=SCHEMA), CREDS)
    assert result.content == {"title": "x", "tags": []}
    body = fake_server.requests[0].body
    assert body["text"]["format"] == {"type": "json_object"}
    last_user = body["input"][-1]["content"]
    assert last_user[0]["text"] == "Name a cat."
    assert "JSON schema" in last_user[-1]["text"] and '"tags"' in last_user[-1]["text"]


def test_prv7_unparseable_json_is_retryable_invalid_json(fake_server: FakeHttpServer) -> None:
    fake_server.script(oa.RESPONSES, Reply(json=oa.responses_body("Sure! Here you go: {oops")))
    with pytest.raises(ProviderError) as info:
        make(fake_server).call(req(output_schema=SCHEMA), CREDS)
    assert info.value.error_code == "invalid_json" and info.value.retryable is True


# ------------------------------------------------------------------ vision (PRV-6)


def test_vision_data_url_http_url_and_local_file(fake_server: FakeHttpServer, tmp_path) -> None:
    media_root = tmp_path / "media"
    media_root.mkdir()
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    (media_root / "cat.png").write_bytes(png)
    data_url = "data:image/jpeg;base64," + base64.b64encode(b"\xff\xd8\xffjpeg").decode()
    message = Message(role="user", content=[
        ContentPart(type="text", value="Describe"),
        ContentPart(type="image_base64", value=data_url),
        ContentPart(type="image_url", value="https://example.com/a.png", detail="low"),
        ContentPart(type="image_path", value=str(media_root / "cat.png"))])
    fake_server.script(oa.RESPONSES, Reply(json=oa.responses_body("A cat")))
    assert make(fake_server).call(req(messages=[message]), CREDS).content == "A cat"
    parts = fake_server.requests[0].body["input"][0]["content"]
    assert parts[1] == {"type": "input_image", "image_url": data_url, "detail": "auto"}
    assert parts[2] == {"type": "input_image", "image_url": "https://example.com/a.png",
                        "detail": "low"}
    assert parts[3]["image_url"] == "data:image/png;base64," + base64.b64encode(png).decode()


def test_prv6_image_for_non_vision_model_fails_before_network(fake_server: FakeHttpServer) -> None:
    message = Message(role="user", content=[ContentPart(type="image_url", value="https://x/a.png")])
    with pytest.raises(InvalidRequestError) as info:
        make(fake_server).call(req(model="text-only-model", messages=[message]), CREDS)
    assert info.value.retryable is False and fake_server.requests == []


# ------------------------------------------------------------------ parameter hygiene (PRV-6)


def test_prv6_temperature_dropped_for_flagged_models_effort_kept(fake_server: FakeHttpServer) -> None:
    fake_server.script(oa.RESPONSES, Reply(json=oa.responses_body("x")))
    make(fake_server).call(req(model="gpt-5", temperature=0.7, reasoning_effort="HIGH",
                               max_tokens=10_000_000), CREDS)
    body = fake_server.requests[0].body
    assert "temperature" not in body and body["reasoning"] == {"effort": "high"}
    assert body["max_output_tokens"] == 128000


def test_prv6_effort_dropped_and_values_clamped(fake_server: FakeHttpServer) -> None:
    fake_server.script(oa.CHAT, Reply(json=oa.chat_body("x")))
    make(fake_server).call(req(model="gpt-4.1", temperature=5, reasoning_effort="low",
                               max_tokens=999_999, api_endpoint="completions"), CREDS)
    body = fake_server.requests[0].body
    assert body["temperature"] == 2.0 and "reasoning_effort" not in body
    assert body["max_completion_tokens"] == 32768


def test_cache_flags_become_a_stable_prompt_cache_key(fake_server: FakeHttpServer) -> None:
    fake_server.script(oa.RESPONSES, Reply(json=oa.responses_body("x")))
    client = make(fake_server)
    client.call(req(cache_system_message=True), CREDS)
    client.call(req(cache_system_message=True,
                    messages=[text("system", "Be brief."), text("user", "Other")]), CREDS)
    client.call(req(), CREDS)
    keys = [r.body.get("prompt_cache_key") for r in fake_server.requests]
    assert keys[0] and keys[0] == keys[1] and keys[2] is None


# ------------------------------------------------------------------ errors (§3.2, PRV-10)


def test_429_with_retry_after_seconds(fake_server: FakeHttpServer) -> None:
    fake_server.script(oa.RESPONSES, oa.error_reply(429, "Rate limit reached", code="rate_limit_exceeded",
                                                    headers={"retry-after": "7"}))
    with pytest.raises(RateLimitError) as info:
        make(fake_server).call(req(), CREDS)
    assert info.value.retryable and info.value.retry_after == 7.0
    assert info.value.status_code == 429 and "Rate limit reached" in info.value.message


def test_429_with_retry_after_http_date_and_vendor_reset(fake_server: FakeHttpServer) -> None:
    fake_server.script(oa.RESPONSES,
                       oa.error_reply(429, "slow", headers={"retry-after": formatdate(time.time() + 30, usegmt=True)}),
                       oa.error_reply(429, "slow", headers={"x-ratelimit-reset-requests": "1m30s"}))
    client = make(fake_server)
    with pytest.raises(RateLimitError) as info:
        client.call(req(), CREDS)
    assert 27 <= (info.value.retry_after or 0) <= 31
    with pytest.raises(RateLimitError) as info:
        client.call(req(), CREDS)
    assert info.value.retry_after == 90.0


def test_insufficient_quota_429_is_not_retryable(fake_server: FakeHttpServer) -> None:
    fake_server.script(oa.RESPONSES, oa.error_reply(429, "You exceeded your current quota",
                                                    code="insufficient_quota"))
    with pytest.raises(InsufficientCreditsError) as info:
        make(fake_server).call(req(), CREDS)
    assert info.value.retryable is False


def test_500_is_retryable_server_error(fake_server: FakeHttpServer) -> None:
    fake_server.script(oa.RESPONSES, oa.error_reply(500, "The server had an error", type="server_error"))
    with pytest.raises(ServerError) as info:
        make(fake_server).call(req(), CREDS)
    assert info.value.retryable and info.value.status_code == 500


def test_prv10_credentials_never_in_error_messages(fake_server: FakeHttpServer) -> None:
    fake_server.script(oa.RESPONSES, oa.error_reply(
        401, f"Incorrect API key provided: {KEY}. Header was Authorization: Bearer {KEY}"))
    with pytest.raises(AuthenticationError) as info:
        make(fake_server).call(req(), CREDS)
    message = info.value.message + str(info.value)
    assert KEY not in message and KEY[:12] not in message and "Bearer" not in message
    assert info.value.retryable is False and "401" in message
    # other statuses keep the vendor text, with the key scrubbed
    fake_server.script(oa.RESPONSES, oa.error_reply(400, f"bad value {KEY} for field"))
    with pytest.raises(InvalidRequestError) as info2:
        make(fake_server).call(req(), CREDS)
    assert KEY not in info2.value.message and "bad value *** for field" in info2.value.message


def test_400_is_invalid_request(fake_server: FakeHttpServer) -> None:
    fake_server.script(oa.RESPONSES, oa.error_reply(400, "Unsupported parameter"))
    with pytest.raises(InvalidRequestError):
        make(fake_server).call(req(), CREDS)


def test_overall_timeout_when_server_sleeps(fake_server: FakeHttpServer) -> None:
    """README §5.1 WFE_PROVIDER_TIMEOUT_S bounds a blocking call."""
    fake_server.script(oa.RESPONSES, Reply(json=oa.responses_body("late"), delay_s=3.0))
    started = time.monotonic()
    with pytest.raises(ProviderTimeoutError) as info:
        make(fake_server, provider_timeout_s=0.3).call(req(), CREDS)
    assert info.value.retryable and time.monotonic() - started < 2.0


def test_connection_refused_is_retryable_without_url(fake_server: FakeHttpServer) -> None:
    client = OpenAIClient(base_url="http://user:pw@127.0.0.1:9/v1", provider_timeout_s=2)
    with pytest.raises(ServerError) as info:
        client.call(req(), CREDS)
    assert info.value.retryable and "pw" not in info.value.message


# ------------------------------------------------------------------ keys (PRV-1, PRV-9)


def test_prv9_missing_key_fails_before_any_request(fake_server: FakeHttpServer, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-environment-should-be-ignored")
    client = make(fake_server)
    for call in (lambda: client.call(req(), {}),
                 lambda: client.call_streaming(req(), {"anthropic_api_key": "x"}, None, None)):
        with pytest.raises(ProviderUnavailable, match="No API key configured for provider 'openai'"):
            call()
    assert fake_server.requests == []


def test_prv1_generic_api_key_and_environment_untouched(fake_server: FakeHttpServer) -> None:
    fake_server.script(oa.RESPONSES, Reply(json=oa.responses_body("x")))
    before = dict(os.environ)
    make(fake_server).call(req(), {"api_key": "sk-generic-key-123456"})
    assert fake_server.requests[0].headers["authorization"] == "Bearer sk-generic-key-123456"
    assert dict(os.environ) == before


# ------------------------------------------------------------------ streaming (PRV-11)


def test_streaming_responses_chunks_and_structured_parse(fake_server: FakeHttpServer) -> None:
    fake_server.script(oa.RESPONSES, Reply(sse=oa.responses_stream(
        ['{"title": "Ca', 'ts", "tags": ', '["a"]}'], cached_tokens=5)))
    chunks: list[str] = []
    result = make(fake_server).call_streaming(req(output_schema=SCHEMA), CREDS, CancelToken(),
                                              chunks.append)
    assert chunks == ['{"title": "Ca', 'ts", "tags": ', '["a"]}']
    assert result.content == {"title": "Cats", "tags": ["a"]} and result.usage.cached_tokens == 5
    assert fake_server.requests[0].body["stream"] is True


def test_streaming_chat_completions_with_usage(fake_server: FakeHttpServer) -> None:
    fake_server.script(oa.CHAT, Reply(sse=oa.chat_stream(["Hel", "lo"], completion_tokens=7)))
    chunks: list[str] = []
    result = make(fake_server).call_streaming(req(api_endpoint="completions"), CREDS,
                                              CancelToken(), chunks.append)
    assert result.content == "Hello" and chunks == ["Hel", "lo"]
    assert result.usage.completion_tokens == 7 and result.finish_reason == "stop"
    assert fake_server.requests[0].body["stream_options"] == {"include_usage": True}


def test_streaming_error_status_and_mid_stream_error(fake_server: FakeHttpServer) -> None:
    fake_server.script(oa.RESPONSES, oa.error_reply(429, "slow down", headers={"retry-after": "2"}),
                       Reply(sse=[("response.created", {"type": "response.created", "response": {}}),
                                  ("error", {"type": "error", "code": "server_error",
                                             "message": "boom"})]))
    client = make(fake_server)
    with pytest.raises(RateLimitError) as info:
        client.call_streaming(req(), CREDS, CancelToken(), None)
    assert info.value.retry_after == 2.0
    with pytest.raises(ServerError, match="boom"):
        client.call_streaming(req(), CREDS, CancelToken(), None)


def test_stream_ending_without_completion_is_retryable(fake_server: FakeHttpServer) -> None:
    fake_server.script(oa.RESPONSES, Reply(sse=oa.responses_stream(["a", "b"])[:-1]))
    with pytest.raises(ServerError) as info:
        make(fake_server).call_streaming(req(), CREDS, CancelToken(), None)
    assert info.value.retryable


def test_prv11_stalled_stream_watchdog_fires(fake_server: FakeHttpServer) -> None:
    fake_server.script(oa.RESPONSES, Reply(sse=oa.responses_stream(["a", "b", "c"]), stall_after=2))
    chunks: list[str] = []
    started = time.monotonic()
    with pytest.raises(ProviderTimeoutError, match="stalled") as info:
        make(fake_server, stream_chunk_timeout_s=0.2).call_streaming(
            req(), CREDS, CancelToken(), chunks.append)
    elapsed = time.monotonic() - started
    assert chunks == ["a"] and info.value.retryable
    assert 0.2 <= elapsed < 1.5


def test_prv11_cancel_during_stream_within_two_intervals(fake_server: FakeHttpServer) -> None:
    interval = 0.1
    fake_server.script(oa.RESPONSES, Reply(sse=oa.responses_stream(["a", "b"]), stall_after=2))
    token = CancelToken()
    got_chunk = threading.Event()
    cancelled_at: list[float] = []

    def cancel_soon() -> None:
        got_chunk.wait(5)
        time.sleep(0.05)
        cancelled_at.append(time.monotonic())
        token.cancel()

    threading.Thread(target=cancel_soon, daemon=True).start()
    client = make(fake_server, stream_chunk_timeout_s=10, cancel_check_interval_s=interval)
    with pytest.raises(ProviderCancelled):
        client.call_streaming(req(), CREDS, token, lambda _c: got_chunk.set())
    assert time.monotonic() - cancelled_at[0] < 2 * interval
    # the stream was closed: the helper thread ends without waiting for the server
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline and any(
            t.name.startswith("llm-stream") for t in threading.enumerate()):
        time.sleep(0.01)
    assert not any(t.name.startswith("llm-stream") for t in threading.enumerate())
