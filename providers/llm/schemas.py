"""Output-schema preparation for vendor structured-output modes (providers.md PRV-7).

Vendors accept only a subset of JSON Schema in their constrained modes. The engine still
validates the answer against the workflow's original schema (MOD-llm-4), so moving a constraint
into description text here loses no checking, it only changes how the model is told.
"""

from __future__ import annotations

import copy
import json
from typing import Any

#: constraints Anthropic's output format does not enforce: moved into `description`
MOVED_CONSTRAINTS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
                     "minLength", "maxLength", "minItems", "maxItems")
_SCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties", "dependentSchemas")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_ONE = ("items", "not", "if", "then", "else", "contains", "additionalItems")


def is_object_schema(node: Any) -> bool:
    if not isinstance(node, dict):
        return False
    kind = node.get("type")
    return kind == "object" or (isinstance(kind, list) and "object" in kind) or (
        kind is None and "properties" in node)


def _children(node: dict[str, Any]) -> list[Any]:
    found: list[Any] = []
    for key in _SCHEMA_MAPS:
        if isinstance(node.get(key), dict):
            found.extend(node[key].values())
    for key in _SCHEMA_LISTS:
        if isinstance(node.get(key), list):
            found.extend(node[key])
    for key in _SCHEMA_ONE:
        value = node.get(key)
        if isinstance(value, dict):
            found.append(value)
        elif isinstance(value, list):
            found.extend(value)
    return found


def openai_strict_schema(schema: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """(schema, strict): objects get `additionalProperties: false` unless they allow extras;
    `strict` is true only when OpenAI's strict mode accepts the result (every object closed and
    every property required) — otherwise the schema is sent non-strict rather than refused."""
    prepared = copy.deepcopy(schema)
    if "type" not in prepared and "properties" in prepared:
        prepared["type"] = "object"
    strict = True

    def walk(node: Any) -> None:
        nonlocal strict
        if not isinstance(node, dict):
            return
        if is_object_schema(node):
            extras = node.get("additionalProperties")
            if extras is None:
                node["additionalProperties"] = False
            elif extras is not False:
                strict = False
            properties = node.get("properties") or {}
            if set(node.get("required") or []) != set(properties):
                strict = False
        for child in _children(node):
            walk(child)
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"])

    walk(prepared)
    return prepared, strict


def _describe(node: dict[str, Any]) -> None:
    moved = [(key, node.pop(key)) for key in MOVED_CONSTRAINTS if key in node]
    if not moved:
        return
    note = ", ".join(key + ": " + json.dumps(value) for key, value in moved)
    existing = node.get("description")
    prefix = existing.rstrip() + " " if isinstance(existing, str) and existing.strip() else ""
    node["description"] = prefix + "(" + note + ")"


def anthropic_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """PRV-7 for Anthropic: numeric, length and item-count constraints become description text,
    and every object gets `additionalProperties: false`."""
    prepared = copy.deepcopy(schema)

    def walk(node: Any) -> None:
        if not isinstance(node, dict):
            return
        _describe(node)
        for child in _children(node):
            walk(child)
        if is_object_schema(node):
            node["additionalProperties"] = False

    walk(prepared)
    return prepared
