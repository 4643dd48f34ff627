"""media.generate / media.generateV2 (modules.md MOD-mg-1…5, MOD-mg2-1…6; ACC-P2-5, ACC-P3-2)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine import media_catalog
from engine.errors import ModuleExecutionError
from engine.llm_call import LLMHelper
from engine.mock_data import MOCK_PLACEHOLDER_URL
from engine.modules.media.generate import MediaGenerateModule
from engine.modules.media.generate_v2 import MediaGenerateV2Module
from engine.modules.media.v2_prompts import (
    default_display_schema,
    output_schema,
    provider_system_message,
)
from engine.provider_types import ContentItem, GenerationError, GenerationResult, UsageInfo
from engine.validation import validate_schema
from engine.wire import InteractionResponseData
from providers.provider_set import DefaultProviderSet
from tests.fakes import START as START_TIME
from tests.fakes import (
    FakeLLMProvider,
    FakeMediaProvider,
    FakeProviderSet,
    FakeStore,
    WaitRecorder,
    llm_result,
    make_module_context,
    make_sub_action_context,
)
from tests.fakes import cuddle_crew_media_inputs as cc_inputs

RETRYABLE = {"default_option": "continue", "options": [{"id": "continue", "mode": "continue"}]}
SUB_ACTIONS = [{"id": "image_generation", "actions": [{"type": "self_sub_action"}]}]


def v2_context(**overrides: Any):
    values = dict(module_name="generate_and_select_images_v2", module_id="media.generateV2",
                  step_id="image_prompts", retryable=RETRYABLE, sub_actions=SUB_ACTIONS)
    values.update(overrides)
    return make_module_context(**values)


# ------------------------------------------------------------------ media.generate


def test_mod_mg_1_object_with_prompts_keeps_other_keys() -> None:
    ctx = make_module_context(retryable=RETRYABLE)
    result = MediaGenerateModule().get_interaction_request(
        {"prompts": {"title": "T", "prompts": {"leonardo": {"prompt": "p"}, "acme": {"x": 1}}},
         "schema": {"type": "object"}, "title": "Pick", "action_type": "txt2img",
         "source_image": {"url": "u"}}, ctx)
    data = result.request.display_data["data"]
    assert data["title"] == "T" and data["_source_image"] == {"url": "u"}
    leo = data["prompts"]["leonardo"]
    assert leo["prompt"] == "p" and leo["_generations"] == []
    assert leo["_provider_metadata"] == media_catalog.provider_metadata("leonardo", "txt2img")
    assert data["prompts"]["acme"] == {"_provider_metadata": {}, "_generations": [], "x": 1}


def test_mod_mg_1_object_without_prompts_and_array_forms() -> None:
    ctx = make_module_context()
    module = MediaGenerateModule()
    r1 = module.get_interaction_request(
        {"prompts": {"openai": {"prompt": "a"}}, "schema": {}, "action_type": "img2vid"}, ctx)
    assert list(r1.request.display_data["data"]) == ["prompts"]
    assert r1.request.display_data["data"]["prompts"]["openai"]["_provider_metadata"] == \
        media_catalog.provider_metadata("openai", "img2vid")
    r2 = module.get_interaction_request(
        {"prompts": [{"provider": "midjourney", "prompt": "m"}, {"provider": "openai"}],
         "schema": {}}, ctx)
    prompts = r2.request.display_data["data"]["prompts"]
    assert list(prompts) == ["midjourney", "openai"]
    assert prompts["midjourney"]["provider"] == "midjourney"
    assert "_source_image" not in r2.request.display_data["data"]


def test_mod_mg_2_request_shape() -> None:
    ctx = make_module_context(retryable=RETRYABLE, sub_actions=SUB_ACTIONS)
    request = MediaGenerateModule().get_interaction_request(
        {"prompts": {"leonardo": {}, "openai": {}}, "schema": {"type": "object"},
         "title": "Pick one", "action_type": "txt2img"}, ctx).request
    assert request.interaction_id.startswith("media_") and len(request.interaction_id) == 38
    assert request.interaction_type == "media_generation" and request.title == "Pick one"
    assert set(request.display_data) == {"data", "schema", "sub_actions", "generations",
                                         "retryable"}
    assert request.display_data["generations"] == {}
    assert request.display_data["retryable"] == RETRYABLE
    assert request.display_data["sub_actions"] == SUB_ACTIONS
    assert request.context == {"action_type": "txt2img", "providers": ["leonardo", "openai"]}


GENERATIONS = {"prompts.leonardo": [
    {"urls": ["u0", "u1"], "metadata_id": "cgm_1", "content_ids": ["gc_a", "gc_b"],
     "prompt_id": "default", "provider": "leonardo"}],
    "prompts.openai": [{"urls": ["only"], "metadata_id": "cgm_2",
                        "content_ids": ["gc_c", "gc_d"]}]}


def test_mod_mg_3_selected_content_must_exist() -> None:
    module = MediaGenerateModule()
    request = module.get_interaction_request({"prompts": {"a": {}}, "schema": {}},
                                             make_module_context()).request
    ok = InteractionResponseData(selected_content_id="gc_b", generations=GENERATIONS)
    assert module.validate_response(request, {}, ok, {}) == []
    assert module.validate_response(request, {}, InteractionResponseData(), {}) == []
    given = InteractionResponseData(selected_content_id="x", selected_content={"url": "u"})
    assert module.validate_response(request, {}, given, {}) == []
    errors = module.validate_response(
        request, {}, InteractionResponseData(selected_content_id="gc_zz",
                                             generations=GENERATIONS), {})
    assert [(e.id, e.field, e.rule, e.message, e.severity) for e in errors] == [
        ("selected_content_unknown", "selected_content_id", "selected_content_exists",
         "Selected content was not found in the generations", "error")]


def test_mod_mg_4_response_half() -> None:
    module = MediaGenerateModule()
    store = FakeStore()
    ctx = make_module_context(store=store, media_base_path="/srv/media")
    out = module.execute_with_response(
        {}, ctx, InteractionResponseData(selected_content_id="gc_b", generations=GENERATIONS), {})
    assert out == {"selected_content_id": "gc_b",
                   "selected_content": {"content_id": "gc_b", "url": "u1",
                                        "metadata_id": "cgm_1", "prompt_key": "prompts.leonardo"},
                   "generations": GENERATIONS}
    out = module.execute_with_response(
        {}, ctx, InteractionResponseData(selected_content_id="gc_d", generations=GENERATIONS), {})
    assert out["selected_content"]["url"] == "only"        # urls shorter -> urls[0]
    store.content["gc_a"] = {"generated_content_id": "gc_a", "local_path": "wf/gc_a.png"}
    out = module.execute_with_response(
        {}, ctx, InteractionResponseData(selected_content_id="gc_a", generations=GENERATIONS), {})
    assert out["selected_content"]["local_path"] == "/srv/media/wf/gc_a.png"
    out = module.execute_with_response(
        {}, ctx, InteractionResponseData(selected_content_id="ext", selected_content={"url": "z"}),
        {})
    assert out["selected_content"] == {"url": "z"}
    out = module.execute_with_response({}, ctx, InteractionResponseData(), {})
    assert out == {"selected_content_id": None, "selected_content": None, "generations": {}}


# ------------------------------------------------------------------ sub-action (MOD-mg-5)


def _request(action_type: str = "txt2img"):
    return MediaGenerateModule().get_interaction_request(
        {"prompts": {"leonardo": {}}, "schema": {}, "action_type": action_type},
        make_module_context()).request


A4_PARAMS = {"provider": "leonardo", "action_type": "txt2img", "prompt_id": "default",
             "params": {"prompt": "x"}, "source_data": {}}


def test_mod_mg_5_mock_sub_action_acc_p3_2_shape() -> None:
    store = FakeStore()
    progress: list = []
    request = _request()
    ctx = make_sub_action_context(request, {"action_type": "txt2img"}, dict(A4_PARAMS),
                                  store=store, progress_sink=progress.append)
    result = MediaGenerateV2Module().sub_action(ctx)
    assert result["metadata_id"].startswith("mock-cgm_")
    assert len(result["content_ids"]) == 1 and result["content_ids"][0].startswith("mock-gc_")
    assert result["urls"] == [MOCK_PLACEHOLDER_URL]
    assert MOCK_PLACEHOLDER_URL.startswith("data:image/svg+xml;base64,")
    assert (result["prompt_id"], result["provider"], result["action_type"], result["mock"]) == (
        "default", "leonardo", "txt2img", True)
    assert progress == [{"status": "processing",
                         "progress": {"elapsed_ms": 0, "message": "Generating (mock)"}}]
    meta = store.metadata[result["metadata_id"]]
    assert meta["status"] == "completed" and meta["provenance"] == "mock"
    assert meta["interaction_id"] == request.interaction_id
    assert meta["request_params"] == {"prompt": "x"} and meta["prompt_id"] == "default"
    content = store.content[result["content_ids"][0]]
    assert content["content_generation_metadata_id"] == result["metadata_id"]
    assert content["provider_url"] == content["url"] == MOCK_PLACEHOLDER_URL
    assert content["content_type"] == "image" and content["provenance"] == "mock"
    assert content["index"] == 0
    assert store.tokens == []


@pytest.mark.parametrize("num, expected", [(3, 3), ("2", 2), (9, 1), ("x", 1), (None, 1)])
def test_mod_mg_5_mock_count_from_num_images(num: Any, expected: int) -> None:
    params = {"provider": "openai", "params": {"prompt": "x", "num_images": num}}
    ctx = make_sub_action_context(_request(), {"action_type": "txt2img"}, params)
    assert len(MediaGenerateModule().sub_action(ctx)["content_ids"]) == expected


@pytest.mark.parametrize("provider, action, kind", [
    ("leonardo", "img2vid", "video"), ("elevenlabs", "txt2audio", "audio"),
    ("stable_diffusion", "img2img", "image")])
def test_mod_mg_5_mock_content_type_by_action(provider: str, action: str, kind: str) -> None:
    store = FakeStore()
    ctx = make_sub_action_context(_request(action), {"action_type": action},
                                  {"provider": provider, "params": {}}, store=store)
    result = MediaGenerateModule().sub_action(ctx)
    assert result["action_type"] == action
    assert store.content[result["content_ids"][0]]["content_type"] == kind


def test_mod_mg_5_action_defaults_to_module_action_and_must_be_supported() -> None:
    ctx = make_sub_action_context(_request("img2vid"), {"action_type": "img2vid"},
                                  {"provider": "leonardo"})
    assert MediaGenerateModule().sub_action(ctx)["action_type"] == "img2vid"
    ctx = make_sub_action_context(_request(), {"action_type": "txt2img"},
                                  {"provider": "elevenlabs"})
    with pytest.raises(ModuleExecutionError) as info:
        MediaGenerateModule().sub_action(ctx)
    assert info.value.error_type == "execution_failed"


def test_prv4_mock_sub_action_never_builds_a_live_media_client() -> None:
    def explode(name, creds):
        raise AssertionError("live media client built in mock mode")

    providers = DefaultProviderSet(media_factory=explode).for_call(True)
    ctx = make_sub_action_context(_request(), {}, dict(A4_PARAMS), providers=providers)
    assert MediaGenerateModule().sub_action(ctx)["mock"] is True


def test_mod_mg_5_live_unavailable_provider() -> None:
    store = FakeStore()
    ctx = make_sub_action_context(_request(), {}, dict(A4_PARAMS), mock=False, store=store,
                                  providers=DefaultProviderSet().for_call(False))
    with pytest.raises(ModuleExecutionError) as info:
        MediaGenerateModule().sub_action(ctx)
    assert info.value.message == ("Provider 'leonardo' is unavailable: Provider 'leonardo' "
                                  "needs the credential 'leonardo_api_key'")
    assert store.metadata == {}


def test_mod_mg_5_live_success_writes_documents_and_usage() -> None:
    usage = UsageInfo(provider="leonardo", model="phoenix", display_name="Phoenix",
                      action_type="img2vid", total_cost=0.4, credits=12.0)
    media = FakeMediaProvider("leonardo", GenerationResult(
        content=[ContentItem(url="https://cdn/v.mp4", content_type="video", seed=7,
                             extension="mp4")],
        provider_task_id="task-1", usage=usage))
    store = FakeStore()
    progress: list = []
    ctx = make_sub_action_context(
        _request("img2vid"), {"action_type": "img2vid", "source_image": {"url": "https://img"}},
        {"provider": "leonardo", "params": {"prompt": "move"}, "source_data": {}},
        mock=False, store=store, providers=FakeProviderSet(media={"leonardo": media}),
        progress_sink=progress.append)
    result = MediaGenerateModule().sub_action(ctx)
    assert result["metadata_id"].startswith("cgm_") and result["content_ids"][0].startswith("gc_")
    assert result["urls"] == ["https://cdn/v.mp4"] and result["mock"] is False
    assert media.calls == [("img2vid", "https://img", "move", {"prompt": "move"})]
    meta = store.metadata[result["metadata_id"]]
    assert meta["status"] == "completed" and meta["provider_task_id"] == "task-1"
    assert meta["provenance"] == "live"
    assert store.metadata_updates[0][1]["status"] == "completed"
    assert store.content[result["content_ids"][0]]["seed"] == 7
    assert progress and progress[0]["progress"]["message"] == "live"
    assert len(store.tokens) == 1
    assert store.tokens[0]["usage"][0]["credits"] == 12.0
    assert "image_count" not in store.tokens[0]["usage"][0]


def test_mod_mg_5_live_source_image_precedence() -> None:
    media = FakeMediaProvider("openai", GenerationResult(content=[]))
    ctx = make_sub_action_context(
        _request("img2img"), {"source_image": "https://input"},
        {"provider": "openai", "action_type": "img2img",
         "params": {"prompt": "p", "source_image": {"url": "https://param"}},
         "source_data": {"_source_image": "data:image/png;base64,AAAA"}},
        mock=False, providers=FakeProviderSet(media={"openai": media}))
    MediaGenerateModule().sub_action(ctx)
    ctx.params["params"].pop("source_image")
    MediaGenerateModule().sub_action(ctx)
    ctx.params["source_data"] = {}
    MediaGenerateModule().sub_action(ctx)
    assert [c[1] for c in media.calls] == ["https://param", "data:image/png;base64,AAAA",
                                           "https://input"]


def test_mod_mg_5_live_failure_marks_metadata_failed() -> None:
    secret = "leo-secret-value-123"
    media = FakeMediaProvider("leonardo", GenerationError(f"vendor refused {secret}"))
    store = FakeStore()
    ctx = make_sub_action_context(_request(), {}, dict(A4_PARAMS), mock=False, store=store,
                                  credentials={"leonardo_api_key": secret},
                                  providers=FakeProviderSet(media={"leonardo": media}))
    with pytest.raises(ModuleExecutionError) as info:
        MediaGenerateModule().sub_action(ctx)
    assert info.value.message == "Media generation failed: vendor refused ***"
    (meta,) = store.metadata.values()
    assert meta["status"] == "failed" and meta["error_message"] == "vendor refused ***"
    assert store.content == {}


# ------------------------------------------------------------------ media.generateV2


def test_mod_mg2_1_input_checks() -> None:
    module = MediaGenerateV2Module()
    base = cc_inputs("image_prompts")
    cases = [
        {"providers": []}, {"providers": ["openai", "openai"]}, {"providers": [""]},
        {"providers": ["elevenlabs"]}, {"action_type": "img2img"},
        {"action_type": "img2vid", "providers": ["midjourney"]},
        {"prompt_config": {**base["prompt_config"], "user": "  "}},
    ]
    for change in cases:
        with pytest.raises(ModuleExecutionError) as info:
            module.get_interaction_request({**base, **change}, v2_context())
        assert info.value.error_type == "input_validation_failed", change


def test_mod_mg2_2_output_schema_order_and_content() -> None:
    schema = output_schema("txt2img", ["openai", "midjourney"])
    assert list(schema["properties"]) == ["scene_title", "key_moment", "prompts"]
    assert schema["required"] == ["scene_title", "key_moment", "prompts"]
    assert schema["additionalProperties"] is False
    prompts = schema["properties"]["prompts"]
    assert list(prompts["properties"]) == ["openai", "midjourney"]
    assert prompts["required"] == ["openai", "midjourney"]
    assert prompts["properties"]["openai"] == media_catalog.data_schema("openai", "txt2img")
    assert list(output_schema("img2vid", ["leonardo"])["properties"]) == [
        "scene_title", "motion_summary", "prompts"]
    assert list(output_schema("txt2audio", ["elevenlabs"])["properties"]) == ["prompts"]


def test_mod_mg2_3_system_message_layout() -> None:
    text = provider_system_message("SHARED", {"openai": "Be OpenAI."}, ["openai", "leonardo"])
    assert text == (
        "## Shared Provider Instructions\n\nSHARED\n\n"
        "The token {{shared_prompt_ref}} in a provider section below stands for the shared "
        "instructions above.\n\n"
        "## Provider: openai\n\nBe OpenAI.\n\n"
        "## Provider: leonardo\n\nUse {{shared_prompt_ref}}.")
    empty = provider_system_message(None, None, ["openai"])
    assert empty.startswith("## Shared Provider Instructions\n\n\n\nThe token")


def test_mod_mg2_3_messages_sent_to_the_llm() -> None:
    generated = {"scene_title": "S", "key_moment": "K",
                 "prompts": {"openai": {"prompt": "p", "camera_notes": "c"}}}
    provider = FakeLLMProvider([llm_result(generated)])
    ctx = v2_context(mock=False, providers=FakeProviderSet({"openai": provider}),
                     llm=LLMHelper(wait=WaitRecorder()))
    inputs = {"action_type": "txt2img", "providers": ["openai"], "title": "T",
              "display_schema": None, "source_image": None,
              "prompt_config": {"system": ["role", {"content": "sys2"}], "user": "USER",
                                "shared_prompt": "SH", "provider_prompts": {}}}
    MediaGenerateV2Module().get_interaction_request(inputs, ctx)
    request = provider.requests[0]
    roles = [(m.role, m.content[0].value) for m in request.messages]
    assert roles[:2] == [("system", "role"), ("system", "sys2")]
    assert roles[2] == ("system", provider_system_message("SH", {}, ["openai"]))
    assert roles[3] == ("user", "USER") and len(roles) == 4
    assert request.output_schema == output_schema("txt2img", ["openai"])
    assert request.metadata == {"step_id": "image_prompts"}


def test_mod_mg2_4_cuddle_crew_step3_mock_acc_p2_5() -> None:
    inputs = cc_inputs("image_prompts")
    result = MediaGenerateV2Module().get_interaction_request(inputs, v2_context())
    request = result.request
    assert request.interaction_id.startswith("media_")
    assert request.interaction_type == "media_generation"
    data = request.display_data["data"]
    providers = ["midjourney", "leonardo", "openai", "stable_diffusion"]
    assert list(data["prompts"]) == providers
    for p in providers:
        node = data["prompts"][p]
        assert node["_generations"] == []
        assert set(node["_provider_metadata"]) == set(
            media_catalog.provider_metadata(p, "txt2img"))
        stripped = {k: v for k, v in node.items()
                    if k not in ("_provider_metadata", "_generations")}
        assert data["_generated_prompts"]["prompts"][p] == stripped
    assert "scene_title" in data and "key_moment" in data
    assert request.display_data["retryable"]["options"][0]["id"] == "continue"
    assert request.display_data["schema"] == inputs["display_schema"]
    assert result.module_state == {"generated_prompts": data["_generated_prompts"]}
    assert validate_schema(data["_generated_prompts"], output_schema("txt2img", providers)) == []


def test_mod_mg2_4_mock_is_deterministic_and_uses_retry_context() -> None:
    inputs = cc_inputs("image_prompts")
    a = MediaGenerateV2Module().get_interaction_request(inputs, v2_context()).module_state
    b = MediaGenerateV2Module().get_interaction_request(
        inputs, v2_context(workflow_run_id="wf_other")).module_state
    c = MediaGenerateV2Module().get_interaction_request(
        inputs, v2_context(state={"_retry_feedback": "more mood"})).module_state
    assert a == b and a != c


@pytest.mark.parametrize("step_id, action, kind, providers", [
    ("video_generation", "img2vid", "video", ["leonardo", "openai"]),
    ("music", "txt2audio", "audio", ["elevenlabs"])])
def test_mod_mg2_4_cuddle_crew_video_and_music(step_id: str, action: str, kind: str,
                                               providers: list[str]) -> None:
    inputs = cc_inputs(step_id)
    request = MediaGenerateV2Module().get_interaction_request(inputs, v2_context()).request
    data = request.display_data["data"]
    assert list(data["prompts"]) == providers
    assert request.context == {"action_type": action, "providers": providers}
    generated = data["_generated_prompts"]
    assert validate_schema(generated, output_schema(action, providers)) == []
    if action == "img2vid":
        assert data["_source_image"] == inputs["source_image"]
        assert "motion_summary" in data
    else:
        assert len(generated["prompts"]["elevenlabs"]["data"]) == 3


def test_mod_mg2_4_default_display_schema() -> None:
    inputs = {**cc_inputs("music"), "display_schema": None}
    request = MediaGenerateV2Module().get_interaction_request(inputs, v2_context()).request
    schema = request.display_data["schema"]
    assert schema == default_display_schema("txt2audio", ["elevenlabs"])
    tab = schema["properties"]["prompts"]["properties"]["elevenlabs"]
    assert schema["_ux.display"] == "passthrough"
    assert tab["_ux"]["render_as"] == "tab.media[input_schema,audio_generation]"
    assert tab["_ux"]["tab_label"] == "elevenlabs" and tab["_ux"]["provider"] == "elevenlabs"
    assert tab["_ux"]["input_schema"]["properties"]["_text"]["_ux"]["source_field"] == "prompt"


def test_mod_mg2_4_invalid_generated_object() -> None:
    provider = FakeLLMProvider([llm_result({"prompts": {"openai": {"prompt": "p",
                                                                   "camera_notes": "c"}}})])
    inputs = {"action_type": "txt2img", "providers": ["openai", "leonardo"],
              "prompt_config": {"user": "u"}, "title": "T"}

    class NoSchemaCheck(LLMHelper):
        def call(self, context, **kwargs):
            return provider.call(None, {})

    ctx = v2_context(llm=NoSchemaCheck())
    with pytest.raises(ModuleExecutionError) as info:
        MediaGenerateV2Module().get_interaction_request(inputs, ctx)
    assert info.value.message == "Prompt generation returned an invalid object"
    assert info.value.error_type == "execution_failed"


def test_mod_mg2_5_refresh_reuses_generated_prompts_without_llm() -> None:
    inputs = cc_inputs("image_prompts")
    module = MediaGenerateV2Module()
    first = module.get_interaction_request(inputs, v2_context())

    class NoCalls(LLMHelper):
        def call(self, *args, **kwargs):
            raise AssertionError("refresh must not call the LLM")

        def build_messages(self, *args, **kwargs):
            raise AssertionError("refresh must not build messages")

    refreshed = module.refresh_interaction_request(
        first.request, {**inputs, "title": "New title"}, first.module_state,
        v2_context(llm=NoCalls()))
    assert refreshed.request.interaction_id == first.request.interaction_id
    assert refreshed.request.title == "New title"
    assert refreshed.request.display_data["data"] == first.request.display_data["data"]
    assert refreshed.module_state == first.module_state


def test_mod_mg2_6_response_half_adds_generated_prompts() -> None:
    module = MediaGenerateV2Module()
    first = module.get_interaction_request(cc_inputs("image_prompts"), v2_context())
    response = InteractionResponseData(action_id="continue", selected_content_id="gc_a",
                                       generations=GENERATIONS)
    assert module.validate_response(first.request, {}, response, first.module_state) == []
    out = module.execute_with_response({}, v2_context(), response, first.module_state)
    assert out["generated_prompts"] == first.module_state["generated_prompts"]
    assert out["selected_content"]["prompt_key"] == "prompts.leonardo"
    assert set(out) == {"selected_content_id", "selected_content", "generations",
                        "generated_prompts"}
    json.dumps(out)  # plain JSON data


def test_mod_mg_5_mock_documents_land_in_the_virtual_store() -> None:
    """ACC-P3-2: the generation written by the sub-action is listed for the interaction."""
    from db.virtual_store import VirtualStore

    store = VirtualStore()
    store.load({}, now=START_TIME)
    request = _request()
    ctx = make_sub_action_context(request, {"action_type": "txt2img"}, dict(A4_PARAMS),
                                  store=store)
    result = MediaGenerateModule().sub_action(ctx)
    metas, contents = store.list_generations("wf_test", request.interaction_id)
    assert [m["content_generation_metadata_id"] for m in metas] == [result["metadata_id"]]
    assert metas[0]["status"] == "completed"
    assert [c["generated_content_id"] for c in contents] == result["content_ids"]
    assert store.get_generated_content(result["content_ids"][0])["url"] == MOCK_PLACEHOLDER_URL
