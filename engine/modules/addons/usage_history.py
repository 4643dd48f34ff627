"""`addons.usage_history`: colour items by how recently the user picked them (modules.md §6.1)."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, ClassVar

from engine.clock import iso_z
from engine.modules.addons.base import Decoration, SelectAddon
from engine.modules.base import ExecutionContext, ModuleExecutionError, ModuleInput

_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_]+)\}")
UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400,
                "month": 30 * 86400}
_BADGE_UNITS = (("mo", 30 * 86400), ("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60))


def track_key(item: dict[str, Any], key_format: str) -> str:
    """Replace `{field}` by the item's field value (regex substitution, never str.format)."""
    def value(match: re.Match[str]) -> str:
        found = item.get(match.group(1))
        return "" if found is None else str(found)
    return _PLACEHOLDER.sub(value, key_format)


def _color(rule: dict[str, Any]) -> str | None:
    color: str | None = rule["color"]  # as configured (the workflow's own value)
    return color


def rule_color(age_seconds: float, rules: list[Any]) -> str | None:
    """First matching range rule, else a bare `{color}` default (the item was used)."""
    default = None
    for rule in rules:
        if not isinstance(rule, dict) or "color" not in rule:
            continue
        if "max_hours" in rule:
            if isinstance(rule["max_hours"], (int, float)) and age_seconds / 3600 < rule["max_hours"]:
                return _color(rule)
            continue
        if "unit" in rule or "min" in rule or "max" in rule:
            unit = UNIT_SECONDS.get(rule.get("unit", "hour"))
            if unit is None:
                continue
            age = age_seconds / unit
            low, high = rule.get("min"), rule.get("max")
            if (low is None or age >= low) and (high is None or age < high):
                return _color(rule)
            continue
        if default is None:
            default = rule["color"]
    return default


def badge_text(age_seconds: float) -> str:
    for suffix, size in _BADGE_UNITS:
        if age_seconds >= size or suffix == "m":
            return str(int(max(age_seconds, 0) // size)) + suffix + " ago"
    return "0m ago"


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


class UsageHistoryAddon(SelectAddon):
    module_id: ClassVar[str] = "addons.usage_history"
    short_name: ClassVar[str] = "usage_history"
    inputs = (
        ModuleInput(name="track_key_format", type="string", required=False, default="{label}"),
        ModuleInput(name="colors", type="array", required=False, default=[]),
    )

    def decorate(self, items: list[dict[str, Any]], inputs: dict[str, Any],
                 context: ExecutionContext) -> list[Decoration]:
        key_format = inputs.get("track_key_format") or "{label}"
        rules = inputs.get("colors") or []
        now = context.clock.now()
        out: list[Decoration] = []
        for item in items:
            doc = context.store.get_option_usage(
                context.workflow_template_id, context.user_id, context.step_id,
                context.module_name, track_key(item, key_format), context.scope)
            last_used = doc.get("updated_at") if doc else None
            if not isinstance(last_used, datetime):
                out.append(({"last_used": None, "color": None}, []))
                continue
            age = (now - _aware(last_used)).total_seconds()
            color = rule_color(age, rules)
            decorators = []
            if color is not None:
                decorators += [self.decorator("border", color=color),
                               self.decorator("swatch", color=color)]
            decorators.append(self.decorator("badge", text=badge_text(age)))
            out.append(({"last_used": iso_z(last_used), "color": color}, decorators))
        return out

    def on_selection(self, selected: list[dict[str, Any]], inputs: dict[str, Any],
                     context: ExecutionContext) -> None:
        if not (context.step_id and context.user_id and context.workflow_template_id):
            raise ModuleExecutionError("usage_history needs step_id, user_id and template id")
        key_format = inputs.get("track_key_format") or "{label}"
        now = context.clock.now()
        for item in selected:
            context.store.touch_option_usage(
                context.workflow_template_id, context.user_id, context.step_id,
                context.module_name, track_key(item, key_format), context.scope, now)
