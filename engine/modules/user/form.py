"""`user.form`: one schema-validated form entry per data item (MOD-form-1…3)."""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from engine.modules.base import (
    ExecutionContext,
    InteractionRequestResult,
    InteractiveModule,
    ModuleExecutionError,
    ModuleInput,
    ModuleOutput,
)
from engine.validation import validate_schema
from engine.wire import InteractionRequest, InteractionResponseData, ValidationErrorItem


def input_schema(inputs: dict[str, Any]) -> dict[str, Any]:
    schema = inputs["schema"].get("input_schema")
    if not isinstance(schema, dict):
        raise ModuleExecutionError("schema.input_schema must be an object",
                                   error_type="input_validation_failed")
    return schema


def property_defaults(schema: dict[str, Any]) -> dict[str, Any]:
    properties: Any = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    return {name: copy.deepcopy(prop["default"]) for name, prop in properties.items()
            if isinstance(prop, dict) and "default" in prop}


def form_entries(form_data: Any) -> list[Any] | None:
    """An array, or an object keyed "0"…"n" converted by integer key; None when malformed."""
    if isinstance(form_data, list):
        return list(form_data)
    if isinstance(form_data, dict):
        try:
            keyed = sorted((int(key), value) for key, value in form_data.items())
        except ValueError:
            return None
        if [key for key, _ in keyed] != list(range(len(keyed))):
            return None
        return [value for _, value in keyed]
    return None


def with_defaults(entry: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    return {**copy.deepcopy(defaults), **entry}


def _field(index: int, error: str) -> tuple[str, str]:
    """Split a validator error `"$.a.b: message"` into `form_data[i].a.b` and the message."""
    path, _, message = error.partition(": ")
    rest = path[1:] if path.startswith("$") else path
    if rest and not rest.startswith((".", "[")):
        rest = "." + rest
    return f"form_data[{index}]" + rest, message or error


def _invalid(field: str, message: str, rule: str = "schema") -> ValidationErrorItem:
    return ValidationErrorItem(id="form_invalid", field=field, rule=rule, message=message)


class UserFormModule(InteractiveModule):
    module_id: ClassVar[str] = "user.form"
    interaction_type: ClassVar[str | None] = "form_input"
    inputs = (
        ModuleInput(name="data", type="array"),
        ModuleInput(name="schema", type="object"),
        ModuleInput(name="prompt", type="string", required=False, default="Please fill out the form"),
        ModuleInput(name="form_type", type="string", required=False, default="table"),
    )
    outputs = (ModuleOutput(name="form_data", type="array"),)

    def get_interaction_request(self, inputs: dict[str, Any],
                                context: ExecutionContext) -> InteractionRequestResult:
        schema = input_schema(inputs)
        defaults = property_defaults(schema)
        request = InteractionRequest(
            interaction_id=context.new_id("form_"),
            interaction_type="form_input",
            title=inputs.get("prompt") or "Please fill out the form",
            form_schema=copy.deepcopy(schema),
            form_type=inputs.get("form_type") or "table",
            form_defaults=[copy.deepcopy(defaults) for _ in inputs["data"]],
            display_data={"data": copy.deepcopy(inputs["data"]),
                          "schema": copy.deepcopy(inputs["schema"])},
        )
        return InteractionRequestResult(request=request)

    def validate_response(self, request: InteractionRequest, inputs: dict[str, Any],
                          response: InteractionResponseData,
                          module_state: dict[str, Any]) -> list[ValidationErrorItem]:
        schema = input_schema(inputs)
        entries = form_entries(response.form_data)
        if entries is None:
            return [_invalid("form_data", "form_data must be an array or an object keyed 0..n",
                             "shape")]
        expected = len(inputs["data"])
        if len(entries) != expected:
            return [_invalid("form_data", f"Expected {expected} entries, got {len(entries)}",
                             "length")]
        defaults = property_defaults(schema)
        errors: list[ValidationErrorItem] = []
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict):
                errors.append(_invalid(f"form_data[{index}]", "Entry must be an object"))
                continue
            for error in validate_schema(with_defaults(entry, defaults), schema):
                field, message = _field(index, error)
                errors.append(_invalid(field, message))
        return errors

    def execute_with_response(self, inputs: dict[str, Any], context: ExecutionContext,
                              response: InteractionResponseData,
                              module_state: dict[str, Any]) -> dict[str, Any]:
        defaults = property_defaults(input_schema(inputs))
        entries = form_entries(response.form_data) or []
        data = inputs["data"]
        form_data = []
        for index, entry in enumerate(entries):
            fields = with_defaults(entry, defaults) if isinstance(entry, dict) else {}
            item = data[index] if index < len(data) else None
            form_data.append({"_item": copy.deepcopy(item), "_index": index, **fields})
        return {"form_data": form_data}
