"""Anthropic Messages wire shapes for the fake server, JSON and SSE."""

from __future__ import annotations

from typing import Any

from tests.fakes_http.server import Reply

MESSAGES = "/v1/messages"


def _usage(input_tokens: int, output_tokens: int, cache_read: int,
           cache_creation: int) -> dict[str, Any]:
    return {"input_tokens": input_tokens, "output_tokens": output_tokens,
            "cache_read_input_tokens": cache_read,
            "cache_creation_input_tokens": cache_creation}


def messages_body(text: str, *, model: str = "claude-sonnet-4-5", input_tokens: int = 100,
                  output_tokens: int = 20, cache_read: int = 0, cache_creation: int = 0,
                  stop_reason: str = "end_turn", thinking: str | None = None) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if thinking is not None:
        content.append({"type": "thinking", "thinking": thinking, "signature": "sig"})
    content.append({"type": "text", "text": text})
    return {"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop_reason, "stop_sequence": None,
            "usage": _usage(input_tokens, output_tokens, cache_read, cache_creation)}


def messages_stream(chunks: list[str], *, model: str = "claude-sonnet-4-5",
                    input_tokens: int = 100, output_tokens: int = 20, cache_read: int = 0,
                    cache_creation: int = 0,
                    stop_reason: str = "end_turn") -> list[tuple[str | None, Any]]:
    start = {"type": "message_start", "message": {
        "id": "msg_fake", "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "usage": _usage(input_tokens, 1, cache_read, cache_creation)}}
    events: list[tuple[str | None, Any]] = [
        ("message_start", start),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
        ("ping", {"type": "ping"}),
    ]
    for chunk in chunks:
        events.append(("content_block_delta", {"type": "content_block_delta", "index": 0,
                                               "delta": {"type": "text_delta", "text": chunk}}))
    events += [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta",
                           "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                           "usage": {"output_tokens": output_tokens}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    return events


def error_reply(status: int, error_type: str, message: str, *,
                headers: dict[str, str] | None = None) -> Reply:
    return Reply(status=status, json={"type": "error", "error": {"type": error_type,
                                                                 "message": message}},
                 headers=headers or {})
