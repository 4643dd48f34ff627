"""Apply `user.select` addons (MOD-addon-1): resolve their inputs, decorate items, on_selection.

Addon configs live on the module config (`addons: [{addon_id, priority, inputs}]`,
workflow-format.md §6.3); the module finds its own config in `context.step`. Inputs are
resolved with the sandboxed `context.templates` only (SEC-12) and stored in `module_state`, so
the response half uses exactly what was resolved for the request (TPL-3). Any addon failure is
logged and ignored: decoration is cosmetic and must never fail the module.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from engine.modules.addons.base import SelectAddon
from engine.modules.addons.compatibility import CompatibilityAddon
from engine.modules.addons.usage_history import UsageHistoryAddon
from engine.modules.base import ExecutionContext

log = logging.getLogger(__name__)

ADDON_CLASSES: dict[str, type[SelectAddon]] = {
    UsageHistoryAddon.module_id: UsageHistoryAddon,
    CompatibilityAddon.module_id: CompatibilityAddon,
}
ADDON_IDS = frozenset(ADDON_CLASSES)


def module_config(context: ExecutionContext) -> dict[str, Any] | None:
    """This module's config inside the step: by instance name, else by index."""
    modules = (context.step or {}).get("modules")
    if not isinstance(modules, list):
        return None
    for config in modules:
        if isinstance(config, dict) \
                and (config.get("name") or config.get("module_id")) == context.module_name:
            return config
    index = context.module_index
    if 0 <= index < len(modules) and isinstance(modules[index], dict) \
            and modules[index].get("module_id") == context.module_id:
        found: dict[str, Any] = modules[index]
        return found
    return None


def _template_context(context: ExecutionContext) -> dict[str, Any]:
    from engine.templating import template_context
    return template_context(dict(context.state), dict(context.step or {}),
                            dict(context.config or {}), context.clock)


def _with_defaults(addon: SelectAddon, inputs: dict[str, Any]) -> dict[str, Any]:
    out = dict(inputs)
    for declared in addon.inputs:
        if out.get(declared.name) is None and not declared.required:
            out[declared.name] = copy.deepcopy(declared.default)
    return out


def resolve_addon_configs(context: ExecutionContext) -> list[dict[str, Any]]:
    """`[{addon_id, priority, inputs}]` with resolved inputs, sorted by priority (stable)."""
    config = module_config(context)
    raw = config.get("addons") if config else None
    if not isinstance(raw, list) or not raw:
        return []
    resolved: list[dict[str, Any]] = []
    tctx: dict[str, Any] | None = None
    for index, entry in enumerate(raw):
        try:
            addon_id = entry["addon_id"]
            addon = ADDON_CLASSES[addon_id]()
            priority = entry.get("priority", 0)
            inputs = entry.get("inputs") or {}
            if context.templates is not None:
                if tctx is None:
                    tctx = _template_context(context)
                inputs = context.templates.resolve_inputs(inputs, tctx, f"addons[{index}].inputs")
            else:
                inputs = {k: v for k, v in inputs.items() if k != "resolver_schema"}
            resolved.append({"addon_id": addon_id,
                             "priority": priority if isinstance(priority, int) else 0,
                             "inputs": _with_defaults(addon, inputs)})
        except Exception:
            log.warning("addon %d of module %s ignored: input resolution failed", index,
                        context.module_name, exc_info=True)
    resolved.sort(key=lambda c: c["priority"])
    return resolved


def select_items(data: Any) -> list[dict[str, Any]]:
    """The decoratable items: object elements of an array, or of the arrays inside an object."""
    if isinstance(data, list):
        return [item for item in data if isinstance(item, dict)]
    if isinstance(data, dict):
        return [item for value in data.values() if isinstance(value, list)
                for item in value if isinstance(item, dict)]
    return []


def apply_addons(data: Any, configs: list[dict[str, Any]], context: ExecutionContext) -> Any:
    """A decorated deep copy of `data` (the stored `data` stays undecorated)."""
    decorated = copy.deepcopy(data)
    if not configs:
        return decorated
    items = select_items(decorated)
    for config in configs:
        try:
            addon = ADDON_CLASSES[config["addon_id"]]()
            results = addon.decorate(items, config["inputs"], context)
            for item, result in zip(items, results):
                if result is None:
                    continue
                addon_data, decorators = result
                meta = item.get("_metadata")
                if not isinstance(meta, dict):
                    meta = item["_metadata"] = {}
                if not isinstance(meta.get("addons"), dict):
                    meta["addons"] = {}
                if not isinstance(meta.get("decorators"), list):
                    meta["decorators"] = []
                meta["addons"][addon.short_name] = addon_data
                meta["decorators"].extend(decorators)
        except Exception:
            log.warning("addon %s failed while decorating module %s", config.get("addon_id"),
                        context.module_name, exc_info=True)
    return decorated


def run_on_selection(configs: list[dict[str, Any]], selected: list[Any],
                     context: ExecutionContext) -> None:
    items = [item for item in selected if isinstance(item, dict)]
    for config in configs:
        try:
            ADDON_CLASSES[config["addon_id"]]().on_selection(items, config["inputs"], context)
        except Exception:
            log.warning("addon %s failed on selection in module %s", config.get("addon_id"),
                        context.module_name, exc_info=True)
