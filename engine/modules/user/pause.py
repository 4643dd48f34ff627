"""`user.pause`: a debugging stop that shows selected state (MOD-pause-1)."""

from __future__ import annotations

from typing import Any, ClassVar

from engine.errors import EngineError
from engine.jsonutil import canonical_json, normalize
from engine.modules.base import (
    ExecutionContext,
    InteractionRequestResult,
    InteractiveModule,
    ModuleInput,
    ModuleOutput,
)
from engine.wire import InteractionRequest, InteractionResponseData

MAX_VALUE_CHARS = 1000


def debug_text(inputs: dict[str, Any], context: ExecutionContext) -> str:
    state = dict(context.state)
    lines = []
    for key in inputs.get("show_state") or []:
        value = state.get(key) if isinstance(key, str) else None
        text = canonical_json(normalize(value)).decode("utf-8")[:MAX_VALUE_CHARS]
        lines.append(str(key) + ": " + text)
    test = inputs.get("jinja2_test")
    if test is not None:
        try:
            rendered = context.templates.render(test, {"state": state})
        except EngineError as exc:
            rendered = "Error: " + exc.message
        lines.append("jinja2_test result: " + rendered)
    return "\n".join(lines)


class UserPauseModule(InteractiveModule):
    module_id: ClassVar[str] = "user.pause"
    interaction_type: ClassVar[str | None] = "text_input"
    inputs = (
        ModuleInput(name="message", type="string", required=False,
                    default="Press Enter to continue..."),
        ModuleInput(name="show_state", type="array", required=False, default=[]),
        ModuleInput(name="jinja2_test", type="string", required=False, default=None),
    )
    outputs = (ModuleOutput(name="confirmed", type="boolean"),)

    def get_interaction_request(self, inputs: dict[str, Any],
                                context: ExecutionContext) -> InteractionRequestResult:
        request = InteractionRequest(
            interaction_id=context.new_id("pause_"),
            interaction_type="text_input",
            title=inputs.get("message") or "Press Enter to continue...",
            multiline=True,
            allow_empty=True,
            default_value=debug_text(inputs, context),
            context={"pause": True},
        )
        return InteractionRequestResult(request=request)

    def execute_with_response(self, inputs: dict[str, Any], context: ExecutionContext,
                              response: InteractionResponseData,
                              module_state: dict[str, Any]) -> dict[str, Any]:
        return {"confirmed": True}
