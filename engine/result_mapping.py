"""A sub-action result mapped into the run's state (engine.md §13.4)."""

from __future__ import annotations

import copy
from typing import Any

from engine.errors import ExecutionFailed
from engine.jsonutil import get_path


def _merge(existing: Any, new: Any, target: str) -> list[Any]:
    existing = [] if existing is None else existing
    new = [] if new is None else new
    if not isinstance(existing, list) or not isinstance(new, list):
        raise ExecutionFailed(f"merge requires arrays at '{target}'")
    return existing + new


def apply_result_mapping(state: dict[str, Any], result: Any,
                         mapping: list[dict[str, Any]]) -> dict[str, Any]:
    """The top-level state keys the mapping changes, with their new values (`replace`/`merge`)."""
    out: dict[str, Any] = {}
    for item in mapping:
        value = copy.deepcopy(get_path(result, str(item.get("source") or "")))
        target = str(item.get("target") or "")
        mode = item.get("mode") or "replace"
        top, _, rest = target.partition(".")
        base = copy.deepcopy(out[top] if top in out else state.get(top))
        if not rest:
            new_top = _merge(base, value, target) if mode == "merge" else value
        else:
            if not isinstance(base, dict):
                base = {}
            node = base
            parts = rest.split(".")
            for part in parts[:-1]:
                if not isinstance(node.get(part), dict):
                    node[part] = {}
                node = node[part]
            leaf = parts[-1]
            node[leaf] = _merge(node.get(leaf), value, target) if mode == "merge" else value
            new_top = base
        out[top] = new_top
    return out
