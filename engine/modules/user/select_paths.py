"""Selection paths of `user.select` (MOD-select-2/3): derivation from a response and lookup.

Clients send selections in two shapes (unwrapped `["scenes", 4]` for a single selection,
wrapped `[["scenes", 4]]`), plus a legacy `selected_options` form; all become a list of paths.
"""

from __future__ import annotations

import json
import re
from typing import Any

from engine.wire import InteractionResponseData

MISSING: Any = object()
_DIGITS = re.compile(r"[0-9]+")


def as_path(entry: Any) -> list[Any]:
    """An integer or string is a one-element path; an array is a path itself."""
    if isinstance(entry, list):
        return list(entry)
    return [entry]


def option_paths(option: Any) -> list[list[Any]]:
    """Paths of one `selected_options` entry: `index`, else `metadata.indices`, else `_index`."""
    if not isinstance(option, dict):
        return []
    if option.get("index") is not None:
        return [as_path(option["index"])]
    metadata: Any = option.get("metadata") if isinstance(option.get("metadata"), dict) else {}
    indices = metadata.get("indices")
    if indices is not None:
        if isinstance(indices, list) and indices and all(isinstance(i, list) for i in indices):
            return [list(i) for i in indices]
        return [as_path(indices)]
    if metadata.get("_index") is not None:
        return [as_path(metadata["_index"])]
    return []


def derive_paths(response: InteractionResponseData,
                 multi_select: bool) -> tuple[list[list[Any]], bool]:
    """Return `(paths, from_options)` for a response (MOD-select-2)."""
    indices = response.selected_indices
    if indices:
        if not multi_select and isinstance(indices[0], str) and len(indices) >= 2:
            return [list(indices)], False
        return [as_path(entry) for entry in indices], False
    if response.selected_options:
        paths: list[list[Any]] = []
        for option in response.selected_options:
            paths.extend(option_paths(option))
        return paths, True
    return [], False


def lookup(data: Any, path: list[Any]) -> Any:
    """Walk `data` by `path` (object by key, array by in-range index); `MISSING` when absent."""
    if not path:
        return MISSING
    node = data
    for key in path:
        if isinstance(node, dict):
            if not isinstance(key, str) or key not in node:
                return MISSING
            node = node[key]
        elif isinstance(node, list):
            if isinstance(key, bool):
                return MISSING
            if isinstance(key, str) and _DIGITS.fullmatch(key):
                key = int(key)
            if not isinstance(key, int) or not 0 <= key < len(node):
                return MISSING
            node = node[key]
        else:
            return MISSING
    return node


def path_text(path: list[Any]) -> str:
    return json.dumps(path, ensure_ascii=False)
