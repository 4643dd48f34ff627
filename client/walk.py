"""Walk a started run through a script of answers, on either client.

A script maps a module name (or `"step_id/module_name"`) to what to answer when that module
asks: one answer (used every time it asks, e.g. again after a retry) or a list (used in order,
one per ask). Answers are the helpers of client/answers.py, wire structs or plain dicts; an
answer built with `.after(sub_action_id, params)` runs that sub-action first (a media
generation before `pick_media`). The walk stops when nothing is pending, or at `stop_at`; an
interaction the script does not cover, a validation failure or an error is a `RunError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from client.answer_core import Answer
from client.errors import RunError
from client.sse import Frame
from engine import InteractionRequest, InteractionResponseData, StateView, WorkflowResponse

AnswerLike = Answer | InteractionResponseData | dict[str, Any]
Script = Mapping[str, "AnswerLike | Sequence[AnswerLike]"]
MAX_ANSWERS = 500


class RunClient(Protocol):
    """What a walk needs of a client (both `VirtualClient` and `ProductionClient` have it)."""

    last: Any
    run_id: str | None

    @property
    def pending(self) -> InteractionRequest | None: ...

    async def respond(self, answer: AnswerLike) -> Any: ...

    async def run_sub_action(self, sub_action_id: str,
                             params: dict[str, Any] | None = None) -> Frame: ...

    async def state(self) -> StateView: ...

    async def events(self) -> Any: ...


@dataclass
class WalkResult:
    """Where the walk ended: the last response, the state view and the lineage's event types."""

    run_id: str
    response: WorkflowResponse
    view: StateView
    event_types: list[str]
    answered: list[str] = field(default_factory=list)
    sub_actions: list[Frame] = field(default_factory=list)

    @property
    def status(self) -> str:
        """The run's status (a virtual run that reached its target may still be `processing`
        when the target is not the last module)."""
        return self.view.status

    @property
    def state(self) -> dict[str, Any]:
        return self.view.state


class _Queues:
    def __init__(self, script: Script) -> None:
        self._items: dict[str, Any] = {}
        for key, value in script.items():
            self._items[key] = list(value) if isinstance(value, (list, tuple)) else value

    def next_for(self, step_id: str, module_name: str) -> AnswerLike | None:
        for key in (f"{step_id}/{module_name}", module_name):
            if key not in self._items:
                continue
            value = self._items[key]
            if not isinstance(value, list):
                return value
            return value.pop(0) if value else None
        return None


def _where(request: InteractionRequest) -> tuple[str, str]:
    context = request.context or {}
    return str(context.get("step_id") or ""), str(context.get("module_name") or "")


async def walk(client: RunClient, script: Script, *, stop_at: str | None = None,
               max_answers: int = MAX_ANSWERS) -> WalkResult:
    """Answer the run's interactions from `script` until none is pending (or `stop_at`)."""
    queues = _Queues(script)
    answered: list[str] = []
    frames: list[Frame] = []
    _check(client.last)
    while (request := client.pending) is not None:
        step_id, module = _where(request)
        if module == stop_at:
            break
        if len(answered) >= max_answers:
            raise RunError(f"more than {max_answers} answers: is the script looping?", client.last)
        answer = queues.next_for(step_id, module)
        if answer is None:
            raise RunError(f"the script has no (more) answers for {step_id}/{module} "
                           f"({request.interaction_type}: {request.title!r})", client.last)
        for call in answer.before if isinstance(answer, Answer) else ():
            frame = await client.run_sub_action(call.sub_action_id, call.params)
            frames.append(frame)
            if frame.event != "complete":
                raise RunError(f"sub-action {call.sub_action_id} of {module} ended with "
                               f"{frame.event}: {frame.raw.get('message', '')}", frame)
        _check(await client.respond(answer))
        answered.append(module)
    view = await client.state()
    events = await client.events()
    return WalkResult(run_id=str(client.run_id), response=client.last, view=view,
                      event_types=[e.event_type for e in events.events], answered=answered,
                      sub_actions=frames)


def _check(response: Any) -> None:
    if not isinstance(response, WorkflowResponse):
        return
    if response.status == "validation_failed":
        problems = [f"{e.field or e.id}: {e.message}"
                    for e in response.validation_errors + response.validation_warnings]
        raise RunError("the answer was refused: " + "; ".join(problems), response)
    if response.status == "error":
        error_type = (response.result or {}).get("error_type")
        raise RunError(f"the run failed ({error_type}): {response.error}", response)


__all__ = ["RunClient", "Script", "WalkResult", "walk"]
