"""OpenAI wire shapes for the fake server: Responses and Chat Completions, JSON and SSE."""

from __future__ import annotations

from typing import Any

from tests.fakes_http.server import Reply

RESPONSES = "/v1/responses"
CHAT = "/v1/chat/completions"


def responses_body(text: str, *, model: str = "gpt-4.1", input_tokens: int = 100,
                   output_tokens: int = 20, cached_tokens: int = 0, status: str = "completed",
                   incomplete_reason: str | None = None) -> dict[str, Any]:
    return {
        "id": "resp_fake", "object": "response", "status": status, "model": model,
        "incomplete_details": {"reason": incomplete_reason} if incomplete_reason else None,
        "output": [
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
             "content": [{"type": "output_text", "text": text, "annotations": []}]},
        ],
        "usage": {"input_tokens": input_tokens,
                  "input_tokens_details": {"cached_tokens": cached_tokens},
                  "output_tokens": output_tokens,
                  "output_tokens_details": {"reasoning_tokens": 0},
                  "total_tokens": input_tokens + output_tokens},
    }


def responses_stream(chunks: list[str], **usage: Any) -> list[tuple[str | None, Any]]:
    final = responses_body("".join(chunks), **usage)
    events: list[tuple[str | None, Any]] = [
        ("response.created", {"type": "response.created",
                              "response": {**final, "status": "in_progress", "output": []}})]
    for chunk in chunks:
        events.append(("response.output_text.delta",
                       {"type": "response.output_text.delta", "item_id": "msg_1",
                        "output_index": 1, "content_index": 0, "delta": chunk}))
    events.append(("response.completed", {"type": "response.completed", "response": final}))
    return events


def chat_body(text: str, *, model: str = "gpt-4o", prompt_tokens: int = 100,
              completion_tokens: int = 20, cached_tokens: int = 0,
              finish_reason: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl_fake", "object": "chat.completion", "model": model,
        "choices": [{"index": 0, "finish_reason": finish_reason,
                     "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens,
                  "prompt_tokens_details": {"cached_tokens": cached_tokens}},
    }


def chat_stream(chunks: list[str], *, model: str = "gpt-4o", prompt_tokens: int = 100,
                completion_tokens: int = 20, cached_tokens: int = 0) -> list[tuple[str | None, Any]]:
    base = {"id": "chatcmpl_fake", "object": "chat.completion.chunk", "model": model}
    events: list[tuple[str | None, Any]] = [
        (None, {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                     "finish_reason": None}]})]
    for chunk in chunks:
        events.append((None, {**base, "choices": [{"index": 0, "delta": {"content": chunk},
                                                   "finish_reason": None}]}))
    events.append((None, {**base, "choices": [{"index": 0, "delta": {},
                                               "finish_reason": "stop"}]}))
    events.append((None, {**base, "choices": [], "usage": {
        "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": cached_tokens}}}))
    events.append((None, "[DONE]"))
    return events


def error_reply(status: int, message: str, *, code: str | None = None,
                type: str = "invalid_request_error", headers: dict[str, str] | None = None,
                delay_s: float = 0.0) -> Reply:
    return Reply(status=status, json={"error": {"message": message, "type": type, "code": code,
                                                "param": None}},
                 headers=headers or {}, delay_s=delay_s)
