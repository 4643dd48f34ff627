"""`io.write_text`: store text (or canonical JSON of a value) as a run file (MOD-io-3)."""

from __future__ import annotations

from typing import Any, ClassVar

from engine.jsonutil import canonical_json
from engine.modules.base import ExecutableModule, ExecutionContext, ModuleInput, ModuleOutput
from engine.modules.io.files import insert_file


def as_text(value: Any) -> str:
    """Strings stay as they are; every other value becomes canonical JSON text."""
    return value if isinstance(value, str) else canonical_json(value).decode("utf-8")


class IoWriteTextModule(ExecutableModule):
    module_id: ClassVar[str] = "io.write_text"
    inputs = (
        ModuleInput(name="content", type="any"),
        ModuleInput(name="file_path", type="string"),
        ModuleInput(name="target_path", type="string", required=False, default="outputs"),
    )
    outputs = (ModuleOutput(name="file_id", type="string"),
               ModuleOutput(name="file_path", type="string"),
               ModuleOutput(name="bytes_written", type="integer"))

    def execute(self, inputs: dict[str, Any], context: ExecutionContext) -> dict[str, Any]:
        text = as_text(inputs["content"])
        file_id, filename = insert_file(context, file_path=inputs["file_path"],
                                        target_path=inputs.get("target_path") or "outputs",
                                        content_type="text", content=text)
        return {"file_id": file_id, "file_path": filename,
                "bytes_written": len(text.encode("utf-8"))}
