"""Shared validators: JSON Schema (MOD-core-5), aggregation pipelines (MOD-core-6), option rules.

`validate_workflow` lives in `engine.workflow_validation` and is re-exported here so callers have
one import point for every validator.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Literal

import msgspec
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from engine.errors import ModuleExecutionError
from engine.jsonutil import canonical_json, json_depth
from engine.wire import InteractionResponseData, ValidationErrorItem
from engine.workflow_validation import validate_workflow

__all__ = [
    "SERVER_RULES",
    "evaluate_option_validations",
    "validate_pipeline",
    "validate_schema",
    "validate_workflow",
]

MAX_SCHEMA_DEPTH = 64
_CACHE_SIZE = 256
_cache: OrderedDict[bytes, Draft202012Validator | str] = OrderedDict()
_cache_lock = threading.Lock()


def _path_text(parts: Any) -> str:
    out = "$"
    for part in parts:
        out += "[" + str(part) + "]" if isinstance(part, int) else "." + str(part)
    return out


def _path_key(parts: Any) -> tuple[tuple[int, Any], ...]:
    """Natural order: indices numerically, keys alphabetically (so [2] sorts before [10])."""
    return tuple((0, p) if isinstance(p, int) else (1, str(p)) for p in parts)


def _error_path(error: Any) -> list[Any]:
    """Instance path; a `required` error points at the missing property (`$.scenes[0].title`)."""
    path = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        for name in error.validator_value or []:
            if name not in error.instance and repr(name) + " is a required property" == error.message:
                path.append(name)
                break
    return path


def _validator_for(schema: Any) -> Draft202012Validator | str:
    """Cached validator, or the `invalid schema` reason string (also cached)."""
    try:
        key = canonical_json(schema)
    except (TypeError, ValueError, msgspec.EncodeError) as exc:
        return "schema is not JSON: " + str(exc)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    built: Draft202012Validator | str
    if not isinstance(schema, (dict, bool)):
        built = "schema must be an object or a boolean"
    else:
        try:
            Draft202012Validator.check_schema(schema)
            built = Draft202012Validator(schema)
        except SchemaError as exc:
            built = exc.message
        except RecursionError:
            built = "schema nesting too deep"
    with _cache_lock:
        _cache[key] = built
        _cache.move_to_end(key)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return built


def validate_schema(instance: Any, schema: Any) -> list[str]:
    """Errors as `"<path>: <message>"` sorted by path; never raises for bad schemas (MOD-core-5)."""
    if json_depth(schema) > MAX_SCHEMA_DEPTH:
        return ["$: invalid schema: schema nesting exceeds " + str(MAX_SCHEMA_DEPTH) + " levels"]
    validator = _validator_for(schema)
    if isinstance(validator, str):
        return ["$: invalid schema: " + validator]
    try:
        errors = list(validator.iter_errors(instance))
    except RecursionError:
        return ["$: instance nesting too deep"]
    except Exception as exc:  # noqa: BLE001 - unresolvable $ref and similar schema defects
        lines = str(exc).splitlines()
        return ["$: invalid schema: " + (lines[0] if lines else type(exc).__name__)]
    located = [(_error_path(e), e.message) for e in errors]
    located.sort(key=lambda item: (_path_key(item[0]), item[1]))
    return [_path_text(path) + ": " + message for path, message in located]


# ---------------------------------------------------------------- pipelines (MOD-core-6)

ALLOWED_STAGES = frozenset({
    "$match", "$sort", "$project", "$limit", "$skip", "$group", "$unwind", "$addFields",
    "$set", "$count", "$replaceRoot", "$sample", "$bucket", "$facet",
})
FORBIDDEN_KEYS = frozenset({
    "$where", "$function", "$accumulator", "$regex", "$regexMatch", "$regexFind",
    "$regexFindAll", "$jsonSchema",
})
MAX_STAGES = 20
MAX_LIMIT = 10000


def _reject(reason: str) -> ModuleExecutionError:
    return ModuleExecutionError("Pipeline rejected: " + reason)


def _keys_anywhere(value: Any) -> list[str]:
    """All object keys at any depth, iteratively (pipelines are user data)."""
    keys: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            keys.extend(str(k) for k in item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return keys


def validate_pipeline(pipeline: Any, forbidden_match_fields: tuple[str, ...] | list[str] = ()) -> None:
    """Refuse anything the in-memory evaluator and MongoDB would not both run safely."""
    forbidden_fields = set(forbidden_match_fields)
    pending: list[Any] = [pipeline]
    while pending:
        stages = pending.pop()
        if not isinstance(stages, list):
            raise _reject("pipeline must be an array")
        if len(stages) > MAX_STAGES:
            raise _reject("more than " + str(MAX_STAGES) + " stages")
        for stage in stages:
            if not isinstance(stage, dict) or len(stage) != 1:
                raise _reject("each stage must be an object with exactly one key")
            (name, body), = stage.items()
            if name not in ALLOWED_STAGES:
                raise _reject("stage '" + str(name) + "' is not allowed")
            for key in _keys_anywhere(body):
                if key in FORBIDDEN_KEYS:
                    raise _reject("operator '" + key + "' is not allowed")
            if name == "$limit" and isinstance(body, (int, float)) and body > MAX_LIMIT:
                raise _reject("$limit above " + str(MAX_LIMIT))
            if name == "$match" and forbidden_fields:
                for key in _keys_anywhere(body):
                    if key in forbidden_fields:
                        raise _reject("$match on field '" + key + "' is not allowed")
            if name == "$facet":
                if not isinstance(body, dict):
                    raise _reject("$facet must be an object")
                pending.extend(body.values())


# ---------------------------------------------------------------- option validations (§6.1)

SERVER_RULES = ("response_field_required", "response_field_not_empty",
                "response_field_equals", "min_selections")
DEFAULT_VALIDATOR = ("webui", "server")


def _passes(rule: str, spec: dict[str, Any], fields: dict[str, Any],
            response: InteractionResponseData) -> bool:
    value = fields.get(spec.get("field") or "")
    if rule == "response_field_required":
        return value is not None
    if rule == "response_field_not_empty":
        if value is None:
            return False
        if isinstance(value, (list, dict, str)):
            return len(value) > 0
        return bool(value)
    if rule == "response_field_equals":
        return bool(value == spec.get("value"))
    if rule == "min_selections":
        minimum = spec.get("min", 1)
        return len(response.selected_indices) >= (minimum if isinstance(minimum, int) else 1)
    return True  # unknown rules are client-only; validate_workflow refuses them for the server


def evaluate_option_validations(
    validations: list[dict[str, Any]], response: InteractionResponseData
) -> tuple[list[ValidationErrorItem], list[ValidationErrorItem]]:
    """Run the server rules of one retryable option (engine.md §9.3); returns (errors, warnings)."""
    fields = msgspec.to_builtins(response)
    confirmed = set(response.confirmed_warnings)
    errors: list[ValidationErrorItem] = []
    warnings: list[ValidationErrorItem] = []
    for spec in validations or []:
        if not isinstance(spec, dict):
            continue
        validator = spec.get("validator", DEFAULT_VALIDATOR)
        if not isinstance(validator, (list, tuple)) or "server" not in validator:
            continue
        rule = spec.get("rule")
        if rule not in SERVER_RULES or _passes(rule, spec, fields, response):
            continue
        severity: Literal["error", "warning"] = \
            "warning" if spec.get("severity") == "warning" else "error"
        item_id = str(spec.get("id", ""))
        item = ValidationErrorItem(
            id=item_id, field=str(spec.get("field") or ""), rule=rule,
            message=str(spec.get("message") or "Validation '" + item_id + "' failed"),
            severity=severity,
        )
        if severity == "error":
            errors.append(item)
        elif item_id not in confirmed:
            warnings.append(item)
    return errors, warnings
