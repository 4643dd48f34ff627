"""`user.file_input`: accept an uploaded file as a data URL only (MOD-file-1…3).

Server file-system paths are never read: the client sends the content itself.
"""

from __future__ import annotations

import base64
import binascii
import re
import urllib.parse
from typing import Any, ClassVar

from engine.modules.base import (
    ExecutionContext,
    InteractionRequestResult,
    InteractiveModule,
    ModuleInput,
    ModuleOutput,
)
from engine.modules.io.files import basename
from engine.modules.user.text_input import label_text
from engine.wire import InteractionOption, InteractionRequest, InteractionResponseData, ValidationErrorItem

MAX_FILE_BYTES = 10 * 1024 * 1024
EXTENSION_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                  ".json": "application/json", ".txt": "text/plain", ".mp3": "audio/mpeg",
                  ".mp4": "video/mp4", ".webp": "image/webp"}
_DATA_URL = re.compile(r"data:([^,]*),(.*)", re.DOTALL)


def normalize_extension(ext: Any) -> str:
    text = str(ext).strip().lower().lstrip("*")
    return text if text.startswith(".") else "." + text


def parse_data_url(value: Any) -> tuple[str, bytes] | str:
    """`(mime type, decoded bytes)` or an error message."""
    if not isinstance(value, str):
        return "File content must be a data: URL"
    match = _DATA_URL.fullmatch(value)
    if match is None:
        return "File content must be a data: URL"
    header, payload = match.group(1), match.group(2)
    params = header.split(";")
    mime = params[0].strip().lower() or "text/plain"
    if "base64" in [p.strip().lower() for p in params[1:]]:
        if len(payload) > (MAX_FILE_BYTES * 4) // 3 + 8:
            return "File is larger than 10 MiB"
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            return "File content is not valid base64"
    else:
        data = urllib.parse.unquote_to_bytes(payload)
    return mime, data


def _invalid(message: str, rule: str) -> ValidationErrorItem:
    return ValidationErrorItem(id="file_invalid", field="value", rule=rule, message=message)


class UserFileInputModule(InteractiveModule):
    module_id: ClassVar[str] = "user.file_input"
    interaction_type: ClassVar[str | None] = "file_input"
    inputs = (
        ModuleInput(name="prompt", type="string"),
        ModuleInput(name="extensions", type="array", required=False, default=None),
        ModuleInput(name="retry_trigger_keyword", type="string", required=False, default="r"),
        ModuleInput(name="retry_options", type="object", required=False, default={}),
    )
    outputs = (
        ModuleOutput(name="value", type="string"),
        ModuleOutput(name="filename", type="string"),
        ModuleOutput(name="jump_back_requested", type="boolean"),
        ModuleOutput(name="jump_back_target", type="string"),
    )

    def get_interaction_request(self, inputs: dict[str, Any],
                                context: ExecutionContext) -> InteractionRequestResult:
        options = [InteractionOption(id="jump_" + str(key), label=label_text(value),
                                     metadata={"action": "jump_back", "target": key})
                   for key, value in (inputs.get("retry_options") or {}).items()]
        extra = {}
        if inputs.get("retry_trigger_keyword"):
            extra["retry_trigger_keyword"] = inputs["retry_trigger_keyword"]
        request = InteractionRequest(
            interaction_id=context.new_id("file_input_"),
            interaction_type="file_input",
            title=inputs["prompt"],
            accepted_types=list(inputs.get("extensions") or []),
            extra_options=options,
            context=extra,
        )
        return InteractionRequestResult(request=request)

    def validate_response(self, request: InteractionRequest, inputs: dict[str, Any],
                          response: InteractionResponseData,
                          module_state: dict[str, Any]) -> list[ValidationErrorItem]:
        parsed = parse_data_url(response.value)
        if isinstance(parsed, str):
            return [_invalid(parsed, "data_url" if "larger" not in parsed else "max_size")]
        mime, data = parsed
        if len(data) > MAX_FILE_BYTES:
            return [_invalid("File is larger than 10 MiB", "max_size")]
        extensions = inputs.get("extensions")
        if extensions:
            allowed = {EXTENSION_MIME.get(normalize_extension(e)) for e in extensions}
            if mime not in allowed:
                return [_invalid("File type " + mime + " is not accepted", "file_type")]
        return []

    def execute_with_response(self, inputs: dict[str, Any], context: ExecutionContext,
                              response: InteractionResponseData,
                              module_state: dict[str, Any]) -> dict[str, Any]:
        filename = basename(response.file_path) if response.file_path else ""
        return {"value": response.value, "filename": filename or "uploaded_file",
                "jump_back_requested": False, "jump_back_target": ""}
