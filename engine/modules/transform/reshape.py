"""`transform.reshape`: build a new structure from templates over a source value (MOD-rs-1).

`$name` tokens inside template markers are rewritten to `_name` (Jinja2 names cannot start
with `$`). Evaluation uses only the sandboxed `context.templates` (SEC-12).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from engine.errors import EngineError
from engine.modules.base import (
    ExecutableModule,
    ExecutionContext,
    ModuleExecutionError,
    ModuleInput,
    ModuleOutput,
)

_MARKER = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
_DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def rewrite(text: str) -> str:
    """Rewrite `$name` to `_name` inside `{{ }}` and `{% %}` only."""
    return _MARKER.sub(lambda m: _DOLLAR.sub(lambda d: "_" + d.group(1), m.group(0)), text)


def has_markers(text: str) -> bool:
    return "{{" in text or "{%" in text


def var_name(name: str) -> str:
    return "_" + name[1:] if name.startswith("$") else name


class ReshapeModule(ExecutableModule):
    module_id: ClassVar[str] = "transform.reshape"
    inputs = (
        ModuleInput(name="source", type="any"),
        ModuleInput(name="template", type="any"),
        ModuleInput(name="context_vars", type="object", required=False, default={}),
    )
    outputs = (ModuleOutput(name="result"),)

    def execute(self, inputs: dict[str, Any], context: ExecutionContext) -> dict[str, Any]:
        source, template = inputs["source"], inputs["template"]
        variables = {var_name(k): v for k, v in (inputs.get("context_vars") or {}).items()}
        engine = context.templates
        if isinstance(template, dict) and "_output" in template:
            if not isinstance(source, list):
                raise ModuleExecutionError("transform.reshape array mode needs an array source")
            for_each = template.get("_for_each") or "$item"
            name = var_name(for_each) if isinstance(for_each, str) else "_item"
            result = []
            for index, element in enumerate(source):
                ctx = {**variables, name: element, "_index": index, "source": source}
                result.append(_evaluate(template["_output"], ctx, engine))
            return {"result": result}
        ctx = {**variables, "_source": source, "source": source}
        return {"result": _evaluate(template, ctx, engine)}


def _evaluate(value: Any, ctx: dict[str, Any], engine: Any) -> Any:
    if isinstance(value, str):
        if not has_markers(value):
            return value
        try:
            return engine.evaluate(rewrite(value), ctx, "template")
        except EngineError:
            return value
    if isinstance(value, list):
        return [_evaluate(item, ctx, engine) for item in value]
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if has_markers(key):
                try:
                    key = engine.render(rewrite(key), ctx)
                except EngineError:
                    pass
            out[key] = _evaluate(item, ctx, engine)
        return out
    return value
