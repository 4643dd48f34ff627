"""Anthropic Messages request bodies with parameter hygiene (PRV-6) and PRV-7.

System messages become the separate `system` blocks, `max_tokens` is always sent (the model
maximum when absent), `reasoning_effort` becomes an extended-thinking budget, and structured
output uses the output-format schema after sanitising (providers.md §3.1 vendor notes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.provider_types import ContentPart, LLMRequest, Message, ModelCapabilities
from providers.llm.common import (
    IMAGE_TYPES,
    check_vision,
    clamp_max_tokens,
    clamp_temperature,
    effort,
    image_base64,
    text_of,
    with_schema_text,
)
from providers.llm.schemas import anthropic_schema, is_object_schema

API_VERSION = "2023-06-01"
STRUCTURED_OUTPUT_BETA = "structured-outputs-2025-11-13"
THINKING_BUDGETS = {"low": 2048, "medium": 8192, "high": 24576}
_CACHE = {"type": "ephemeral"}


@dataclass(frozen=True)
class Prepared:
    body: dict[str, Any]
    beta: str | None = None


def _block(part: ContentPart) -> dict[str, Any]:
    if part.type == "text":
        return {"type": "text", "text": part.value}
    if part.type == "image_url":
        return {"type": "image", "source": {"type": "url", "url": part.value}}
    media_type, data = image_base64(part)
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def _conversation(messages: list[Message]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(system blocks, turns). Consecutive turns of one role are merged, as the API expects
    alternating roles; images in system messages lead the first user turn."""
    system: list[dict[str, Any]] = []
    leading_images: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            if text_of(message).strip():
                system.append({"type": "text", "text": text_of(message)})
            leading_images.extend(_block(p) for p in message.content if p.type in IMAGE_TYPES)
            continue
        blocks = [_block(p) for p in message.content]
        if turns and turns[-1]["role"] == message.role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": message.role, "content": blocks})
    if leading_images:
        if turns and turns[0]["role"] == "user":
            turns[0]["content"][:0] = leading_images
        else:
            turns.insert(0, {"role": "user", "content": leading_images})
    return system, turns


def prepare(request: LLMRequest, caps: ModelCapabilities, *, stream: bool) -> Prepared:
    check_vision(request, caps)
    messages = request.messages
    output_format: dict[str, Any] | None = None
    schema = request.output_schema
    if schema is not None:
        if caps.structured_output and is_object_schema(schema):
            output_format = {"type": "json_schema", "schema": anthropic_schema(schema)}
        else:
            messages = with_schema_text(messages, schema)
    system, turns = _conversation(messages)
    if system and request.cache_system_message:
        system[-1]["cache_control"] = dict(_CACHE)
    if request.cache_user_prefix:
        first_user = next((t for t in turns if t["role"] == "user" and t["content"]), None)
        if first_user is not None:
            first_user["content"][-1]["cache_control"] = dict(_CACHE)
    max_tokens = clamp_max_tokens(request.max_tokens, caps) or caps.max_output_tokens
    temperature = clamp_temperature(request.temperature, caps, upper=1.0)
    body: dict[str, Any] = {"model": request.model, "max_tokens": max_tokens, "messages": turns}
    budget = THINKING_BUDGETS.get(effort(request.reasoning_effort, caps, tuple(THINKING_BUDGETS))
                                  or "")
    if budget:
        # the budget counts against max_tokens, so the answer keeps the room it asked for
        if max_tokens <= budget:
            max_tokens = min(caps.max_output_tokens, budget + max_tokens)
        if max_tokens > budget:
            body["max_tokens"] = max_tokens
            body["thinking"] = {"type": "enabled", "budget_tokens": budget}
            temperature = None      # extended thinking accepts only the default temperature
    if system:
        body["system"] = system
    if temperature is not None:
        body["temperature"] = temperature
    if output_format is not None:
        body["output_format"] = output_format
    if stream:
        body["stream"] = True
    return Prepared(body=body, beta=STRUCTURED_OUTPUT_BETA if output_format else None)
