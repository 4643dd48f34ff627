"""`transform.conditional_text`: choose a text by the emptiness of a value (MOD-ct-1)."""

from __future__ import annotations

from typing import Any, ClassVar

from engine.jsonutil import canonical_json
from engine.modules.base import ExecutableModule, ExecutionContext, ModuleInput, ModuleOutput

PLACEHOLDER = "$state.condition_value"


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


class ConditionalTextModule(ExecutableModule):
    module_id: ClassVar[str] = "transform.conditional_text"
    inputs = (
        ModuleInput(name="condition_value", type="any", required=False, default=None),
        ModuleInput(name="text_if_not_empty", type="string"),
        ModuleInput(name="text_if_empty", type="string", required=False, default=""),
    )
    outputs = (ModuleOutput(name="result", type="string"),)

    def execute(self, inputs: dict[str, Any], context: ExecutionContext) -> dict[str, Any]:
        value = inputs.get("condition_value")
        if is_empty(value):
            return {"result": inputs.get("text_if_empty") or ""}
        text = value if isinstance(value, str) else canonical_json(value).decode("utf-8")
        # literal replacement only: user text is never used as a format string (SEC-9)
        return {"result": inputs["text_if_not_empty"].replace(PLACEHOLDER, text)}
