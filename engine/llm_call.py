"""The shared LLM call helper (`context.llm`, modules.md MOD-llm-2…5).

`api.llm` and `media.generateV2` both talk to an LLM; keeping message building, the mock seed,
the retry loop, schema checks and token accounting here means the two modules cannot drift apart
and mock output depends only on the prompt (so both servers produce the same mock data).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import msgspec

from engine.errors import Cancelled, ModuleExecutionError
from engine.jsonutil import canonical_json
from engine.ports import CancelToken
from engine.provider_types import (
    ContentPart,
    LLMProvider,
    LLMRequest,
    LLMResult,
    Message,
    ProviderCancelled,
    ProviderError,
)
from engine.sanitize import sanitize_message
from engine.validation import validate_schema

_ROLES = ("system", "user", "assistant")
_MAX_RETRY_AFTER_S = 30.0


@dataclass(frozen=True)
class LLMConfig:
    """Effective call configuration after MOD-llm-2 precedence."""

    provider: str
    model: str | None
    temperature: float | None
    max_tokens: int | None
    reasoning_effort: str | None
    api_endpoint: str | None


def resolve_llm_config(values: Mapping[str, Any], input_ai_config: Mapping[str, Any] | None,
                       run_ai_config: Mapping[str, Any] | None) -> LLMConfig:
    """MOD-llm-2: `merged = {**inputs.ai_config, **run.ai_config}`; the run-level config wins."""
    merged = {**(input_ai_config or {}), **(run_ai_config or {})}

    def pick(name: str) -> Any:
        value = values.get(name)
        return value if value is not None else merged.get(name)

    return LLMConfig(
        provider=str(merged.get("provider") or values.get("provider") or "openai"),
        model=merged.get("model") or values.get("model") or None,
        temperature=pick("temperature"),
        max_tokens=pick("max_tokens"),
        reasoning_effort=pick("reasoning_effort"),
        api_endpoint=merged.get("api_endpoint"),
    )


def json_text(value: Any) -> str:
    """JSON text indented by 2 spaces: the textual form of structured content everywhere."""
    return json.dumps(value, indent=2, ensure_ascii=False)


def mock_seed(module_name: str, messages: list[Message], output_schema: Any) -> int:
    """MOD-llm-5: the seed depends only on the module name, the prompt and the schema."""
    payload = {
        "module_name": module_name,
        "messages": [{"role": m.role,
                      "content": [{"type": p.type, "value": p.value} for p in m.content]}
                     for m in messages],
        "output_schema": output_schema,
    }
    return int.from_bytes(hashlib.sha256(canonical_json(payload)).digest()[:8], "big")


def _default_wait(delay: float, cancel: CancelToken | None) -> bool:
    """Sleep between attempts; True when the call was cancelled meanwhile."""
    if cancel is not None:
        return cancel.wait(delay)
    time.sleep(delay)
    return False


class _SchemaMismatch(Exception):
    pass


class LLMHelper:
    """One instance per engine; stateless apart from the injectable `wait` used between retries."""

    def __init__(self, wait: Callable[[float, CancelToken | None], bool] | None = None) -> None:
        self.wait: Callable[[float, CancelToken | None], bool] = wait or _default_wait

    # ------------------------------------------------------------------ messages (MOD-llm-3)

    def build_messages(self, system: Any, input: Any, state: Mapping[str, Any], *,
                       media_base_path: str, mock: bool) -> list[Message]:
        messages: list[Message] = []
        for element in _elements(system):
            self._append(messages, element, "system", media_base_path, mock)
        for element in _elements(input):
            self._append(messages, element, "user", media_base_path, mock)
        history = state.get("_retry_conversation_history") if state else None
        feedback = state.get("_retry_feedback") if state else None
        if isinstance(history, list) and history:
            for turn in history:
                if isinstance(turn, dict):
                    self._append(messages, {"role": turn.get("role") or "user",
                                            "content": turn.get("content")},
                                 "user", media_base_path, mock)
        elif isinstance(feedback, str) and feedback.strip():
            messages.append(_text_message("user", f"FEEDBACK FROM USER: {feedback}"))
        if not messages:
            raise ModuleExecutionError("api.llm: no input messages")
        return messages

    def _append(self, messages: list[Message], element: Any, default_role: str,
                media_base_path: str, mock: bool) -> None:
        if isinstance(element, dict) and "content" in element:
            role: Any = element.get("role") or default_role
            if role not in _ROLES:
                raise ModuleExecutionError(f"api.llm: invalid message role '{role}'",
                                           error_type="input_validation_failed")
            content = element.get("content")
            if element.get("type") == "image":
                if content is None or (isinstance(content, str) and not content.strip()):
                    return
                part = _image_part(content, media_base_path, mock)
                messages.append(Message(role=role, content=[part]))
                return
            if content is None:
                text = ""
            else:
                text = content if isinstance(content, str) else json_text(content)
        elif isinstance(element, str):
            role, text = default_role, element
        elif element is None:
            return
        else:
            role, text = default_role, json_text(element)
        if text.strip():
            messages.append(_text_message(role, text))

    # ------------------------------------------------------------------ calls (MOD-llm-4/5)

    def call(self, context: Any, *, module_name: str, messages: list[Message],
             output_schema: dict[str, Any] | None, provider: str, model: str | None,
             temperature: float | None = None, max_tokens: int | None = None,
             reasoning_effort: str | None = None, metadata: dict[str, Any] | None = None,
             cache_system_message: bool | None = None, cache_user_prefix: bool | None = None,
             api_endpoint: str | None = None) -> LLMResult:
        secrets = list((context.credentials or {}).values())
        try:
            client: LLMProvider = context.providers.llm(provider)
        except ProviderError as exc:
            if exc.error_code == "unknown_provider":
                raise ModuleExecutionError(f"Unknown LLM provider '{provider}'") from None
            raise ModuleExecutionError(
                "LLM API call failed: " + sanitize_message(exc.message, secrets)) from None
        request = LLMRequest(
            model=model or client.default_model(), messages=messages, temperature=temperature,
            max_tokens=max_tokens, output_schema=output_schema, reasoning_effort=reasoning_effort,
            metadata=metadata, cache_system_message=cache_system_message,
            cache_user_prefix=cache_user_prefix, api_endpoint=api_endpoint)
        credentials = _provider_credentials(context.credentials or {}, provider)
        if context.mock:
            request.seed = mock_seed(module_name, messages, output_schema)
            _check_cancel(context)
            try:
                return self._invoke(client, request, credentials, context)
            except ProviderError as exc:  # e.g. an output schema the mock cannot fit
                raise ModuleExecutionError(
                    "LLM API call failed: " + sanitize_message(exc.message, secrets)) from None
        return self._call_live(context, client, request, credentials, provider, secrets)

    def _call_live(self, context: Any, client: LLMProvider, request: LLMRequest,
                   credentials: dict[str, str], provider: str, secrets: list[str]) -> LLMResult:
        attempts = max(1, int(getattr(context.settings, "llm_max_attempts", 3) or 1))
        last_message = "unknown error"
        for attempt in range(1, attempts + 1):
            _check_cancel(context)
            try:
                result = self._invoke(client, request, credentials, context)
                if request.output_schema is not None:
                    result = _check_schema(result, request.output_schema)
            except ProviderError as exc:
                last_message = exc.message
                if not exc.retryable:
                    break
                delay = (min(float(exc.retry_after), _MAX_RETRY_AFTER_S)
                         if exc.retry_after is not None else float(attempt))
            except _SchemaMismatch as exc:
                last_message = str(exc)
                delay = float(attempt)
            else:
                self._record_tokens(context, provider, result)
                return result
            if attempt < attempts and self.wait(delay, context.cancel):
                raise Cancelled("Operation cancelled")
        raise ModuleExecutionError(
            "LLM API call failed: " + sanitize_message(last_message, secrets))

    def _invoke(self, client: LLMProvider, request: LLMRequest, credentials: dict[str, str],
                context: Any) -> LLMResult:
        try:
            if context.cancel is not None and client.supports_streaming(request.model):
                return client.call_streaming(request, credentials, context.cancel,
                                             _chunk_progress(context))
            return client.call(request, credentials)
        except ProviderCancelled:
            raise Cancelled("Operation cancelled") from None

    @staticmethod
    def _record_tokens(context: Any, provider: str, result: LLMResult) -> None:
        usage = result.usage
        context.store.insert_token_usage({
            "workflow_run_id": context.workflow_run_id,
            "timestamp": context.clock.now(),
            "step_id": context.step_id,
            "step_name": context.step_name,
            "module_name": context.module_name,
            "module_index": context.module_index,
            "usage": [{
                "display_name": usage.display_name or result.model,
                "provider": provider,
                "model": result.model,
                "action_type": "llm",
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "cached_tokens": usage.cached_tokens,
                "total_cost": usage.cost_usd,
            }],
            "provenance": context.provenance,
        })


# ---------------------------------------------------------------------- helpers


def _elements(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _text_message(role: str, text: str) -> Message:
    part = ContentPart(type="text", value=text)
    return Message(role=role, content=[part])  # type: ignore[arg-type]


def _image_part(content: Any, media_base_path: str, mock: bool) -> ContentPart:
    if not isinstance(content, str):
        raise ModuleExecutionError("api.llm: image content must be a string")
    if content.startswith("data:"):
        return ContentPart(type="image_base64", value=content)
    if content.startswith(("http://", "https://")):
        return ContentPart(type="image_url", value=content)
    if mock:  # never touch the file system in mock mode; the raw value keeps seeds portable
        return ContentPart(type="image_path", value=content)
    base = os.path.realpath(media_base_path)
    resolved = os.path.realpath(os.path.join(base, content))
    if resolved != base and not resolved.startswith(base + os.sep):
        raise ModuleExecutionError("api.llm: image path is outside the media folder")
    if not os.path.isfile(resolved):
        raise ModuleExecutionError("api.llm: image file not found")
    return ContentPart(type="image_path", value=resolved)


def _provider_credentials(credentials: Mapping[str, str], provider: str) -> dict[str, str]:
    """`api_key` (PRV-2) applies to the LLM provider the module selected."""
    result = dict(credentials)
    if result.get("api_key"):
        result[f"{provider}_api_key"] = result["api_key"]
    return result


def _check_cancel(context: Any) -> None:
    if context.cancel is not None and context.cancel.is_cancelled():
        raise Cancelled("Operation cancelled")


def _check_schema(result: LLMResult, schema: dict[str, Any]) -> LLMResult:
    content = result.content
    if isinstance(content, str):
        try:
            content = json.loads(content)
        except ValueError:
            raise _SchemaMismatch("LLM response does not match output_schema: "
                                  "response is not valid JSON") from None
    if not isinstance(content, (dict, list)):
        raise _SchemaMismatch("LLM response does not match output_schema: "
                              "response is not an object or array")
    errors = validate_schema(content, schema)
    if errors:
        raise _SchemaMismatch(f"LLM response does not match output_schema: {errors[0]}")
    return msgspec.structs.replace(result, content=content)


def _chunk_progress(context: Any) -> Callable[[str], None]:
    """Turn stream chunks into throttled progress events."""
    interval = float(getattr(context.settings, "progress_interval_s", 0.5) or 0.5)
    received = [0, 0.0]

    def on_chunk(text: str) -> None:
        received[0] += len(text)
        now = time.monotonic()
        if now - received[1] >= interval:
            received[1] = now
            context.progress("Receiving response", {"characters": received[0]})

    return on_chunk
