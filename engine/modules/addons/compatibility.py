"""`addons.compatibility`: score items by tag overlap with earlier selections (modules.md §6.2)."""

from __future__ import annotations

from typing import Any, ClassVar

from engine.modules.addons.base import Decoration, SelectAddon
from engine.modules.base import ExecutionContext, ModuleExecutionError, ModuleInput

Tags = dict[str, dict[str, float]]


def _flatten(source: Any) -> list[Any]:
    out: list[Any] = []
    stack = [source]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(reversed(node))
        else:
            out.append(node)
    return out


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return None


def item_tags(item: Any) -> Tags | None:
    """`{category: [{tag, value}]}` → `{category: {tag: value}}` (larger value wins)."""
    tags = item.get("tags") if isinstance(item, dict) else None
    if not isinstance(tags, dict):
        return None
    out: Tags = {}
    for category, entries in tags.items():
        table = out.setdefault(category, {})
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict):
                continue
            value = _number(entry.get("value"))
            tag = entry.get("tag")
            if value is None or not isinstance(tag, str):
                continue
            table[tag] = max(table.get(tag, value), value)
    return out


def merge_tags(source: Any) -> Tags:
    merged: Tags = {}
    for item in _flatten(source):
        for category, table in (item_tags(item) or {}).items():
            target = merged.setdefault(category, {})
            for tag, value in table.items():
                target[tag] = max(target.get(tag, value), value)
    return merged


def score(source_tags: Tags, tags: Tags) -> int:
    shared = [c for c in tags if c in source_tags]
    if not shared:
        return 0
    sums = [sum(min(source_tags[c][t], v) for t, v in tags[c].items() if t in source_tags[c])
            for c in shared]
    return round(sum(sums) / len(shared))


def threshold_color(value: int, rules: list[Any]) -> str | None:
    best: tuple[float, str] | None = None
    for rule in rules:
        if not isinstance(rule, dict) or "color" not in rule:
            continue
        low = _number(rule.get("min"))
        if low is not None and low <= value and (best is None or low >= best[0]):
            best = (low, rule["color"])
    return best[1] if best else None


class CompatibilityAddon(SelectAddon):
    module_id: ClassVar[str] = "addons.compatibility"
    short_name: ClassVar[str] = "compatibility"
    inputs = (
        ModuleInput(name="source", type="array"),
        ModuleInput(name="colors", type="array", required=False, default=[]),
    )

    def decorate(self, items: list[dict[str, Any]], inputs: dict[str, Any],
                 context: ExecutionContext) -> list[Decoration]:
        if not isinstance(inputs.get("source"), list):
            raise ModuleExecutionError("addons.compatibility requires a source array")
        source_tags = merge_tags(inputs["source"])
        rules = inputs.get("colors") or []
        out: list[Decoration] = []
        for item in items:
            tags = item_tags(item)
            if tags is None:
                out.append(None)
                continue
            value = score(source_tags, tags)
            color = threshold_color(value, rules)
            decorators = []
            if color is not None:
                decorators += [self.decorator("border", color=color),
                               self.decorator("swatch", color=color)]
            decorators.append(self.decorator("badge", text=str(value) + "% match"))
            out.append(({"score": value}, decorators))
        return out
