"""Selections (`user.select`): which displayed items can be picked, and the answer's shape.

The selectable items are the ones the UI shows as selectable: the elements of a top-level array,
or of the arrays whose items are marked `selectable` in the display schema, in schema order —
the engine's own reading of a select request (engine/autorespond.py), reused here. The answer
uses the shapes the workflows' templates expect: one selection is its path unwrapped (`[2]`,
`["scenes", 0]`), several are a list of paths (`[0, 2]`, `[["detected", 0], ["detected", 1]]`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from client.answer_core import AnswerContext
from client.errors import AnswerError
from engine import InteractionResponseData, lookup, selection_candidates

Path = Sequence[Any]
Items = list[tuple[list[Any], Any]]


def displayed_items(ctx: AnswerContext) -> Items:
    """(path, item) of every selectable item of a select request, in display order."""
    display = ctx.request.display_data or {}
    data = display.get("data")
    return [(list(path), lookup(data, list(path)))
            for path in selection_candidates(display.get("schema"), data)]


def is_multi(ctx: AnswerContext) -> bool:
    multi = (ctx.request.display_data or {}).get("multi_select")
    return multi if isinstance(multi, bool) else ctx.request.max_selections != 1


def select_answer(ctx: AnswerContext, label: str, pick: Callable[[Items], list[list[Any]]],
                  *, first_only: bool = False) -> InteractionResponseData:
    items = displayed_items(ctx)
    if not items:
        raise AnswerError(f"{label}: {ctx.describe()} displays no selectable items")
    try:
        paths = pick(items)
    except AnswerError as exc:
        raise AnswerError(f"{label}: {exc} in {ctx.describe()}") from None
    unique: list[list[Any]] = []
    for path in paths:
        if path not in unique:
            unique.append(path)
    multi = is_multi(ctx)
    if not multi and first_only:
        unique = unique[:1]
    if not multi and len(unique) != 1:
        raise AnswerError(f"{label}: {ctx.describe()} takes one selection, got {len(unique)}")
    if (ctx.request.display_data or {}).get("mode", "select") == "select":
        low, high = ctx.request.min_selections, ctx.request.max_selections
        if len(unique) < low or (high != -1 and len(unique) > high):
            limit = f"{low}…{'any' if high == -1 else high}"
            raise AnswerError(f"{label}: {ctx.describe()} takes {limit} selections, "
                              f"got {len(unique)}")
    if multi:
        return InteractionResponseData(selected_indices=[p[0] if len(p) == 1 else p
                                                         for p in unique])
    return InteractionResponseData(selected_indices=list(unique[0]))


__all__ = ["Items", "Path", "displayed_items", "is_multi", "select_answer"]
