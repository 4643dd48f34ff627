"""api.llm in live mode against the fake OpenAI server (modules.md MOD-llm-4, PRV-9, PRV-11).

The real `LLMHelper` retry loop and the real `OpenAIClient` run together; only the wait between
attempts is recorded instead of slept.
"""

from __future__ import annotations

import pytest

from engine.errors import ModuleExecutionError
from engine.llm_call import LLMHelper
from engine.modules.api.llm import ApiLlmModule
from engine.ports import CancelToken
from engine.settings import EngineSettings
from providers.llm import models
from providers.llm.registry import LLMClientSettings, llm_factory
from providers.provider_set import DefaultProviderSet
from tests.fakes import WaitRecorder, make_module_context
from tests.fakes_http import anthropic_shapes as an
from tests.fakes_http import openai_shapes as oa
from tests.fakes_http.server import FakeHttpServer, Reply, fake_server  # noqa: F401

KEY = "sk-live-engine-test-key-0001"
SCHEMA = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}


def live_context(server: FakeHttpServer, **overrides):
    engine_settings = EngineSettings(cancel_check_interval_s=0.05, llm_stream_chunk_timeout_s=2.0,
                                     provider_timeout_s=5.0)
    settings = LLMClientSettings.from_values(
        {"OPENAI_BASE_URL": server.base_url + "/v1", "ANTHROPIC_BASE_URL": server.base_url},
        engine_settings)
    providers = DefaultProviderSet(llm_factory=llm_factory(settings)).for_call(False)
    wait = WaitRecorder()
    overrides.setdefault("credentials", {"openai_api_key": KEY})
    context = make_module_context(mock=False, providers=providers, settings=engine_settings,
                                  llm=LLMHelper(wait=wait), **overrides)
    return context, wait


def test_mod_llm_4_streamed_429_then_success_records_one_tokens_doc(
        fake_server: FakeHttpServer) -> None:
    fake_server.script(oa.RESPONSES,
                       oa.error_reply(429, "Rate limit reached", headers={"retry-after": "4"}),
                       Reply(sse=oa.responses_stream(['{"title": ', '"Cuddle"}'],
                                                     model="gpt-5.2", input_tokens=300,
                                                     output_tokens=40, cached_tokens=100)))
    context, wait = live_context(fake_server, cancel=CancelToken())
    out = ApiLlmModule().execute({"input": "Title please", "system": "Be kind",
                                  "output_schema": SCHEMA}, context)
    assert out["response"] == {"title": "Cuddle"}
    assert out["response_text"] == '{\n  "title": "Cuddle"\n}'
    assert out["provider"] == "openai" and out["model"] == "gpt-5.2"
    assert wait.delays == [4.0]                      # retry_after from the 429
    assert len(fake_server.requests) == 2
    assert all(r.body["stream"] is True for r in fake_server.requests)   # cancel token → stream
    assert fake_server.requests[1].body["model"] == "gpt-5.2"            # provider default model
    (doc,) = context.store.tokens
    usage = doc["usage"][0]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["cached_tokens"]) == (
        300, 40, 100)
    assert usage["total_cost"] == pytest.approx(models.cost_usd("gpt-5.2", 300, 40, 100))
    assert usage["provider"] == "openai" and usage["display_name"] == "GPT-5.2"
    assert out["usage"]["cost_usd"] == usage["total_cost"]


def test_mod_llm_4_blocking_call_retries_server_errors_then_fails_sanitised(
        fake_server: FakeHttpServer) -> None:
    fake_server.script(oa.RESPONSES, oa.error_reply(500, f"upstream broke near {KEY}"))
    context, wait = live_context(fake_server)
    with pytest.raises(ModuleExecutionError) as info:
        ApiLlmModule().execute({"input": "x"}, context)
    assert len(fake_server.requests) == 3 and wait.delays == [1.0, 2.0]
    assert info.value.message.startswith("LLM API call failed: OpenAI API error 500")
    assert KEY not in info.value.message and context.store.tokens == []


def test_mod_llm_4_anthropic_via_ai_config_api_key(fake_server: FakeHttpServer) -> None:
    fake_server.script(an.MESSAGES, Reply(json=an.messages_body("Hello", output_tokens=3)))
    context, _ = live_context(fake_server, credentials={"api_key": "sk-ant-request-key-77777"},
                              ai_config={"provider": "anthropic"})
    out = ApiLlmModule().execute({"input": "hi"}, context)
    assert out["response"] == "Hello" and out["provider"] == "anthropic"
    assert fake_server.requests[0].headers["x-api-key"] == "sk-ant-request-key-77777"
    assert len(context.store.tokens) == 1


def test_prv9_missing_key_is_execution_failed_without_requests(
        fake_server: FakeHttpServer) -> None:
    context, wait = live_context(fake_server, credentials={})
    with pytest.raises(ModuleExecutionError) as info:
        ApiLlmModule().execute({"input": "x"}, context)
    assert info.value.message == ("LLM API call failed: No API key configured for provider "
                                  "'openai' (set OPENAI_API_KEY on the server or send "
                                  "ai_config.openai_api_key)")
    assert fake_server.requests == [] and wait.delays == []
