"""Test doubles for providers and module contexts (providers.md §3.5 FakeLLMProvider).

`FakeLLMProvider` returns scripted results, raises scripted errors, counts calls and can block
on a `threading.Event` (honouring the cancel token while it waits), so retry, cancellation,
back-pressure and secret-leak tests need no network. `FakeProviderSet` serves fixed provider
objects; `FakeStore` records what modules write; `make_module_context` builds an
`ExecutionContext` around them.
"""

from __future__ import annotations

import copy
import tempfile
import threading
from datetime import datetime, timezone
from functools import cache
from typing import Any, Callable, Iterable, Iterator

from engine.clock import FixedClock
from engine.ids import SequentialIds
from engine.llm_call import LLMHelper
from engine.mock_data import MOCK_PLACEHOLDER_URL
from engine.modules.base import ExecutionContext, SubActionContext
from engine.ports import CancelToken
from engine.provider_types import (
    ContentItem,
    Credentials,
    GenerationResult,
    HttpFetcher,
    LLMProvider,
    LLMRequest,
    LLMResult,
    MediaProvider,
    ModelCapabilities,
    ProviderCancelled,
    ProviderError,
    Usage,
)
from engine.settings import EngineSettings
from engine.upload import load_workflow_folder
from engine.wire import InteractionRequest

Script = LLMResult | BaseException | Callable[[LLMRequest], LLMResult]


def llm_result(content: Any, *, text: str | None = None, model: str = "fake-model",
               usage: Usage | None = None) -> LLMResult:
    import json

    if text is None:
        text = content if isinstance(content, str) else json.dumps(content)
    return LLMResult(content=content, content_text=text, model=model,
                     usage=usage or Usage(prompt_tokens=10, completion_tokens=5,
                                          total_tokens=15, cached_tokens=2, cost_usd=0.25,
                                          display_name="Fake Model"))


class FakeLLMProvider:
    """Scripted LLM provider: each call consumes the next script entry (the last one repeats)."""

    provider_id = "fake"

    def __init__(self, script: Iterable[Script] = (), *, streaming: bool = False,
                 block: threading.Event | None = None, block_timeout: float = 5.0,
                 model: str = "fake-model") -> None:
        self.script: list[Script] = list(script) or [llm_result("ok")]
        self.streaming = streaming
        self.block = block
        self.block_timeout = block_timeout
        self.model = model
        self.calls = 0
        self.streaming_calls = 0
        self.requests: list[LLMRequest] = []
        self.credentials: list[Credentials] = []
        self.started = threading.Event()

    def capabilities(self, model: str) -> ModelCapabilities:
        return ModelCapabilities(vision=True, structured_output=True)

    def default_model(self) -> str:
        return self.model

    def supports_streaming(self, model: str) -> bool:
        return self.streaming

    def _next(self, request: LLMRequest, credentials: Credentials, cancel: Any) -> LLMResult:
        self.calls += 1
        self.requests.append(request)
        self.credentials.append(dict(credentials))
        self.started.set()
        if self.block is not None:
            waited = 0.0
            while not self.block.wait(0.01):
                waited += 0.01
                if cancel is not None and cancel.is_cancelled():
                    raise ProviderCancelled("Cancelled")
                if waited >= self.block_timeout:
                    break
        item = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(item, BaseException):
            raise item
        if callable(item):
            return item(request)
        return item

    def call(self, request: LLMRequest, credentials: Credentials) -> LLMResult:
        return self._next(request, credentials, None)

    def call_streaming(self, request: LLMRequest, credentials: Credentials, cancel: Any,
                       on_chunk: Callable[[str], None] | None) -> LLMResult:
        self.streaming_calls += 1
        result = self._next(request, credentials, cancel)
        if on_chunk is not None:
            on_chunk(result.content_text)
        return result


