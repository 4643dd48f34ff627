"""`user.text_input`: ask for one line of text, optionally pattern-checked (MOD-text-1…3)."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from engine.jsonutil import canonical_json
from engine.modules.base import (
    ExecutionContext,
    InteractionRequestResult,
    InteractiveModule,
    ModuleExecutionError,
    ModuleInput,
    ModuleOutput,
)
from engine.wire import InteractionOption, InteractionRequest, InteractionResponseData, ValidationErrorItem

MAX_VALUE_CHARS = 10_000
DEFAULT_PATTERN_ERROR = "Value does not match the required format"


def label_text(value: Any) -> str:
    return value if isinstance(value, str) else canonical_json(value).decode("utf-8")


def effective_value(response: InteractionResponseData, default: str) -> str:
    value = response.value
    if value is None:
        text = ""
    elif isinstance(value, str):
        text = value
    else:
        text = label_text(value)
    return text if text != "" else (default or "")


def split_parts(value: str, separator: str | None, is_regex: bool) -> list[str]:
    if separator:
        parts = re.split(separator, value) if is_regex else value.split(separator)
    else:
        parts = [value]
    return [part.strip() for part in parts if part.strip()]


class UserTextInputModule(InteractiveModule):
    module_id: ClassVar[str] = "user.text_input"
    interaction_type: ClassVar[str | None] = "text_input"
    inputs = (
        ModuleInput(name="prompt", type="string"),
        ModuleInput(name="default", type="string", required=False, default=""),
        ModuleInput(name="allow_empty", type="boolean", required=False, default=False),
        ModuleInput(name="retry_trigger_keyword", type="string", required=False, default=None),
        ModuleInput(name="retry_options", type="object", required=False, default={}),
        ModuleInput(name="validation_pattern", type="string", required=False, default=None),
        ModuleInput(name="validation_separator", type="string", required=False, default=None),
        ModuleInput(name="validation_separator_is_regex", type="boolean", required=False,
                    default=False),
        ModuleInput(name="validation_error", type="string", required=False, default=None),
        ModuleInput(name="require_at_least_one_match", type="boolean", required=False,
                    default=True),
    )
    outputs = (
        ModuleOutput(name="value", type="string"),
        ModuleOutput(name="retry_requested", type="boolean"),
        ModuleOutput(name="retry_feedback", type="string"),
        ModuleOutput(name="jump_back_requested", type="boolean"),
        ModuleOutput(name="jump_back_target", type="string"),
    )

    def get_interaction_request(self, inputs: dict[str, Any],
                                context: ExecutionContext) -> InteractionRequestResult:
        extra: dict[str, Any] = {}
        if inputs.get("retry_trigger_keyword"):
            extra["retry_trigger_keyword"] = inputs["retry_trigger_keyword"]
        pattern = inputs.get("validation_pattern")
        if pattern:
            for name, source, is_regex in (("validation_pattern", pattern, True),
                                           ("validation_separator", inputs.get("validation_separator"),
                                            bool(inputs.get("validation_separator_is_regex")))):
                if source and is_regex:
                    try:
                        re.compile(source)
                    except re.error as exc:
                        raise ModuleExecutionError(name + " is not a valid regular expression: "
                                                   + str(exc),
                                                   error_type="input_validation_failed") from None
            extra["validation"] = {
                "pattern": pattern,
                "separator": inputs.get("validation_separator"),
                "separator_is_regex": bool(inputs.get("validation_separator_is_regex")),
                "error": inputs.get("validation_error"),
                "require_at_least_one_match": inputs.get("require_at_least_one_match", True),
            }
        request = InteractionRequest(
            interaction_id=context.new_id("text_input_"),
            interaction_type="text_input",
            title=inputs["prompt"],
            default_value=inputs.get("default") or "",
            allow_empty=bool(inputs.get("allow_empty")),
            multiline=False,
            extra_options=[InteractionOption(id=str(key), label=label_text(value))
                           for key, value in (inputs.get("retry_options") or {}).items()],
            context=extra,
        )
        return InteractionRequestResult(request=request)

    def validate_response(self, request: InteractionRequest, inputs: dict[str, Any],
                          response: InteractionResponseData,
                          module_state: dict[str, Any]) -> list[ValidationErrorItem]:
        value = effective_value(response, inputs.get("default") or "")
        if len(value) > MAX_VALUE_CHARS:
            return [ValidationErrorItem(id="value_too_long", field="value", rule="max_length",
                                        message="Value is too long")]
        if value == "":
            if inputs.get("allow_empty"):
                return []
            return [ValidationErrorItem(id="value_required", field="value", rule="required",
                                        message="A value is required")]
        pattern = inputs.get("validation_pattern")
        if not pattern:
            return []
        parts = split_parts(value, inputs.get("validation_separator"),
                            bool(inputs.get("validation_separator_is_regex")))
        ok = all(re.fullmatch(pattern, part) for part in parts)
        if inputs.get("require_at_least_one_match", True) and not parts:
            ok = False
        if ok:
            return []
        return [ValidationErrorItem(id="validation_pattern", field="value",
                                    rule="validation_pattern",
                                    message=inputs.get("validation_error") or DEFAULT_PATTERN_ERROR)]

    def execute_with_response(self, inputs: dict[str, Any], context: ExecutionContext,
                              response: InteractionResponseData,
                              module_state: dict[str, Any]) -> dict[str, Any]:
        return {"value": effective_value(response, inputs.get("default") or ""),
                "retry_requested": False, "retry_feedback": "",
                "jump_back_requested": False, "jump_back_target": ""}
