"""Media generation answers: pick a generated item, or go on without one.

A `media_generation` interaction is answered with the chosen item's id and the generations it
came from, keyed `prompts.<provider>` as the web UI sends them. The generations are the results
of the sub-actions run for this interaction through the client (`Answer.after(...)` in a walk,
or `client.run_sub_action(...)`), oldest first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from client.answer_core import Answer, AnswerContext
from client.errors import AnswerError
from engine import InteractionResponseData

MEDIA = frozenset({"media_generation"})


def generated_items(ctx: AnswerContext) -> list[dict[str, Any]]:
    """Every generated item: {content_id, url, provider, metadata_id, prompt_id, result}."""
    items = []
    for result in ctx.generated:
        urls = list(result.get("urls") or [])
        for i, content_id in enumerate(result.get("content_ids") or []):
            items.append({"content_id": content_id, "url": urls[i] if i < len(urls) else None,
                          "provider": result.get("provider"), "prompt_id": result.get("prompt_id"),
                          "metadata_id": result.get("metadata_id"), "result": result})
    return items


def pick_media(index: int = 0, *, content_id: str | None = None,
               where: Callable[[dict[str, Any]], bool] | None = None,
               action_id: str = "continue") -> Answer:
    """Select a generated item: the `index`-th (across generations, oldest first), the one with
    `content_id`, or the first one `where` accepts (it sees the dicts of `generated_items`)."""

    def make(ctx: AnswerContext) -> InteractionResponseData:
        items = generated_items(ctx)
        if not items:
            raise AnswerError(f"pick_media: nothing was generated for {ctx.describe()}; run "
                              f"its sub-action first (pick_media().after(sub_action_id, params))")
        if content_id is not None:
            chosen = next((i for i in items if i["content_id"] == content_id), None)
        elif where is not None:
            chosen = next((i for i in items if where(i)), None)
        else:
            chosen = items[index] if -len(items) <= index < len(items) else None
        if chosen is None:
            raise AnswerError(f"pick_media: no such generated item among {len(items)} "
                              f"for {ctx.describe()}")
        generations: dict[str, list[dict[str, Any]]] = {}
        for result in ctx.generated:
            generations.setdefault(f"prompts.{result.get('provider')}", []).append(result)
        return InteractionResponseData(action_id=action_id,
                                       selected_content_id=chosen["content_id"],
                                       generations=generations)

    return Answer("pick_media", MEDIA, make)


def proceed(action_id: str = "continue", *, confirm_warnings: bool = True) -> Answer:
    """Take a displayed option (by default `continue`) without selecting anything, confirming
    the option's warnings (e.g. "no video generated") unless `confirm_warnings=False`."""

    def make(ctx: AnswerContext) -> InteractionResponseData:
        options = ctx.options()
        option: dict[str, Any] | None = None
        if options is not None:
            option = next((o for o in options if o.get("id") == action_id), None)
            if option is None:
                raise AnswerError(f"proceed: {ctx.describe()} has no option {action_id!r} "
                                  f"(options: {[o.get('id') for o in options]})")
        warnings = [v["id"] for v in (option or {}).get("validations") or []
                    if isinstance(v, dict) and v.get("severity") == "warning" and "id" in v]
        return InteractionResponseData(action_id=action_id,
                                       confirmed_warnings=warnings if confirm_warnings else [])

    return Answer(f"proceed({action_id!r})", frozenset(), make)


__all__ = ["generated_items", "pick_media", "proceed"]
