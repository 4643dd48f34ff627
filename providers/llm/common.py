"""Vendor-neutral pieces of a live LLM call: keys, parameter hygiene, images, JSON parsing.

Keeping them out of the vendor clients means PRV-6/7/9 behave identically for OpenAI and
Anthropic, and each client file only holds its vendor's wire shapes.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import re
from typing import Any, Mapping

from engine.provider_types import (
    ContentPart,
    InvalidRequestError,
    LLMRequest,
    Message,
    ModelCapabilities,
    ProviderError,
    ProviderUnavailable,
)
from providers.credentials import missing_key_message

IMAGE_TYPES = ("image_url", "image_base64", "image_path")
_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)
_MAGIC = ((b"\x89PNG", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif"),
          (b"RIFF", "image/webp"))
#: vendors refuse larger inline images; refusing early gives a clear, non-retryable error
MAX_IMAGE_BYTES = 20 * 1024 * 1024


def require_key(credentials: Mapping[str, str] | None, provider_id: str) -> str:
    """PRV-1/PRV-9: the key comes from this call's credentials only, never the environment."""
    creds = credentials or {}
    key = creds.get(f"{provider_id}_api_key") or creds.get("api_key")
    if not isinstance(key, str) or not key.strip():
        raise ProviderUnavailable(missing_key_message(provider_id))
    return key.strip()


def has_images(messages: list[Message]) -> bool:
    return any(part.type in IMAGE_TYPES for m in messages for part in m.content)


def check_vision(request: LLMRequest, caps: ModelCapabilities) -> None:
    """PRV-6: image parts for a model without vision are a non-retryable request error."""
    if not caps.vision and has_images(request.messages):
        raise InvalidRequestError(f"Model '{request.model}' does not accept image inputs")


def clamp_max_tokens(value: int | None, caps: ModelCapabilities) -> int | None:
    if value is None:
        return None
    return max(1, min(int(value), caps.max_output_tokens))


def clamp_temperature(value: float | None, caps: ModelCapabilities,
                      upper: float = 2.0) -> float | None:
    """PRV-6: dropped for models flagged `temperature: false`, else clamped to 0…upper."""
    if value is None or not caps.temperature:
        return None
    return max(0.0, min(float(value), upper))


def effort(value: str | None, caps: ModelCapabilities, allowed: tuple[str, ...]) -> str | None:
    """PRV-6: dropped when the model has no reasoning effort or the value is not one we know."""
    if value is None or not caps.reasoning_effort:
        return None
    lowered = str(value).strip().lower()
    return lowered if lowered in allowed else None


def text_of(message: Message) -> str:
    return "\n".join(part.value for part in message.content if part.type == "text")


def schema_instruction(schema: Any) -> str:
    """PRV-7 fallback: the schema as text, appended to the last user message."""
    return ("\n\nRespond only with JSON that conforms to this JSON schema (no prose, no "
            "markdown):\n" + json.dumps(schema, indent=2, ensure_ascii=False))


def with_schema_text(messages: list[Message], schema: Any) -> list[Message]:
    """A copy whose last user message ends with the schema instruction (added if none)."""
    result = [Message(role=m.role, content=list(m.content)) for m in messages]
    part = ContentPart(type="text", value=schema_instruction(schema).lstrip("\n"))
    for message in reversed(result):
        if message.role == "user":
            message.content.append(part)
            return result
    result.append(Message(role="user", content=[part]))
    return result


def _sniff(data: bytes) -> str | None:
    for magic, media_type in _MAGIC:
        if data.startswith(magic):
            return media_type
    return None


def image_base64(part: ContentPart) -> tuple[str, str]:
    """(media type, base64 data) of an inline image part (`image_base64` or `image_path`)."""
    if part.type == "image_path":
        try:
            with open(part.value, "rb") as handle:
                data = handle.read(MAX_IMAGE_BYTES + 1)
        except OSError:
            raise InvalidRequestError("Image file could not be read") from None
        if len(data) > MAX_IMAGE_BYTES:
            raise InvalidRequestError("Image file is larger than 20 MB")
        media_type = _sniff(data) or mimetypes.guess_type(part.value)[0] or "image/png"
        return media_type, base64.b64encode(data).decode("ascii")
    value = part.value.strip()
    if value.startswith("data:"):
        header, _, payload = value.partition(",")
        media_type = header[5:].split(";", 1)[0] or "image/png"
        if ";base64" not in header:
            raise InvalidRequestError("Image data URL must be base64-encoded")
        return media_type, payload
    try:
        head = base64.b64decode(value[:64] + "=" * (-len(value[:64]) % 4))
    except ValueError:
        raise InvalidRequestError("Image data is not base64") from None
    return _sniff(head) or "image/png", value


def image_data_url(part: ContentPart) -> str:
    """A data URL for an inline part (a data URL is passed on as is)."""
    if part.type == "image_base64" and part.value.strip().startswith("data:"):
        return part.value.strip()
    media_type, data = image_base64(part)
    return f"data:{media_type};base64,{data}"


def strip_fences(text: str) -> str:
    match = _FENCE.match(text)
    return match.group(1).strip() if match else text.strip()


def parse_content(text: str, output_schema: dict[str, Any] | None) -> Any:
    """PRV-7: with a schema, the fence-stripped text parsed as JSON (retryable on failure)."""
    if output_schema is None:
        return text
    try:
        return json.loads(strip_fences(text))
    except ValueError:
        raise ProviderError("LLM response is not valid JSON", retryable=True,
                            error_code="invalid_json") from None
