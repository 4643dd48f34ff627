"""The answer object behind the helpers of client/answers.py.

An `Answer` is deferred: it is built into the wire `InteractionResponseData` only when it is
sent, against the pending `InteractionRequest` (and the media generated for it so far), so it
can check that it fits and pick items by what is displayed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import msgspec

from client.errors import AnswerError
from engine import InteractionRequest, InteractionResponseData

SELECT_TYPES = frozenset({"select_from_structured", "review_grouped"})
ANY_TYPE: frozenset[str] = frozenset()


@dataclass(frozen=True)
class SubActionCall:
    """A sub-action a walk runs before sending the answer."""

    sub_action_id: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AnswerContext:
    """What an answer is built against: the request and the media generated for it so far."""

    request: InteractionRequest
    generated: Sequence[dict[str, Any]] = ()

    def options(self) -> list[dict[str, Any]] | None:
        """The module's `retryable` options as displayed (selections and media show them, `[]`
        when the module has none); None when the request type does not show them (then only
        the server can tell whether a retry or a jump fits)."""
        display = self.request.display_data or {}
        if "retryable" not in display:
            return None
        retryable = display["retryable"] if isinstance(display["retryable"], dict) else {}
        return [o for o in retryable.get("options") or [] if isinstance(o, dict)]

    def describe(self) -> str:
        module = self.request.context.get("module_name") or "?"
        return (f"interaction {self.request.interaction_id} of {module} "
                f"({self.request.interaction_type})")


@dataclass(frozen=True)
class Answer:
    """A deferred answer: `build` turns it into the wire answer for one pending interaction."""

    label: str
    kinds: frozenset[str]
    make: Callable[[AnswerContext], InteractionResponseData]
    before: tuple[SubActionCall, ...] = ()

    def build(self, request: InteractionRequest,
              generated: Sequence[dict[str, Any]] = ()) -> InteractionResponseData:
        ctx = AnswerContext(request, generated)
        if self.kinds and request.interaction_type not in self.kinds:
            raise AnswerError(f"{self.label} answers {', '.join(sorted(self.kinds))}; "
                              f"the pending one is {ctx.describe()}")
        return self.make(ctx)

    def after(self, sub_action_id: str, params: dict[str, Any] | None = None) -> Answer:
        """The same answer, with a sub-action run first when a walk sends it."""
        call = SubActionCall(sub_action_id, dict(params or {}))
        return replace(self, before=(*self.before, call))


def same_interaction(pending: InteractionRequest | None,
                     interaction_id: str) -> InteractionRequest | None:
    """The pending request if it is the one being answered (helpers build against it)."""
    return pending if pending is not None and pending.interaction_id == interaction_id else None


def as_response(answer: Answer | InteractionResponseData | dict[str, Any],
                request: InteractionRequest | None,
                generated: Sequence[dict[str, Any]] = ()) -> InteractionResponseData:
    """Any accepted answer form as the wire struct (helpers need the pending request)."""
    if isinstance(answer, InteractionResponseData):
        return answer
    if isinstance(answer, Answer):
        if request is None:
            raise AnswerError(f"{answer.label}: helpers answer the pending interaction; "
                              "answer another one with a wire answer (a dict)")
        return answer.build(request, generated)
    if isinstance(answer, dict):
        try:
            return msgspec.convert(answer, InteractionResponseData)
        except msgspec.ValidationError as exc:
            raise AnswerError(f"not an InteractionResponseData: {exc}") from None
    raise AnswerError(f"cannot answer with a {type(answer).__name__}")


__all__ = ["ANY_TYPE", "Answer", "AnswerContext", "SELECT_TYPES", "SubActionCall", "as_response",
           "same_interaction"]
