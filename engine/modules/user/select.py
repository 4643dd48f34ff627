"""`user.select`: choose items from structured data (MOD-select-1…4, addons MOD-addon-1)."""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from engine.modules.addons.processor import apply_addons, resolve_addon_configs, run_on_selection
from engine.modules.base import (
    ExecutionContext,
    InteractionRequestResult,
    InteractiveModule,
    ModuleExecutionError,
    ModuleInput,
    ModuleOutput,
)
from engine.modules.user.select_paths import MISSING, derive_paths, lookup, path_text
from engine.wire import InteractionRequest, InteractionResponseData, ValidationErrorItem

_TYPES = {"select": "select_from_structured", "review": "review_grouped"}


def effective_max(inputs: dict[str, Any]) -> int:
    value: int | None = inputs.get("max_selections")
    if value is not None:
        return value
    return -1 if inputs.get("multi_select") else 1


def strip_metadata(value: Any) -> Any:
    value = copy.deepcopy(value)
    if isinstance(value, dict):
        value.pop("_metadata", None)
    return value


class UserSelectModule(InteractiveModule):
    module_id: ClassVar[str] = "user.select"
    interaction_type: ClassVar[str | None] = "select_from_structured"
    inputs = (
        ModuleInput(name="data", type="object|array"),
        ModuleInput(name="schema", type="object"),
        ModuleInput(name="prompt", type="string", required=False, default="Make a selection"),
        ModuleInput(name="multi_select", type="boolean", required=False, default=False),
        ModuleInput(name="mode", type="string", required=False, default="select"),
        ModuleInput(name="min_selections", type="integer", required=False, default=1),
        ModuleInput(name="max_selections", type="integer", required=False, default=None),
    )
    outputs = (
        ModuleOutput(name="selected_indices", type="array"),
        ModuleOutput(name="selected_data"),
        ModuleOutput(name="retry_requested", type="boolean"),
        ModuleOutput(name="retry_feedback", type="string"),
        ModuleOutput(name="retry_groups", type="array"),
        ModuleOutput(name="jump_back_requested", type="boolean"),
        ModuleOutput(name="jump_back_target", type="string"),
    )

    def get_interaction_request(self, inputs: dict[str, Any],
                                context: ExecutionContext) -> InteractionRequestResult:
        mode = inputs.get("mode") or "select"
        if mode not in _TYPES:
            raise ModuleExecutionError("mode must be 'select' or 'review'",
                                       error_type="input_validation_failed")
        addons = resolve_addon_configs(context)
        display_data = {
            "data": apply_addons(inputs["data"], addons, context),
            "schema": inputs["schema"],
            "multi_select": bool(inputs.get("multi_select")),
            "mode": mode,
            "retryable": copy.deepcopy(context.retryable),
            "sub_actions": copy.deepcopy(context.sub_actions),
        }
        request = InteractionRequest(
            interaction_id=context.new_id("select_"),
            interaction_type=_TYPES[mode],  # type: ignore[arg-type]
            title=inputs.get("prompt") or "Make a selection",
            options=[],
            min_selections=inputs.get("min_selections", 1),
            max_selections=effective_max(inputs),
            display_data=display_data,
        )
        return InteractionRequestResult(request=request, module_state={"addons": addons})

    def validate_response(self, request: InteractionRequest, inputs: dict[str, Any],
                          response: InteractionResponseData,
                          module_state: dict[str, Any]) -> list[ValidationErrorItem]:
        paths, _ = derive_paths(response, bool(inputs.get("multi_select")))
        errors = [ValidationErrorItem(id="selection_invalid", field="selected_indices",
                                      rule="selection_exists",
                                      message="Selection " + path_text(p) + " does not exist")
                  for p in paths if lookup(inputs["data"], p) is MISSING]
        if (inputs.get("mode") or "select") == "select":
            low = inputs.get("min_selections", 1)
            high = effective_max(inputs)
            if len(paths) < low:
                errors.append(ValidationErrorItem(
                    id="selection_required", field="selected_indices", rule="min_selections",
                    message=f"Select at least {low} item(s)"))
            if high != -1 and len(paths) > high:
                errors.append(ValidationErrorItem(
                    id="selection_too_many", field="selected_indices", rule="max_selections",
                    message=f"Select at most {high} item(s)"))
        return errors

    def execute_with_response(self, inputs: dict[str, Any], context: ExecutionContext,
                              response: InteractionResponseData,
                              module_state: dict[str, Any]) -> dict[str, Any]:
        multi = bool(inputs.get("multi_select"))
        paths, from_options = derive_paths(response, multi)
        found = [lookup(inputs["data"], p) for p in paths]
        elements = [None if e is MISSING else strip_metadata(e) for e in found]
        if multi:
            selected: Any = elements
        elif len(elements) == 1:
            selected = elements[0]
        elif not elements:
            selected = None
        else:
            selected = elements
        indices = paths if from_options else copy.deepcopy(list(response.selected_indices))
        run_on_selection((module_state or {}).get("addons") or [], elements, context)
        return {
            "selected_indices": indices,
            "selected_data": selected,
            "retry_requested": False,
            "retry_feedback": "",
            "retry_groups": [],
            "jump_back_requested": False,
            "jump_back_target": "",
        }
