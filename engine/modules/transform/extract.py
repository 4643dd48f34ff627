"""`transform.extract`: expose resolved inputs as outputs for `outputs_to_state` (MOD-ex-1)."""

from __future__ import annotations

from typing import Any, ClassVar

from engine.modules.base import ExecutableModule, ExecutionContext


class ExtractModule(ExecutableModule):
    module_id: ClassVar[str] = "transform.extract"
    accepts_undeclared_inputs: ClassVar[bool] = True

    def execute(self, inputs: dict[str, Any], context: ExecutionContext) -> dict[str, Any]:
        return {name: value for name, value in inputs.items() if not name.startswith("_")}
