"""Input validation against a module's declarations (MOD-core-4), run after resolution."""

from __future__ import annotations

import copy
from typing import Any

from engine.errors import InputValidationFailed
from engine.modules.base import ModuleBase


def _matches(value: Any, type_name: str) -> bool:
    if type_name == "any":
        return True
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "boolean":
        return isinstance(value, bool)
    if type_name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if type_name == "object":
        return isinstance(value, dict)
    if type_name == "array":
        return isinstance(value, list)
    return True


def check_inputs(module: ModuleBase, inputs: dict[str, Any]) -> dict[str, Any]:
    """Apply defaults and reject missing required inputs or wrong JSON types."""
    out = dict(inputs)
    for decl in module.inputs:
        value = out.get(decl.name)
        if value is None:
            if decl.required:
                raise InputValidationFailed(
                    f"Module '{module.module_id}' validation failed: "
                    f"Required input '{decl.name}' missing",
                    details={"input": decl.name})
            out[decl.name] = copy.deepcopy(decl.default)
            continue
        types = [t.strip() for t in decl.type.split("|")]
        if not any(_matches(value, t) for t in types):
            raise InputValidationFailed(f"Input '{decl.name}' must be {decl.type}",
                                        details={"input": decl.name, "expected": decl.type})
    return out
