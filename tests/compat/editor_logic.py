"""What the reference editor computes from server answers, re-stated in Python (issue 9):
`auto-select.ts` `buildAutoSelectionResponse` (the answers it sends for prerequisite
interactions) and `StatePanel.tsx` `transformStateForDisplay` + `buildStateGroups` (how it
reads the state view). Pure functions; the wire side is editor_protocol.py."""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]


def module_list(workflow: Json) -> list[tuple[str, str]]:
    """Every module in workflow order as `(step_id, module_name)` (`getModuleOrder`)."""
    return [(step["step_id"], module.get("name") or "") for step in workflow["steps"]
            for module in step["modules"]]


# ---------------------------------------------------------------------- auto-select.ts


def _js_truthy(value: Any) -> bool:
    """JavaScript truthiness (`{}` and `[]` are truthy, unlike Python's)."""
    return value is not None and value is not False and value != 0 and value != ""


def _obj(value: Any) -> Json | None:
    return value if isinstance(value, dict) else None


def _selectable(schema: Any) -> bool:
    obj = _obj(schema)
    if obj is None:
        return False
    return obj.get("selectable") is True or (_obj(obj.get("_ux")) or {}).get("selectable") is True


def _unwrap(path: list[Any]) -> Any:
    return path[0] if len(path) == 1 else path


def _level(data: Any, prefix: list[Any]) -> list[Any]:
    if isinstance(data, list):
        return [_unwrap([*prefix, i]) for i in range(len(data))]
    obj = _obj(data)
    return [] if obj is None else [_unwrap([*prefix, key]) for key in obj]


def _candidates(schema: Any, data: Any, path: list[Any]) -> list[Any]:
    obj = _obj(schema)
    if obj is None:
        return []
    if _selectable(obj):
        return _level(data, path)
    kind = obj.get("type") if isinstance(obj.get("type"), str) else None
    if kind == "array" and isinstance(data, list):
        items = obj.get("items")
        if _selectable(items):
            return _level(data, path)
        if data and items:
            return _candidates(items, data[0], [*path, 0])
    if kind == "object":
        data_obj, properties = _obj(data), _obj(obj.get("properties"))
        if data_obj is not None and properties is not None:
            for key, prop in properties.items():
                if key not in data_obj:
                    continue
                if _selectable(prop):
                    found = _level(data_obj[key], [*path, key])
                    if found:
                        return found
                nested = _candidates(prop, data_obj[key], [*path, key])
                if nested:
                    return nested
    return []


def _count(request: Json) -> int:
    display = _obj(request.get("display_data")) or {}
    if display.get("multi_select") is not True:
        return 1
    low = request.get("min_selections")
    low = low if isinstance(low, int) and low > 0 else 1
    high = request.get("max_selections")
    high = high if isinstance(high, int) and high > 0 else low
    return max(1, min(low, high))


def auto_select(request: Json) -> Json | None:
    """auto-select.ts `buildAutoSelectionResponse`."""
    display = _obj(request.get("display_data"))
    if display is None:
        return None
    schema, data = display.get("schema"), display.get("data", ...)
    if not _js_truthy(schema) or data is ...:
        return None
    candidates = _candidates(schema, data, [])
    if not candidates:
        return None
    return {"selected_indices": candidates[:_count(request)], "cancelled": False}


# ---------------------------------------------------------------------- StatePanel.tsx


def state_groups(workflow: Json, state: Json, up_to: tuple[str, str] | None = None
                 ) -> list[tuple[str, list[tuple[str, Any]], tuple[str, str] | None]]:
    """`transformStateForDisplay` then `buildStateGroups`: (module, entries, available to)."""
    flat: Json = {}
    for step_data in (state.get("steps") or {}).values():
        for module_name, module_data in (step_data if isinstance(step_data, dict) else {}).items():
            if isinstance(module_data, dict) and module_data.get("module_completed"):
                flat[module_name] = module_data["module_completed"]
    flat.update(state.get("state_mapped") or {})
    modules = module_list(workflow)
    groups = []
    for index, (step_id, name) in enumerate(modules):
        if up_to is not None and (step_id, name) == up_to:
            break
        output = flat.get(name)
        if not isinstance(output, dict) or not isinstance(output.get("_state_mapped"), dict):
            continue
        entries = [(key, flat[key]) for key in output["_state_mapped"] if key in flat]
        if entries:
            groups.append((name, entries, modules[index + 1] if index + 1 < len(modules) else None))
    return groups


__all__ = ["auto_select", "module_list", "state_groups"]
