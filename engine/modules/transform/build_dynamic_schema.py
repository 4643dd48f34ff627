"""`transform.build_dynamic_schema`: merge the root schemas of the selected groups (MOD-bds-1)."""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from engine.modules.base import ExecutableModule, ExecutionContext, ModuleInput, ModuleOutput
from engine.modules.prompt.groups import selected_groups


def group_schema(key: str | None, group: Any, schema_key: str,
                 schema_paths: dict[str, Any] | None) -> Any:
    if isinstance(group, dict) and schema_key in group:
        return group[schema_key]
    if not schema_paths:
        return None
    if key is not None and key in schema_paths:
        return schema_paths[key]
    group_id = group.get("id") if isinstance(group, dict) else None
    return schema_paths.get(group_id) if isinstance(group_id, str) else None


class BuildDynamicSchemaModule(ExecutableModule):
    module_id: ClassVar[str] = "transform.build_dynamic_schema"
    inputs = (
        ModuleInput(name="data", type="array|object", required=False, default=None),
        ModuleInput(name="selected_indices", type="array", required=False, default=None),
        ModuleInput(name="selected_group_configs", type="array", required=False, default=None),
        ModuleInput(name="schema_key", type="string", required=False, default="schema"),
        ModuleInput(name="root_property", type="string", required=False, default="prompts"),
        ModuleInput(name="schema_paths", type="object", required=False, default=None),
        ModuleInput(name="wrapper_schema", type="object", required=False, default=None),
    )
    outputs = (ModuleOutput(name="merged_schema", type="object"),)

    def execute(self, inputs: dict[str, Any], context: ExecutionContext) -> dict[str, Any]:
        schema_key = inputs.get("schema_key") or "schema"
        root = inputs.get("root_property") or "prompts"
        properties: dict[str, Any] = {}
        required: list[str] = []
        for key, group in selected_groups(inputs.get("data"), inputs.get("selected_indices"),
                                          inputs.get("selected_group_configs")):
            schema = group_schema(key, group, schema_key, inputs.get("schema_paths"))
            if not isinstance(schema, dict):
                continue
            root_schema = (schema.get("properties") or {}).get(root)
            if not isinstance(root_schema, dict):
                continue
            properties.update(copy.deepcopy(root_schema.get("properties") or {}))
            for name in root_schema.get("required") or []:
                if name not in required:
                    required.append(name)
        merged = {"type": "object", "properties": properties, "required": required,
                  "additionalProperties": False}
        wrapper = inputs.get("wrapper_schema")
        if wrapper is None:
            wrapper = {"type": "object", "properties": {}, "required": [root],
                       "additionalProperties": False}
        result = copy.deepcopy(wrapper)
        if not isinstance(result.get("properties"), dict):
            result["properties"] = {}
        result["properties"][root] = merged
        return {"merged_schema": result}
