"""`transform.concat_arrays`: concatenate arrays in order (MOD-ca-1)."""

from __future__ import annotations

from typing import Any, ClassVar

from engine.modules.base import (
    ExecutableModule,
    ExecutionContext,
    ModuleExecutionError,
    ModuleInput,
    ModuleOutput,
)


class ConcatArraysModule(ExecutableModule):
    module_id: ClassVar[str] = "transform.concat_arrays"
    inputs = (ModuleInput(name="arrays", type="array"),)
    outputs = (ModuleOutput(name="result", type="array"),)

    def execute(self, inputs: dict[str, Any], context: ExecutionContext) -> dict[str, Any]:
        result: list[Any] = []
        for index, element in enumerate(inputs["arrays"]):
            if not isinstance(element, list):
                raise ModuleExecutionError(f"arrays[{index}] is not an array")
            result.extend(element)
        return {"result": result}
