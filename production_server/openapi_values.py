"""What a free-form JSON value may hold on this server, stated in the schema.

Workflow content, answers, `ai_config` and `params` are free-form JSON (`Any`, which Litestar
renders as `{}`). The production server stores them in MongoDB, which cannot hold an integer
beyond 64 bits or an object key with a NUL character, so body.py refuses both with a 400 before
anything is written. This module says so in `/schema/openapi.json`: every `{}` becomes a
reference to `JsonValue` (64-bit integers, keys without NUL) and every map states its key rule.
"""

from __future__ import annotations

import copy
from typing import Any

INT64 = {"type": "integer", "minimum": -(2 ** 63), "maximum": 2 ** 63 - 1}
KEYS = {"pattern": "^[^\\u0000]*$"}
REF = {"$ref": "#/components/schemas/JsonValue"}
JSON_VALUE: dict[str, Any] = {
    "description": "Any JSON value MongoDB can store: integers within 64 bits, object keys "
                   "without NUL characters.",
    "anyOf": [
        {"type": "null"}, {"type": "boolean"}, {"type": "string"}, INT64,
        {"type": "number", "not": {"type": "integer"}},
        {"type": "array", "items": REF},
        {"type": "object", "additionalProperties": REF, "propertyNames": KEYS},
    ],
}
_ONE = ("additionalProperties", "items", "not", "propertyNames")
_MANY = ("oneOf", "anyOf", "allOf", "prefixItems")


def _schema(node: Any) -> Any:
    """The schema with every empty (any-value) schema replaced by `JsonValue`."""
    if not isinstance(node, dict):
        return node
    if not node:
        return dict(REF)
    for key in _ONE:
        if isinstance(node.get(key), dict):
            node[key] = _schema(node[key])
    for key in _MANY:
        if isinstance(node.get(key), list):
            node[key] = [_schema(item) for item in node[key]]
    if isinstance(node.get("properties"), dict):
        node["properties"] = {name: _schema(item) for name, item in node["properties"].items()}
    if node.get("type") == "object" and "additionalProperties" in node:
        node.setdefault("propertyNames", dict(KEYS))
    return node


def _media(content: Any) -> None:
    for media in (content or {}).values():
        if isinstance(media, dict) and "schema" in media:
            media["schema"] = _schema(media["schema"])


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {str(node["$ref"]).rsplit("/", 1)[-1]} if "$ref" in node else set()
        return found.union(*(_refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(item) for item in node))
    return set()


def with_json_values(openapi: dict[str, Any]) -> dict[str, Any]:
    """A copy of the rendered schema stating the storage rules for what a client sends: the
    request bodies and every component they use (answers come from storage and hold to the
    rules already; error details may echo a refused value as it was sent)."""
    result = copy.deepcopy(openapi)
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    bodies = [operation["requestBody"] for item in (result.get("paths") or {}).values()
              for operation in item.values()
              if isinstance(operation, dict) and "requestBody" in operation]
    sent, todo = set(), _refs(bodies)
    while todo:
        name = todo.pop()
        if name in schemas and name not in sent:
            sent.add(name)
            todo |= _refs(schemas[name])
    for name in sent:
        schemas[name] = _schema(schemas[name])
    schemas["JsonValue"] = copy.deepcopy(JSON_VALUE)
    for body in bodies:
        _media(body.get("content"))
    return result
