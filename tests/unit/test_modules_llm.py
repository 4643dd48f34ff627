"""api.llm and the shared LLM helper (modules.md MOD-llm-1…5, engine.md §10 step 5, ENG-53)."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import pytest

from engine.errors import Cancelled, ModuleExecutionError
from engine.jsonutil import canonical_json
from engine.llm_call import LLMHelper, mock_seed, resolve_llm_config
from engine.mock_data import generate_mock
from engine.modules.api.llm import ApiLlmModule
from engine.ports import CancelToken
from engine.provider_types import (
    AuthenticationError,
    ContentPart,
    Message,
    ProviderError,
    RateLimitError,
    ServerError,
)
from engine.validation import validate_schema
from providers.provider_set import DefaultProviderSet
from tests.fakes import (
    FakeLLMProvider,
    FakeProviderSet,
    FakeStore,
    WaitRecorder,
    llm_result,
    make_module_context,
)

SCENES_SCHEMA = json.loads(Path(
    "/work/shared/workflows/cuddle_crew/steps/2_scene_generation/schemas/scene_concepts_schema.json"
).read_text())
SIMPLE_SCHEMA = {"type": "object", "properties": {"title": {"type": "string"}},
                 "required": ["title"], "additionalProperties": False}


def live_context(provider: FakeLLMProvider, **overrides):
    helper = overrides.pop("llm", None) or LLMHelper(wait=WaitRecorder())
    return make_module_context(mock=False, providers=FakeProviderSet({"openai": provider}),
                               llm=helper, **overrides)


def run(inputs: dict, context) -> dict:
    return ApiLlmModule().execute(inputs, context)


def texts(messages: list[Message]) -> list[tuple[str, str, str]]:
    return [(m.role, p.type, p.value) for m in messages for p in m.content]


# ------------------------------------------------------------------ MOD-llm-1 / MOD-llm-2


def test_mod_llm_1_api_key_input_is_refused() -> None:
    with pytest.raises(ModuleExecutionError) as info:
        run({"input": "hi", "api_key": "sk-abcdefghijkl"}, make_module_context())
    assert info.value.error_type == "input_validation_failed"
    assert info.value.message == "API keys are not accepted in workflow inputs"


def test_mod_llm_2_run_ai_config_wins_over_input_ai_config() -> None:
    config = resolve_llm_config(
        {"provider": "anthropic", "model": "m-input", "temperature": None, "max_tokens": 10},
        {"provider": "openai", "model": "m-module", "temperature": 0.3, "max_tokens": 99,
         "reasoning_effort": "low"},
        {"model": "m-run", "api_endpoint": "completions"})
    assert config.provider == "openai"          # merged.provider beats inputs.provider
    assert config.model == "m-run"              # run-level config wins the merge
    assert config.temperature == 0.3            # input null -> merged value
    assert config.max_tokens == 10              # input wins when not null
    assert config.reasoning_effort == "low"
    assert config.api_endpoint == "completions"


def test_mod_llm_2_defaults_and_provider_default_model() -> None:
    provider = FakeLLMProvider([llm_result("hello")], model="fake-default")
    out = run({"input": "hi", "provider": "openai"}, live_context(provider))
    request = provider.requests[0]
    assert request.model == "fake-default"
    assert out["provider"] == "openai" and out["model"] == "fake-model"
    assert request.api_endpoint is None


def test_mod_llm_2_request_carries_every_parameter() -> None:
    provider = FakeLLMProvider([llm_result("x")])
    ctx = live_context(provider, ai_config={"api_endpoint": "completions", "model": "run-model"})
    run({"input": "hi", "temperature": 0.5, "max_tokens": 42, "reasoning_effort": "high",
         "metadata": {"step_id": "s"}, "cache_system_message": True, "cache_user_prefix": False},
        ctx)
    r = provider.requests[0]
    assert (r.model, r.temperature, r.max_tokens, r.reasoning_effort) == (
        "run-model", 0.5, 42, "high")
    assert r.metadata == {"step_id": "s"} and r.cache_system_message is True
    assert r.cache_user_prefix is False and r.api_endpoint == "completions" and r.seed is None


# ------------------------------------------------------------------ MOD-llm-3 message building


def build(system, input, state=None, *, base="/tmp", mock=True):
    return LLMHelper().build_messages(system, input, state or {}, media_base_path=base, mock=mock)


def test_mod_llm_3_strings_arrays_objects_and_roles() -> None:
    msgs = build(["sys one", {"content": "as assistant", "role": "assistant"}, "  "],
                 {"content": {"a": 1}})
    assert texts(msgs) == [("system", "text", "sys one"), ("assistant", "text", "as assistant"),
                           ("user", "text", json.dumps({"a": 1}, indent=2))]


def test_mod_llm_3_empty_elements_and_empty_images_are_dropped() -> None:
    msgs = build([{"content": ""}, {"type": "image", "content": None},
                  {"type": "image", "content": ""}], ["", "keep"])
    assert texts(msgs) == [("user", "text", "keep")]


def test_mod_llm_3_image_kinds(tmp_path: Path) -> None:
    (tmp_path / "img.png").write_bytes(b"png")
    msgs = build(None, [{"type": "image", "content": "data:image/png;base64,AAA"},
                        {"type": "image", "content": "https://x.test/a.png"},
                        {"type": "image", "content": "img.png"}],
                 base=str(tmp_path), mock=False)
    assert [(m.role, m.content[0].type) for m in msgs] == [
        ("user", "image_base64"), ("user", "image_url"), ("user", "image_path")]
    assert msgs[2].content[0].value == str((tmp_path / "img.png").resolve())


def test_mod_llm_3_local_image_must_stay_inside_media_root(tmp_path: Path) -> None:
    (tmp_path / "outside.png").write_bytes(b"x")
    root = tmp_path / "media"
    root.mkdir()
    with pytest.raises(ModuleExecutionError) as info:
        build(None, [{"type": "image", "content": "../outside.png"}], base=str(root), mock=False)
    assert info.value.error_type == "execution_failed"
    with pytest.raises(ModuleExecutionError):
        build(None, [{"type": "image", "content": str(tmp_path / "outside.png")}],
              base=str(root), mock=False)
    with pytest.raises(ModuleExecutionError):
        build(None, [{"type": "image", "content": "missing.png"}], base=str(root), mock=False)


def test_mod_llm_5_local_image_not_checked_in_mock_mode() -> None:
    msgs = build(None, [{"type": "image", "content": "../../etc/passwd"}], mock=True)
    assert msgs[0].content[0].type == "image_path"
    assert msgs[0].content[0].value == "../../etc/passwd"


def test_mod_llm_3_retry_history_is_appended() -> None:
    state = {"_retry_conversation_history": [
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "FEEDBACK FROM USER: more cats"}],
        "_retry_feedback": "ignored because history exists"}
    msgs = build("sys", "user text", state)
    assert texts(msgs)[-2:] == [("assistant", "text", "first answer"),
                                ("user", "text", "FEEDBACK FROM USER: more cats")]
    assert len(msgs) == 4


def test_mod_llm_3_retry_feedback_without_history() -> None:
    msgs = build(None, "u", {"_retry_conversation_history": [], "_retry_feedback": "beach"})
    assert texts(msgs)[-1] == ("user", "text", "FEEDBACK FROM USER: beach")


def test_mod_llm_3_no_message_left_fails() -> None:
    with pytest.raises(ModuleExecutionError) as info:
        run({"input": "   ", "system": [""]}, make_module_context())
    assert info.value.message == "api.llm: no input messages"
    assert info.value.error_type == "execution_failed"


# ------------------------------------------------------------------ MOD-llm-5 mock


def test_mod_llm_5_seed_formula() -> None:
    messages = [Message(role="user", content=[ContentPart(type="text", value="hi", detail="x")])]
    expected_payload = {"module_name": "m", "messages": [
        {"role": "user", "content": [{"type": "text", "value": "hi"}]}], "output_schema": None}
    expected = int.from_bytes(hashlib.sha256(canonical_json(expected_payload)).digest()[:8], "big")
    assert mock_seed("m", messages, None) == expected


def test_mod_llm_5_mock_structured_output_example_generate_scenes() -> None:
    """The modules.md §7.1 example: 3 scenes, 3–5 visual moments, 3–6 keywords."""
    store = FakeStore()
    ctx = make_module_context(module_name="generate_scenes", store=store,
                              ai_config={"provider": "anthropic"})
    out = run({"input": "make scenes", "system": "be nice", "output_schema": SCENES_SCHEMA}, ctx)
    assert validate_schema(out["response"], SCENES_SCHEMA) == []
    scenes = out["response"]["scenes"]
    assert len(scenes) == 3
    for scene in scenes:
        assert 3 <= len(scene["visual_moments"]) <= 5
        assert 3 <= len(scene["scene_keywords"]) <= 6
        for kw in scene["scene_keywords"]:
            assert kw["category"] in ("setting", "behavior", "object", "emotion")
            assert 10 <= kw["weight"] <= 100
    assert out["response_text"] == json.dumps(out["response"], indent=2, ensure_ascii=False)
    assert out["model"] == "mock-preview" and out["provider"] == "anthropic"
    assert out["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0,
                            "cached_tokens": 0, "cost_usd": 0.0}
    assert store.tokens == []
    messages = LLMHelper().build_messages("be nice", "make scenes", {}, media_base_path="/tmp",
                                          mock=True)
    assert out["response"] == generate_mock(SCENES_SCHEMA, mock_seed("generate_scenes", messages,
                                                                      SCENES_SCHEMA))


def test_mod_llm_5_mock_is_deterministic_and_prompt_dependent() -> None:
    inputs = {"input": "same prompt", "output_schema": SCENES_SCHEMA}
    a = run(inputs, make_module_context(module_name="gen", workflow_run_id="wf_1"))
    b = run(inputs, make_module_context(module_name="gen", workflow_run_id="wf_2",
                                        step_id="other"))
    assert a == b
    c = run(inputs, make_module_context(module_name="gen",
                                        state={"_retry_feedback": "beach"}))
    assert c["response"] != a["response"]
    d = run(inputs, make_module_context(module_name="gen_other"))
    assert d["response"] != a["response"]


def test_mod_llm_5_mock_text_output_is_a_sentence() -> None:
    out = run({"input": "hi"}, make_module_context())
    assert isinstance(out["response"], str) and out["response"].endswith(".")
    assert out["response_text"] == out["response"]


def test_eng44_mock_never_reaches_a_live_provider() -> None:
    def explode(name: str):
        raise AssertionError("live LLM constructed in mock mode")

    providers = DefaultProviderSet(llm_factory=explode).for_call(True)
    out = run({"input": "x", "provider": "openai"}, make_module_context(providers=providers))
    assert out["model"] == "mock-preview"


# ------------------------------------------------------------------ MOD-llm-4 live behaviour


def test_mod_llm_4_unknown_provider() -> None:
    ctx = make_module_context(mock=False, providers=FakeProviderSet({}))
    with pytest.raises(ModuleExecutionError) as info:
        run({"input": "x", "provider": "nope"}, ctx)
    assert info.value.message == "Unknown LLM provider 'nope'"
    assert info.value.error_type == "execution_failed"


def test_mod_llm_4_success_writes_one_tokens_document() -> None:
    provider = FakeLLMProvider([llm_result({"title": "T"})])
    store = FakeStore()
    ctx = live_context(provider, store=store, step_id="scene_generation",
                       step_name="Scenes", module_name="generate_scenes", module_index=2)
    out = run({"input": "x", "output_schema": SIMPLE_SCHEMA}, ctx)
    assert out["response"] == {"title": "T"}
    assert out["response_text"] == '{\n  "title": "T"\n}'
    assert out["usage"] == {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
                            "cached_tokens": 2, "cost_usd": 0.25}
    assert len(store.tokens) == 1
    doc = store.tokens[0]
    assert doc["workflow_run_id"] == "wf_test" and doc["provenance"] == "live"
    assert (doc["step_id"], doc["step_name"], doc["module_name"], doc["module_index"]) == (
        "scene_generation", "Scenes", "generate_scenes", 2)
    assert doc["usage"] == [{"display_name": "Fake Model", "provider": "openai",
                             "model": "fake-model", "action_type": "llm", "prompt_tokens": 10,
                             "completion_tokens": 5, "cached_tokens": 2, "total_cost": 0.25}]


def test_mod_llm_4_retryable_errors_are_retried_with_backoff() -> None:
    waits = WaitRecorder()
    provider = FakeLLMProvider([ServerError("boom"), RateLimitError("slow", retry_after=120),
                                llm_result("done")])
    ctx = live_context(provider, llm=LLMHelper(wait=waits))
    out = run({"input": "x"}, ctx)
    assert out["response"] == "done"
    assert provider.calls == 3
    assert waits.delays == [1.0, 30.0]   # `attempt` seconds, then retry_after capped at 30


def test_mod_llm_4_gives_up_after_max_attempts_with_sanitised_message() -> None:
    secret = "sk-test-SECRETSECRETSECRET"
    provider = FakeLLMProvider([ServerError(f"upstream rejected key {secret}")])
    store = FakeStore()
    ctx = live_context(provider, store=store, credentials={"openai_api_key": secret})
    with pytest.raises(ModuleExecutionError) as info:
        run({"input": "x"}, ctx)
    assert provider.calls == 3
    assert info.value.message == "LLM API call failed: upstream rejected key ***"
    assert secret not in str(info.value)
    assert store.tokens == []


def test_mod_llm_4_non_retryable_error_fails_at_once() -> None:
    provider = FakeLLMProvider([AuthenticationError("bad key"), llm_result("never")])
    with pytest.raises(ModuleExecutionError) as info:
        run({"input": "x"}, live_context(provider))
    assert provider.calls == 1
    assert info.value.message == "LLM API call failed: bad key"


def test_mod_llm_4_schema_mismatch_is_retryable() -> None:
    provider = FakeLLMProvider([llm_result({"wrong": 1}), llm_result("not json"),
                                llm_result({"title": "ok"})])
    out = run({"input": "x", "output_schema": SIMPLE_SCHEMA}, live_context(provider))
    assert out["response"] == {"title": "ok"} and provider.calls == 3


def test_mod_llm_4_schema_mismatch_final_message() -> None:
    provider = FakeLLMProvider([llm_result({"wrong": 1})])
    with pytest.raises(ModuleExecutionError) as info:
        run({"input": "x", "output_schema": SIMPLE_SCHEMA}, live_context(provider))
    first_error = validate_schema({"wrong": 1}, SIMPLE_SCHEMA)[0]
    assert info.value.message == (
        f"LLM API call failed: LLM response does not match output_schema: {first_error}")


def test_mod_llm_4_json_text_content_is_parsed_before_validation() -> None:
    provider = FakeLLMProvider([llm_result('{"title": "from text"}')])
    out = run({"input": "x", "output_schema": SIMPLE_SCHEMA}, live_context(provider))
    assert out["response"] == {"title": "from text"}


def test_mod_llm_4_settings_control_attempts() -> None:
    from engine.settings import EngineSettings

    provider = FakeLLMProvider([ServerError("x")])
    with pytest.raises(ModuleExecutionError):
        run({"input": "x"}, live_context(provider, settings=EngineSettings(llm_max_attempts=5)))
    assert provider.calls == 5


def test_mod_llm_4_streams_when_cancel_token_present() -> None:
    provider = FakeLLMProvider([llm_result("streamed")], streaming=True)
    progress: list = []
    ctx = live_context(provider, cancel=CancelToken(),
                       progress_sink=lambda m, d: progress.append((m, d)))
    out = run({"input": "x"}, ctx)
    assert out["response"] == "streamed" and provider.streaming_calls == 1
    assert progress and progress[0][1] == {"characters": len("streamed")}
    provider2 = FakeLLMProvider([llm_result("plain")], streaming=True)
    run({"input": "x"}, live_context(provider2))
    assert provider2.streaming_calls == 0


def test_eng49_cancel_during_stream_raises_cancelled() -> None:
    block = threading.Event()
    token = CancelToken()
    provider = FakeLLMProvider([llm_result("late")], streaming=True, block=block)
    ctx = live_context(provider, cancel=token)
    timer = threading.Timer(0.05, token.cancel)
    timer.start()
    try:
        with pytest.raises(Cancelled):
            run({"input": "x"}, ctx)
    finally:
        timer.cancel()
    assert provider.calls == 1


def test_mod_llm_4_cancel_checked_before_attempt_and_during_wait() -> None:
    token = CancelToken()
    token.cancel()
    provider = FakeLLMProvider([llm_result("x")])
    with pytest.raises(Cancelled):
        run({"input": "x"}, live_context(provider, cancel=token))
    assert provider.calls == 0
    provider = FakeLLMProvider([ServerError("retry me"), llm_result("x")])
    helper = LLMHelper(wait=WaitRecorder(cancel_on_wait=True))
    with pytest.raises(Cancelled):
        run({"input": "x"}, live_context(provider, llm=helper, cancel=CancelToken()))
    assert provider.calls == 1


def test_prv2_ai_config_api_key_applies_to_selected_provider() -> None:
    provider = FakeLLMProvider([llm_result("x")])
    ctx = make_module_context(mock=False, providers=FakeProviderSet({"anthropic": provider}),
                              credentials={"api_key": "sk-ant-from-request1234",
                                           "anthropic_api_key": "settings-key"})
    run({"input": "x", "provider": "anthropic"}, ctx)
    assert provider.credentials[0]["anthropic_api_key"] == "sk-ant-from-request1234"


def test_prv9_live_placeholder_without_key_fails_cleanly() -> None:
    ctx = make_module_context(mock=False, providers=DefaultProviderSet().for_call(False))
    with pytest.raises(ModuleExecutionError) as info:
        run({"input": "x"}, ctx)
    assert info.value.message == ("LLM API call failed: No API key configured for provider "
                                  "'openai' (set OPENAI_API_KEY on the server or send "
                                  "ai_config.openai_api_key)")


def test_mod_llm_4_unknown_provider_error_from_provider_set_is_not_retried() -> None:
    class Raising(FakeProviderSet):
        def llm(self, name: str):
            raise ProviderError("nope", error_code="unavailable")

    with pytest.raises(ModuleExecutionError) as info:
        run({"input": "x"}, make_module_context(mock=False, providers=Raising()))
    assert info.value.message == "LLM API call failed: nope"
