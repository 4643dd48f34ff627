"""`io.client_write`: ask the client to write a file into the project folder (MOD-cw-1…3)."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from engine.modules.base import (
    ExecutionContext,
    InteractionRequestResult,
    InteractiveModule,
    ModuleInput,
    ModuleOutput,
)
from engine.modules.io.write_text import as_text
from engine.wire import InteractionRequest, InteractionResponseData, ValidationErrorItem


def resolve_format(inputs: dict[str, Any]) -> str:
    fmt: str | None = inputs.get("format")
    if fmt:
        return fmt
    return "json" if inputs["filename"].endswith(".json") else "text"


def file_content(content: Any, fmt: str) -> Any:
    """JSON keeps values (parsing JSON strings); text is a string or canonical JSON text."""
    if fmt == "json":
        if isinstance(content, str):
            try:
                return json.loads(content)
            except ValueError:
                return content
        return content
    return as_text(content)


class IoClientWriteModule(InteractiveModule):
    module_id: ClassVar[str] = "io.client_write"
    interaction_type: ClassVar[str | None] = "file_download"
    inputs = (
        ModuleInput(name="content", type="any"),
        ModuleInput(name="filename", type="string"),
        ModuleInput(name="format", type="string", required=False, default=None),
        ModuleInput(name="destination", type="string", required=False, default="root"),
    )
    outputs = (ModuleOutput(name="file_path", type="string"),
               ModuleOutput(name="filename", type="string"),
               ModuleOutput(name="success", type="boolean"))

    def get_interaction_request(self, inputs: dict[str, Any],
                                context: ExecutionContext) -> InteractionRequestResult:
        fmt = resolve_format(inputs)
        filename = inputs["filename"]
        request = InteractionRequest(
            interaction_id=context.new_id("file_download_"),
            interaction_type="file_download",
            title="Writing " + filename + " to project folder",
            file_content=file_content(inputs["content"], fmt),
            file_name=filename,
            file_content_type=fmt,
            file_destination=inputs.get("destination") or "root",
        )
        return InteractionRequestResult(request=request)

    def validate_response(self, request: InteractionRequest, inputs: dict[str, Any],
                          response: InteractionResponseData,
                          module_state: dict[str, Any]) -> list[ValidationErrorItem]:
        if response.file_written is True:
            return []
        reason = response.file_error or "unknown error"
        return [ValidationErrorItem(
            id="file_not_written", field="file_written", rule="response_field_equals",
            message="Failed to write file " + inputs["filename"] + ": " + reason,
            severity="error")]

    def execute_with_response(self, inputs: dict[str, Any], context: ExecutionContext,
                              response: InteractionResponseData,
                              module_state: dict[str, Any]) -> dict[str, Any]:
        return {"file_path": response.file_path or inputs["filename"],
                "filename": inputs["filename"], "success": True}
