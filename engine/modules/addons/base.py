"""Addon interface: decorate `user.select` items and react to a selection (modules.md §6)."""

from __future__ import annotations

from typing import Any, ClassVar

from engine.modules.base import ExecutionContext, ModuleInput, ModuleOutput

#: per-item result: `(addon data stored under _metadata.addons.<short>, decorators)` or None
Decoration = tuple[dict[str, Any], list[dict[str, Any]]] | None


class SelectAddon:
    module_id: ClassVar[str]
    short_name: ClassVar[str]
    kind: ClassVar[str] = "addon"
    interaction_type: ClassVar[str | None] = None
    inputs: ClassVar[tuple[ModuleInput, ...]] = ()
    outputs: ClassVar[tuple[ModuleOutput, ...]] = ()
    accepts_undeclared_inputs: ClassVar[bool] = False

    def decorate(self, items: list[dict[str, Any]], inputs: dict[str, Any],
                 context: ExecutionContext) -> list[Decoration]:
        """One entry per item (same order)."""
        raise NotImplementedError

    def on_selection(self, selected: list[dict[str, Any]], inputs: dict[str, Any],
                     context: ExecutionContext) -> None:
        """Called after the response half with the selected object items."""

    def decorator(self, type_: str, **fields: Any) -> dict[str, Any]:
        return {"type": type_, "addon": self.short_name, **fields}
