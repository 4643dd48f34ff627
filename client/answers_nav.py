"""Navigation answers: retry a module with feedback, or jump back to an earlier one.

Both are answers to the pending interaction (engine.md §9: the response's intent). Where the
request shows the module's `retryable` options (selections and media), the helper checks that a
matching retry or jump option exists and names it in `action_id`, as the web UI does.
"""

from __future__ import annotations

from typing import Any

from client.answer_core import Answer, AnswerContext
from client.errors import AnswerError
from engine import InteractionResponseData


def retry(feedback: str = "", *, option: str | None = None,
          groups: list[Any] | None = None) -> Answer:
    """Ask for the module (or its `target_module`) to run again, with `feedback` for the LLM."""

    def make(ctx: AnswerContext) -> InteractionResponseData:
        options = ctx.options()
        action_id = option
        if options is not None:
            retries = [o for o in options if str(o.get("mode", "")).startswith("retry")]
            if option is not None:
                retries = [o for o in retries if o.get("id") == option]
            if not retries:
                raise AnswerError(f"retry: {ctx.describe()} has no retry option"
                                  + (f" {option!r}" if option else "")
                                  + f" (options: {[o.get('id') for o in options]})")
            action_id = str(retries[0].get("id"))
        return InteractionResponseData(retry_requested=True, retry_feedback=feedback,
                                       retry_groups=list(groups or []), action_id=action_id)

    return Answer(f"retry({feedback[:20]!r})", frozenset(), make)


def jump_back(target: str) -> Answer:
    """Go back to an earlier module: `target` is a jump option's id or its target module."""

    def make(ctx: AnswerContext) -> InteractionResponseData:
        options = ctx.options()
        action_id = None
        if options is not None:
            jumps = [o for o in options if o.get("mode") == "jump"]
            match = next((o for o in jumps
                          if target in (o.get("id"), o.get("target_module"))), None)
            if match is None:
                shown = [(o.get("id"), o.get("target_module")) for o in jumps]
                raise AnswerError(f"jump_back: {ctx.describe()} cannot jump to {target!r} "
                                  f"(jump options: {shown})")
            action_id = str(match.get("id"))
        return InteractionResponseData(jump_back_requested=True, jump_back_target=target,
                                       action_id=action_id)

    return Answer(f"jump_back({target!r})", frozenset(), make)


__all__ = ["jump_back", "retry"]
