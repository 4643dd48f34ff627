"""JSON value helpers shared across the engine: canonical encoding, hashing, normalisation."""

from __future__ import annotations

import copy
import hashlib
from datetime import datetime
from typing import Any

import msgspec

from engine.clock import iso_z


class NonJsonValue(ValueError):
    """A value that cannot be represented as JSON data."""


def canonical_json(value: Any) -> bytes:
    """Keys sorted, no whitespace, UTF-8 (WF-22); the basis of every hash in the system."""
    return msgspec.json.encode(value, order="sorted")


def sha256_tag(value: Any) -> str:
    """`"sha256:" + hex(sha256(canonical_json(value)))`."""
    return "sha256:" + hashlib.sha256(canonical_json(value)).hexdigest()


def normalize(value: Any) -> Any:
    """Deep-copy `value` as plain JSON data (ENG-12, TPL-6).

    Datetimes become ISO-8601 UTC strings with `Z`, tuples become lists; anything else that is
    not JSON raises `NonJsonValue`.
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise NonJsonValue("object keys must be strings")
            out[key] = normalize(item)
        return out
    if isinstance(value, (list, tuple)):
        return [normalize(item) for item in value]
    if isinstance(value, datetime):
        return iso_z(value)
    if isinstance(value, msgspec.Struct):
        return normalize(msgspec.to_builtins(value))
    raise NonJsonValue(f"non-JSON value of type {type(value).__name__}")


def deep_copy(value: Any) -> Any:
    return copy.deepcopy(value)


def json_depth(value: Any) -> int:
    """Nesting depth of objects/arrays, iteratively (a scalar has depth 0; {"a": [1]} has 2)."""
    best = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            depth += 1
            best = max(best, depth)
            stack.extend((child, depth) for child in item.values())
        elif isinstance(item, (list, tuple)):
            depth += 1
            best = max(best, depth)
            stack.extend((child, depth) for child in item)
    return best


def get_path(value: Any, path: str) -> Any:
    """Dot-path lookup into objects (no list indices); a missing part yields None."""
    current = value
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        else:
            return None
    return current
