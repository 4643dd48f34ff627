"""`io.load_json`: read the newest lineage-visible JSON file of the run (MOD-io-1)."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from engine.modules.base import (
    ExecutableModule,
    ExecutionContext,
    ModuleExecutionError,
    ModuleInput,
    ModuleOutput,
)
from engine.modules.io.files import basename, placement


class IoLoadJsonModule(ExecutableModule):
    module_id: ClassVar[str] = "io.load_json"
    inputs = (
        ModuleInput(name="file_path", type="string"),
        ModuleInput(name="target_path", type="string", required=False, default="outputs"),
        ModuleInput(name="default", type="any", required=False, default=None),
        ModuleInput(name="required", type="boolean", required=False, default=True),
    )
    outputs = (ModuleOutput(name="data"), ModuleOutput(name="file_exists", type="boolean"),
               ModuleOutput(name="file_id", type="string"))

    def execute(self, inputs: dict[str, Any], context: ExecutionContext) -> dict[str, Any]:
        filename = basename(inputs["file_path"])
        category, group_id = placement(inputs.get("target_path"))
        doc = context.store.find_latest_file(context.workflow_run_id, context.lineage,
                                             filename, category, group_id)
        if doc is None:
            if inputs.get("required", True):
                raise ModuleExecutionError(f"File '{filename}' not found")
            return {"data": inputs.get("default"), "file_exists": False, "file_id": None}
        content: Any = doc.get("content")
        if doc.get("content_type") == "text":
            try:
                content = json.loads(content)
            except (TypeError, ValueError) as exc:
                raise ModuleExecutionError(f"File '{filename}' is not valid JSON: {exc}") from None
        return {"data": content, "file_exists": True, "file_id": doc.get("file_id")}