class FakeMediaProvider:
    """Scripted media provider recording every generation call."""

    def __init__(self, provider_id: str, result: GenerationResult | BaseException) -> None:
        self.provider_id = provider_id
        self.actions = ("txt2img", "img2img", "img2vid", "txt2audio")
        self.concurrency = 1
        self.result = result
        self.calls: list[tuple[str, Any, str, dict[str, Any]]] = []
        self.fetched: list[str] = []
        self.files: dict[str, bytes] = {}

    def format_params(self, params: dict[str, Any]) -> dict[str, Any]:
        return dict(params)

    def _run(self, action: str, source: Any, prompt: str, params: dict[str, Any],
             progress: Callable[[dict[str, Any]], None]) -> GenerationResult:
        self.calls.append((action, source, prompt, params))
        progress({"status": "processing", "progress": {"elapsed_ms": 5, "message": "live"}})
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result

    def txt2img(self, prompt: str, params: dict[str, Any], progress: Any) -> GenerationResult:
        return self._run("txt2img", None, prompt, params, progress)

    def img2img(self, source_image: str, prompt: str, params: dict[str, Any],
                progress: Any) -> GenerationResult:
        return self._run("img2img", source_image, prompt, params, progress)

    def img2vid(self, source_image: str, prompt: str, params: dict[str, Any],
                progress: Any) -> GenerationResult:
        return self._run("img2vid", source_image, prompt, params, progress)

    def txt2audio(self, prompt: str, params: dict[str, Any], progress: Any) -> GenerationResult:
        return self._run("txt2audio", None, prompt, params, progress)

    def get_preview_info(self, action: str, params: dict[str, Any]) -> Any:
        raise NotImplementedError

    def fetch_content(self, item: ContentItem, max_bytes: int) -> Iterator[bytes]:
        """The scripted bytes of `item.url` (default: derived from the URL), in two chunks."""
        self.fetched.append(item.url)
        data = self.files.get(item.url, b"bytes of " + item.url.encode())
        yield data[: len(data) // 2]
        yield data[len(data) // 2:]


class FakeProviderSet:
    """Fixed provider objects by name; unknown LLM names raise `unknown_provider`."""

    def __init__(self, llm: dict[str, LLMProvider] | None = None,
                 media: dict[str, MediaProvider | BaseException] | None = None,
                 fetcher: HttpFetcher | None = None) -> None:
        self.llms = llm or {}
        self.medias = media or {}
        self._fetcher = fetcher
        self.llm_lookups: list[str] = []

    def for_call(self, mock: bool) -> "FakeProviderSet":
        return self

    def llm(self, name: str) -> LLMProvider:
        self.llm_lookups.append(name)
        if name not in self.llms:
            raise ProviderError(f"Unknown LLM provider '{name}'", error_code="unknown_provider")
        return self.llms[name]

    def media(self, name: str, credentials: Credentials) -> MediaProvider:
        item = self.medias.get(name)
        if item is None:
            raise ProviderError(f"no media provider {name}", error_code="unavailable")
        if isinstance(item, BaseException):
            raise item
        return item

    def media_class(self, name: str) -> Any:
        raise NotImplementedError

    def fetcher(self) -> HttpFetcher:
        if self._fetcher is None:
            raise ProviderError("no fetcher")
        return self._fetcher


class FakeStore:
    """Records the writes of the LLM and media modules (only the methods they call)."""

    def __init__(self) -> None:
        self.tokens: list[dict[str, Any]] = []
        self.metadata: dict[str, dict[str, Any]] = {}
        self.metadata_updates: list[tuple[str, dict[str, Any]]] = []
        self.content: dict[str, dict[str, Any]] = {}

    def insert_token_usage(self, doc: dict[str, Any]) -> None:
        self.tokens.append(doc)

    def insert_generation_metadata(self, doc: dict[str, Any]) -> None:
        self.metadata[doc["content_generation_metadata_id"]] = dict(doc)

    def update_generation_metadata(self, metadata_id: str, fields: dict[str, Any]) -> None:
        self.metadata_updates.append((metadata_id, dict(fields)))
        self.metadata[metadata_id].update(fields)

    def insert_generated_content(self, doc: dict[str, Any]) -> None:
        self.content[doc["generated_content_id"]] = dict(doc)

    def get_generated_content(self, content_id: str) -> dict[str, Any] | None:
        return self.content.get(content_id)


class WaitRecorder:
    """Replacement for `LLMHelper.wait`: records delays, never sleeps."""

    def __init__(self, cancel_on_wait: bool = False) -> None:
        self.delays: list[float] = []
        self.cancel_on_wait = cancel_on_wait

    def __call__(self, delay: float, cancel: CancelToken | None) -> bool:
        self.delays.append(delay)
        return self.cancel_on_wait


START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def make_module_context(**overrides: Any) -> ExecutionContext:
    """An `ExecutionContext` wired to fakes; `providers` defaults to the real mock view."""
    if "providers" not in overrides:
        from providers.provider_set import DefaultProviderSet

        overrides["providers"] = DefaultProviderSet().for_call(overrides.get("mock", True))
    ids = SequentialIds()
    values: dict[str, Any] = dict(
        workflow_run_id="wf_test", branch_id="br_test", user_id="usr_test",
        workflow_template_id="tpl_test", workflow_template_name="cuddle_crew",
        workflow_version_id="ver_test", step_id="step_a", step_name="Step A", step={},
        module_name="mod_a", module_index=0, module_id="api.llm", sequence=3, config={},
        state={}, retryable=None, sub_actions=None, mock=True, ai_config={}, credentials={},
        store=FakeStore(), pipeline=None, clock=FixedClock(START), media_base_path="/tmp",
        cancel=None, lineage=[], settings=EngineSettings(), new_id=ids.new_id,
        progress_sink=None, llm=LLMHelper(wait=WaitRecorder()), templates=None)
    values.update(overrides)
    return ExecutionContext(**values)


def make_sub_action_context(request: InteractionRequest, resolved_inputs: dict[str, Any],
                            params: dict[str, Any], **overrides: Any) -> SubActionContext:
    if "providers" not in overrides:
        from providers.provider_set import DefaultProviderSet

        overrides["providers"] = DefaultProviderSet().for_call(overrides.get("mock", True))
    ids = SequentialIds(start_ms=1_767_225_700_000)
    values: dict[str, Any] = dict(
        workflow_run_id="wf_test", execution_id="image_generation_x",
        interaction_id=request.interaction_id, step_id="image_prompts",
        module_name="generate_and_select_images_v2", request=request,
        resolved_inputs=resolved_inputs, module_state={}, params=params, mock=True,
        credentials={}, store=FakeStore(), clock=FixedClock(START), new_id=ids.new_id,
        cancel=None, media_base_path=tempfile.mkdtemp(prefix="wfe-media-"), progress_sink=None)
    values.update(overrides)
    return SubActionContext(**values)


def _strip(value: Any) -> Any:
    """Simulate server resolution: drop resolver schemas, replace templates by plain text."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k != "resolver_schema"}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    if isinstance(value, str) and "{{" in value and "shared_prompt_ref" not in value:
        return "resolved template text"
    return value


@cache
def _workflow() -> dict[str, Any]:
    return load_workflow_folder("/work/shared/workflows/cuddle_crew", "workflow_v3.json")


def cuddle_crew_media_inputs(step_id: str) -> dict[str, Any]:
    """Resolved-looking inputs of the `media.generateV2` module of a cuddle_crew step."""
    step = next(s for s in _workflow()["steps"] if s["step_id"] == step_id)
    module = next(m for m in step["modules"] if m["module_id"] == "media.generateV2")
    inputs = _strip(copy.deepcopy(module["inputs"]))
    inputs.setdefault("title", "Generate Media")
    inputs.setdefault("source_image", None)
    inputs.setdefault("display_schema", None)
    if step_id == "video_generation":
        inputs["source_image"] = {"content_id": "mock-gc_1", "url": MOCK_PLACEHOLDER_URL}
    return inputs
