"""OpenAI request bodies for both endpoints, with parameter hygiene (PRV-6) and PRV-7.

Pure functions of the request and the model's capabilities, so tests can check exactly what
would be sent; only image parts with local paths touch the file system.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from engine.provider_types import (
    ContentPart,
    InvalidRequestError,
    LLMRequest,
    Message,
    ModelCapabilities,
)
from providers.llm.common import (
    IMAGE_TYPES,
    check_vision,
    clamp_max_tokens,
    clamp_temperature,
    effort,
    image_data_url,
    text_of,
    with_schema_text,
)
from providers.llm.schemas import is_object_schema, openai_strict_schema

EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
_ENDPOINTS = {"responses": "responses", "completions": "completions", "chat": "completions",
              "chat_completions": "completions", "chat.completions": "completions"}
_METADATA_KEYS, _METADATA_KEY_LEN, _METADATA_VALUE_LEN = 16, 64, 512


@dataclass(frozen=True)
class Prepared:
    endpoint: str              # "responses" | "completions"
    body: dict[str, Any]


def endpoint_for(request: LLMRequest, caps: ModelCapabilities) -> str:
    name = (request.api_endpoint or caps.api_endpoint or "responses").strip().lower()
    if name not in _ENDPOINTS:
        raise InvalidRequestError(f"Unknown OpenAI api_endpoint '{name}'")
    return _ENDPOINTS[name]


def _image_url(part: ContentPart) -> str:
    return part.value if part.type == "image_url" else image_data_url(part)


def _cache_key(request: LLMRequest) -> str | None:
    """Prompt-caching hint: requests sharing the cached prefix share a `prompt_cache_key`."""
    if not (request.cache_system_message or request.cache_user_prefix):
        return None
    prefix = [text_of(m) for m in request.messages if m.role == "system"]
    if request.cache_user_prefix:
        first_user = next((m for m in request.messages if m.role == "user"), None)
        if first_user is not None:
            prefix.append(text_of(first_user))
    digest = hashlib.sha256("\x1e".join(prefix).encode("utf-8")).hexdigest()
    return "wfe-" + digest[:40]


def _metadata(metadata: dict[str, Any] | None) -> dict[str, str] | None:
    """OpenAI metadata takes at most 16 string pairs; anything else is trimmed, not refused."""
    if not metadata:
        return None
    result: dict[str, str] = {}
    for key, value in list(metadata.items())[:_METADATA_KEYS]:
        text = value if isinstance(value, str) else str(value)
        result[str(key)[:_METADATA_KEY_LEN]] = text[:_METADATA_VALUE_LEN]
    return result


def _schema_format(request: LLMRequest, caps: ModelCapabilities) -> tuple[list[Message], Any]:
    """(messages, format): a strict `json_schema` format named `output_schema` when the model
    supports it and the root is an object; otherwise the schema text goes into the prompt and
    JSON mode is asked for (only possible for object roots)."""
    schema = request.output_schema
    if schema is None:
        return request.messages, None
    if caps.structured_output and is_object_schema(schema):
        prepared, strict = openai_strict_schema(schema)
        return request.messages, {"type": "json_schema", "name": "output_schema",
                                  "schema": prepared, "strict": strict}
    messages = with_schema_text(request.messages, schema)
    return messages, ({"type": "json_object"} if is_object_schema(schema) else None)


def _responses_input(messages: list[Message]) -> tuple[str | None, list[dict[str, Any]]]:
    instructions: list[str] = []
    items: list[dict[str, Any]] = []
    for message in messages:
        images = [p for p in message.content if p.type in IMAGE_TYPES]
        if message.role == "system":
            if text_of(message).strip():
                instructions.append(text_of(message))
            parts = [_input_image(p) for p in images]
        elif message.role == "assistant":
            items.append({"role": "assistant", "content": text_of(message)})
            continue
        else:
            parts = [{"type": "input_text", "text": p.value} if p.type == "text"
                     else _input_image(p) for p in message.content]
        if parts:
            items.append({"role": "user", "content": parts})
    return ("\n\n".join(instructions) or None), items


def _input_image(part: ContentPart) -> dict[str, Any]:
    return {"type": "input_image", "image_url": _image_url(part), "detail": part.detail or "auto"}


def _chat_messages(messages: list[Message]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    for message in messages:
        images = [p for p in message.content if p.type in IMAGE_TYPES]
        if message.role in ("system", "assistant"):
            if text_of(message).strip():
                result.append({"role": message.role, "content": text_of(message)})
            if images and message.role == "system":
                result.append({"role": "user", "content": [_chat_image(p) for p in images]})
            continue
        result.append({"role": "user", "content": [
            {"type": "text", "text": p.value} if p.type == "text" else _chat_image(p)
            for p in message.content]})
    return result


def _chat_image(part: ContentPart) -> dict[str, Any]:
    return {"type": "image_url",
            "image_url": {"url": _image_url(part), "detail": part.detail or "auto"}}


def prepare(request: LLMRequest, caps: ModelCapabilities, *, stream: bool) -> Prepared:
    """The request body for the model's endpoint, after PRV-6 hygiene and PRV-7 formatting."""
    check_vision(request, caps)
    endpoint = endpoint_for(request, caps)
    messages, response_format = _schema_format(request, caps)
    temperature = clamp_temperature(request.temperature, caps)
    max_tokens = clamp_max_tokens(request.max_tokens, caps)
    reasoning = effort(request.reasoning_effort, caps, EFFORTS)
    body: dict[str, Any] = {"model": request.model}
    if endpoint == "responses":
        instructions, items = _responses_input(messages)
        body["input"] = items
        body["store"] = False
        if instructions:
            body["instructions"] = instructions
        if max_tokens is not None:
            body["max_output_tokens"] = max_tokens
        if reasoning is not None:
            body["reasoning"] = {"effort": reasoning}
        if response_format is not None:
            body["text"] = {"format": response_format}
        if _metadata(request.metadata):
            body["metadata"] = _metadata(request.metadata)
    else:
        body["messages"] = _chat_messages(messages)
        if max_tokens is not None:
            body["max_completion_tokens"] = max_tokens
        if reasoning is not None:
            body["reasoning_effort"] = reasoning
        if response_format is not None:
            body["response_format"] = _chat_format(response_format)
        if stream:
            body["stream_options"] = {"include_usage": True}
    if temperature is not None:
        body["temperature"] = temperature
    cache_key = _cache_key(request)
    if cache_key is not None:
        body["prompt_cache_key"] = cache_key
    if stream:
        body["stream"] = True
    return Prepared(endpoint=endpoint, body=body)


def _chat_format(response_format: dict[str, Any]) -> dict[str, Any]:
    if response_format["type"] != "json_schema":
        return response_format
    return {"type": "json_schema",
            "json_schema": {"name": response_format["name"], "schema": response_format["schema"],
                            "strict": response_format["strict"]}}
