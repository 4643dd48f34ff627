"""`transform.render_template_array`: render one template per item (MOD-rta-1).

Rendering goes through the sandboxed `context.templates` only (SEC-12).
"""

from __future__ import annotations

from typing import Any, ClassVar

from engine.errors import EngineError
from engine.modules.base import (
    ExecutableModule,
    ExecutionContext,
    ModuleExecutionError,
    ModuleInput,
    ModuleOutput,
)

MAX_ITEMS = 1000


class RenderTemplateArrayModule(ExecutableModule):
    module_id: ClassVar[str] = "transform.render_template_array"
    inputs = (
        ModuleInput(name="items", type="array"),
        ModuleInput(name="template", type="string"),
        ModuleInput(name="item_variable", type="string", required=False, default="item"),
        ModuleInput(name="index_variable", type="string", required=False, default="index"),
        ModuleInput(name="separator", type="string", required=False, default="\n\n"),
        ModuleInput(name="extra_context", type="object", required=False, default={}),
    )
    outputs = (ModuleOutput(name="rendered", type="string"),
               ModuleOutput(name="sections", type="array"),
               ModuleOutput(name="count", type="integer"))

    def execute(self, inputs: dict[str, Any], context: ExecutionContext) -> dict[str, Any]:
        items = inputs["items"]
        if len(items) > MAX_ITEMS:
            raise ModuleExecutionError(f"render_template_array accepts at most {MAX_ITEMS} items")
        item_var = inputs.get("item_variable") or "item"
        index_var = inputs.get("index_variable") or "index"
        extra = inputs.get("extra_context") or {}
        n = len(items)
        sections: list[str] = []
        for i, item in enumerate(items):
            ctx: dict[str, Any] = dict(extra)
            if isinstance(item, dict):
                ctx.update({k: v for k, v in item.items() if not k.startswith("_")})
            ctx[item_var] = item
            ctx[index_var] = i
            ctx["loop"] = {"index": i + 1, "index0": i, "first": i == 0, "last": i == n - 1,
                           "length": n}
            try:
                sections.append(context.templates.render(inputs["template"], ctx))
            except EngineError as exc:
                sections.append(f"[Error rendering item {i}: {exc.message}]")
        separator = inputs.get("separator")
        if separator is None:
            separator = "\n\n"
        return {"rendered": separator.join(sections), "sections": sections, "count": n}
