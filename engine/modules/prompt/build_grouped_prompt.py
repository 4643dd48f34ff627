"""`prompt.build_grouped_prompt`: shared instructions plus each selected group's text (MOD-bgp-1)."""

from __future__ import annotations

from typing import Any, ClassVar

from engine.modules.base import ExecutableModule, ExecutionContext, ModuleInput, ModuleOutput
from engine.modules.prompt.groups import selected_groups


class BuildGroupedPromptModule(ExecutableModule):
    module_id: ClassVar[str] = "prompt.build_grouped_prompt"
    inputs = (
        ModuleInput(name="shared_instructions", type="string"),
        ModuleInput(name="data", type="array|object", required=False, default=None),
        ModuleInput(name="selected_indices", type="array", required=False, default=None),
        ModuleInput(name="selected_group_configs", type="array", required=False, default=None),
    )
    outputs = (ModuleOutput(name="merged_prompt", type="string"),)

    def execute(self, inputs: dict[str, Any], context: ExecutionContext) -> dict[str, Any]:
        parts = [inputs["shared_instructions"]]
        for _, group in selected_groups(inputs.get("data"), inputs.get("selected_indices"),
                                        inputs.get("selected_group_configs")):
            text = group.get("prompt_instructions") if isinstance(group, dict) else None
            if isinstance(text, str) and text:
                parts.append(text)
        return {"merged_prompt": "\n\n".join(parts)}
