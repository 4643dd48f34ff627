"""Selected groups shared by `prompt.build_grouped_prompt` and `transform.build_dynamic_schema`.

Rule of modules.md §7.13: explicit `selected_group_configs` win; otherwise the groups are the
entries of `data` addressed by `selected_indices` (entries that address nothing are skipped).
"""

from __future__ import annotations

from typing import Any


def _single_key(entry: Any) -> Any:
    """An index entry is a key itself or a one-element path `[key]`."""
    if isinstance(entry, list) and len(entry) == 1:
        return entry[0]
    return entry


def selected_groups(data: Any, selected_indices: Any,
                    selected_group_configs: Any) -> list[tuple[str | None, Any]]:
    """Return `(key, group)` pairs in selection order; `key` is the object key for object data."""
    if (isinstance(selected_group_configs, list) and selected_group_configs
            and all(isinstance(g, dict) for g in selected_group_configs)):
        return [(None, g) for g in selected_group_configs]
    out: list[tuple[str | None, Any]] = []
    for entry in selected_indices if isinstance(selected_indices, list) else []:
        key = _single_key(entry)
        if isinstance(data, list):
            if isinstance(key, int) and not isinstance(key, bool) and 0 <= key < len(data):
                out.append((None, data[key]))
        elif isinstance(data, dict) and isinstance(key, str) and key in data:
            out.append((key, data[key]))
    return out
