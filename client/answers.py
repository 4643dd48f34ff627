"""Answer helpers: say *what* to answer; the right `InteractionResponseData` is built against
the pending interaction when the answer is sent.

    await client.respond(choose_id("cat"))
    await client.respond(fill_form(rating=5))
    await client.respond(pick_media(0).after("image_generation", {"provider": "leonardo", ...}))

Each helper names the interaction types it fits and checks what it can see in the request
(selectable items, selection limits, retry and jump options, generated media) so a mistake is an
`AnswerError` naming the interaction, not a `validation_failed` three calls later. What only the
server can judge (patterns, schemas) is still checked there. `after(sub_action_id, params)`
makes a walk run a sub-action (for example a media generation) before answering.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Any, cast

from client.answer_core import (
    ANY_TYPE,
    SELECT_TYPES,
    Answer,
    AnswerContext,
    SubActionCall,
    as_response,
)
from client.answers_media import pick_media, proceed
from client.answers_nav import jump_back, retry
from client.answers_select import Items, Path, select_answer
from client.errors import AnswerError
from engine import InteractionResponseData

# ---------------------------------------------------------------- selections


def choose(*picks: int | Path) -> Answer:
    """Select by position: an int is the n-th selectable item as displayed (for data like
    `{"scenes": [...]}` too); a tuple or list is an explicit path such as `("scenes", 2)`."""
    if not picks:
        raise AnswerError("choose() needs at least one index")
    def pick(items: Items) -> list[list[Any]]:
        return _by_position(items, picks)

    return Answer(f"choose{picks}", SELECT_TYPES, lambda ctx: select_answer(ctx, "choose", pick))


def choose_id(*ids: Any, key: str = "id") -> Answer:
    """Select the displayed items whose `key` field equals one of `ids` (in that order)."""
    if not ids:
        raise AnswerError("choose_id() needs at least one id")

    def pick(items: Items) -> list[list[Any]]:
        paths = []
        for wanted in ids:
            found = [p for p, item in items if isinstance(item, dict) and item.get(key) == wanted]
            if not found:
                shown = [item.get(key) for _, item in items if isinstance(item, dict)]
                raise AnswerError(f"no item with {key}={wanted!r} (there are {shown})")
            paths.append(found[0])
        return paths

    return Answer(f"choose_id{ids}", SELECT_TYPES,
                  lambda ctx: select_answer(ctx, "choose_id", pick))


def choose_where(predicate: Callable[[Any], bool], *, limit: int | None = None) -> Answer:
    """Select the displayed items the predicate accepts: the first one on a single selection,
    all of them (at most `limit`) on a multiple selection."""

    def pick(items: Items) -> list[list[Any]]:
        paths = [p for p, item in items if predicate(item)]
        if not paths:
            raise AnswerError("no displayed item matches the predicate")
        return paths if limit is None else paths[:limit]

    return Answer("choose_where", SELECT_TYPES,
                  lambda ctx: select_answer(ctx, "choose_where", pick, first_only=True))


def _by_position(items: Items, picks: Sequence[int | Path]) -> list[list[Any]]:
    paths = [p for p, _ in items]
    chosen: list[list[Any]] = []
    for pick in picks:
        if isinstance(pick, int) and not isinstance(pick, bool):
            if not 0 <= pick < len(paths):
                raise AnswerError(f"index {pick} is out of range ({len(paths)} selectable items)")
            chosen.append(paths[pick])
        else:
            path = list(cast(Sequence[Any], pick))
            if path not in paths:
                raise AnswerError(f"{path} is not a selectable item (there are {paths[:8]}…)")
            chosen.append(path)
    return chosen


def accept() -> Answer:
    """Acknowledge a review (`review_grouped`): nothing selected."""
    return Answer("accept()", frozenset({"review_grouped"}), lambda _ctx: InteractionResponseData())


# ---------------------------------------------------------------- forms, text and files


def fill_form(rows: Sequence[dict[str, Any]] | Callable[[dict[str, Any], int], dict[str, Any]]
              | None = None, **fields: Any) -> Answer:
    """Fill a form: `rows` (one dict per form row, or a function of the row's defaults and
    index) over the displayed defaults; `fields` are set in every row."""

    def make(ctx: AnswerContext) -> InteractionResponseData:
        defaults = [dict(d) if isinstance(d, dict) else {} for d in ctx.request.form_defaults]
        props = (ctx.request.form_schema or {}).get("properties") or {}
        unknown = sorted(set(fields) - set(props)) if props else []
        if unknown:
            raise AnswerError(f"{ctx.describe()} has no field {unknown} (fields: {sorted(props)})")
        if isinstance(rows, Sequence):
            if len(rows) != len(defaults):
                raise AnswerError(f"{ctx.describe()} has {len(defaults)} rows, "
                                  f"fill_form got {len(rows)}")
            given = [dict(r) for r in rows]
        elif callable(rows):
            given = [dict(rows(dict(d), i)) for i, d in enumerate(defaults)]
        else:
            given = [{} for _ in defaults]
        return InteractionResponseData(form_data=[{**d, **g, **fields}
                                                  for d, g in zip(defaults, given, strict=True)])

    return Answer("fill_form", frozenset({"form_input"}), make)


def type_text(value: str) -> Answer:
    """Type `value` into a text input."""

    def make(ctx: AnswerContext) -> InteractionResponseData:
        if value == "" and not ctx.request.allow_empty:
            raise AnswerError(f"{ctx.describe()} does not accept an empty value")
        return InteractionResponseData(value=value)

    return Answer(f"type_text({value[:20]!r})", frozenset({"text_input"}), make)


def upload(content: bytes, mime: str, file_name: str = "") -> Answer:
    """Answer a file input with `content` (sent as a data URL, the only form it accepts)."""
    url = f"data:{mime};base64," + base64.b64encode(content).decode()
    return Answer("upload", frozenset({"file_input"}),
                  lambda _ctx: InteractionResponseData(value=url, file_path=file_name))


def download(path: str | None = None) -> Answer:
    """Confirm a file download as written (at `path`, default the offered file name)."""
    return Answer("download", frozenset({"file_download"}), lambda ctx: InteractionResponseData(
        file_written=True, file_path=path if path is not None else ctx.request.file_name))


def respond_with(**wire_fields: Any) -> Answer:
    """Any `InteractionResponseData` fields, for what no helper covers (no checks)."""
    return Answer("respond_with", ANY_TYPE, lambda _ctx: as_response(wire_fields, None))

__all__ = ["Answer", "AnswerContext", "SubActionCall", "accept", "as_response", "choose",
           "choose_id", "choose_where", "download", "fill_form", "jump_back", "pick_media",
           "proceed", "respond_with", "retry", "type_text", "upload"]
