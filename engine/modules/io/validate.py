"""`io.validate`: check selected state keys against a JSON Schema (MOD-val-1)."""

from __future__ import annotations

from typing import Any, ClassVar

from engine.modules.base import (
    ExecutableModule,
    ExecutionContext,
    ModuleExecutionError,
    ModuleInput,
    ModuleOutput,
)
from engine.validation import validate_schema


class IoValidateModule(ExecutableModule):
    module_id: ClassVar[str] = "io.validate"
    inputs = (
        ModuleInput(name="schema", type="object"),
        ModuleInput(name="state_keys", type="array"),
        ModuleInput(name="strict", type="boolean", required=False, default=False),
        ModuleInput(name="error_message", type="string", required=False, default=None),
    )
    outputs = (ModuleOutput(name="valid", type="boolean"), ModuleOutput(name="errors", type="array"))

    def execute(self, inputs: dict[str, Any], context: ExecutionContext) -> dict[str, Any]:
        keys = inputs["state_keys"]
        if not all(isinstance(key, str) for key in keys):
            raise ModuleExecutionError("state_keys must be strings",
                                       error_type="input_validation_failed")
        instance = {key: context.state.get(key) for key in keys}
        errors = validate_schema(instance, inputs["schema"])
        if errors and inputs.get("strict"):
            raise ModuleExecutionError(inputs.get("error_message")
                                       or "Validation failed: " + "; ".join(errors))
        return {"valid": not errors, "errors": errors}
