"""`transform.parse_pattern`: parse delimited text into typed, validated items (MOD-pp-1/2)."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from engine.modules.base import (
    ExecutableModule,
    ExecutionContext,
    ModuleExecutionError,
    ModuleInput,
    ModuleOutput,
)
from engine.modules.transform.safe_eval import SafeEvalError, safe_eval

_TRUE_WORDS = {"true", "1", "yes", "y"}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def cast(value: Any, type_name: str) -> Any:
    """Cast one captured value; raises ValueError on failure or an unknown type."""
    if type_name in ("int", "integer"):
        return value if isinstance(value, int) and not isinstance(value, bool) else int(str(value).strip())
    if type_name in ("float", "number"):
        return float(value) if _is_number(value) else float(str(value).strip())
    if type_name in ("bool", "boolean"):
        return value if isinstance(value, bool) else str(value).strip().lower() in _TRUE_WORDS
    if type_name in ("string", "str"):
        return value if isinstance(value, str) else str(value)
    raise ValueError("unknown type " + repr(type_name))


def split_segments(text: str, pattern: dict[str, Any]) -> list[str]:
    separator = pattern.get("separator")
    if separator:
        if pattern.get("separator_is_regex", False):
            try:
                parts = re.split(separator, text)
            except re.error as exc:
                raise ModuleExecutionError("Invalid separator regex: " + str(exc)) from None
        else:
            parts = text.split(separator)
    else:
        parts = [text]
    if pattern.get("trim", True):
        parts = [part.strip() for part in parts]
    return [part for part in parts if part]


def _equal(a: Any, b: Any) -> bool:
    return a == b or (a is not None and b is not None and str(a) == str(b))


class ParsePatternModule(ExecutableModule):
    module_id: ClassVar[str] = "transform.parse_pattern"
    inputs = (
        ModuleInput(name="input", type="string"),
        ModuleInput(name="pattern", type="object"),
        ModuleInput(name="field_types", type="object", required=False, default={}),
        ModuleInput(name="lookups", type="object", required=False, default={}),
        ModuleInput(name="mappings", type="object", required=False, default={}),
        ModuleInput(name="computed", type="array", required=False, default=[]),
        ModuleInput(name="validation", type="object", required=False, default={}),
        ModuleInput(name="sum_field", type="string", required=False, default=None),
    )
    outputs = (ModuleOutput(name="items", type="array"), ModuleOutput(name="count", type="integer"),
               ModuleOutput(name="total", type="number"), ModuleOutput(name="valid", type="boolean"),
               ModuleOutput(name="errors", type="array"))

    def execute(self, inputs: dict[str, Any], context: ExecutionContext) -> dict[str, Any]:
        pattern = inputs["pattern"]
        if not isinstance(pattern.get("regex"), str):
            raise ModuleExecutionError("pattern.regex must be a string",
                                       error_type="input_validation_failed")
        try:
            regex = re.compile(pattern["regex"])
        except re.error as exc:
            raise ModuleExecutionError("Invalid pattern regex: " + str(exc)) from None
        errors: list[str] = []
        items: list[dict[str, Any]] = []
        for index, segment in enumerate(split_segments(inputs["input"], pattern)):
            match = regex.fullmatch(segment)
            if match is None:
                errors.append(f"Segment {index} does not match pattern")
                continue
            item: dict[str, Any] = {"_raw": segment, "_index": index, **match.groupdict()}
            self._process(item, index, inputs, errors)
            items.append(item)
        sum_field = inputs.get("sum_field")
        total: int | float = 0
        if sum_field:
            total = sum(item[sum_field] for item in items if _is_number(item.get(sum_field)))
        return {"items": items, "count": len(items), "total": total, "valid": not errors,
                "errors": errors}

    def _process(self, item: dict[str, Any], i: int, inputs: dict[str, Any],
                 errors: list[str]) -> None:
        prefix = f"Item {i}: "
        for field, type_name in (inputs.get("field_types") or {}).items():
            if item.get(field) is None:
                continue
            try:
                item[field] = cast(item[field], type_name)
            except (TypeError, ValueError):
                errors.append(prefix + field + " cannot be cast to " + str(type_name))
        for field, table in (inputs.get("mappings") or {}).items():
            if not isinstance(table, dict) or field not in item:
                continue
            key = item[field] if isinstance(item[field], str) else str(item[field])
            if key in table:
                item[field + "_original"] = item[field]
                item[field] = table[key]
        for field, spec in (inputs.get("lookups") or {}).items():
            if isinstance(spec, dict):
                self._lookup(item, field, spec, prefix, errors)
        for entry in inputs.get("computed") or []:
            if not isinstance(entry, dict) or not isinstance(entry.get("field"), str):
                errors.append(prefix + "invalid computed entry")
                continue
            try:
                expression: Any = entry.get("expression")
                item[entry["field"]] = safe_eval(expression, item)
            except SafeEvalError as exc:
                item[entry["field"]] = None
                errors.append(prefix + entry["field"] + " computation failed: " + str(exc))
        for field, rules in (inputs.get("validation") or {}).items():
            if isinstance(rules, dict):
                errors.extend(prefix + field + " " + reason
                              for reason in self._validate(item.get(field), rules))

    @staticmethod
    def _lookup(item: dict[str, Any], field: str, spec: dict[str, Any], prefix: str,
                errors: list[str]) -> None:
        source: Any = spec.get("source") if isinstance(spec.get("source"), list) else []
        value: Any = item.get(field)
        found: Any = None
        if spec.get("match_by_position"):
            try:
                position = int(value) + int(spec.get("position_offset", -1))
            except (TypeError, ValueError):
                position = -1
            if 0 <= position < len(source):
                found = source[position]
        else:
            match_field = spec.get("match_field", "id")
            for element in source:
                if isinstance(element, dict) and _equal(element.get(match_field), value):
                    found = element
                    break
        item[spec.get("output_field") or field + "_resolved"] = found
        if found is None and spec.get("required", False):
            errors.append(prefix + field + " not found in lookup")

    @staticmethod
    def _validate(value: Any, rules: dict[str, Any]) -> list[str]:
        if value is None or value == "":
            return ["is required"] if rules.get("required") else []
        reasons = []
        if "min" in rules and _is_number(value) and value < rules["min"]:
            reasons.append("is below minimum " + str(rules["min"]))
        if "max" in rules and _is_number(value) and value > rules["max"]:
            reasons.append("is above maximum " + str(rules["max"]))
        if "in" in rules and isinstance(rules["in"], list) and value not in rules["in"]:
            reasons.append("is not an allowed value")
        if isinstance(rules.get("pattern"), str):
            try:
                if re.fullmatch(rules["pattern"], str(value)) is None:
                    reasons.append("does not match pattern")
            except re.error:
                reasons.append("has an invalid pattern")
        return reasons
