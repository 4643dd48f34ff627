"""`io.save_json`: store a JSON value as a run file (MOD-io-2)."""

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
from engine.modules.io.files import insert_file


class IoSaveJsonModule(ExecutableModule):
    module_id: ClassVar[str] = "io.save_json"
    inputs = (
        ModuleInput(name="data", type="any"),
        ModuleInput(name="file_path", type="string"),
        ModuleInput(name="target_path", type="string", required=False, default="outputs"),
    )
    outputs = (ModuleOutput(name="file_id", type="string"),
               ModuleOutput(name="file_path", type="string"),
               ModuleOutput(name="success", type="boolean"))

    def execute(self, inputs: dict[str, Any], context: ExecutionContext) -> dict[str, Any]:
        data = inputs["data"]
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError as exc:
                raise ModuleExecutionError(f"data is not valid JSON: {exc}") from None
        file_id, filename = insert_file(context, file_path=inputs["file_path"],
                                        target_path=inputs.get("target_path") or "outputs",
                                        content_type="json", content=data)
        return {"file_id": file_id, "file_path": filename, "success": True}
