"""`io.render_template`: the resolver already rendered the input; pass it through (MOD-rt-1)."""

from __future__ import annotations

from typing import Any, ClassVar

from engine.modules.base import ExecutableModule, ExecutionContext, ModuleInput, ModuleOutput


class IoRenderTemplateModule(ExecutableModule):
    module_id: ClassVar[str] = "io.render_template"
    inputs = (ModuleInput(name="template", type="any"),)
    outputs = (ModuleOutput(name="rendered"),)

    def execute(self, inputs: dict[str, Any], context: ExecutionContext) -> dict[str, Any]:
        return {"rendered": inputs["template"]}
