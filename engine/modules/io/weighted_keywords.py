"""`io.weighted_keywords`: template-scoped keyword weights, partitioned by scope (MOD-wk-1…3)."""

from __future__ import annotations

from typing import Any, ClassVar

from engine.jsonutil import normalize
from engine.modules.base import (
    ExecutableModule,
    ExecutionContext,
    ModuleExecutionError,
    ModuleInput,
    ModuleOutput,
)
from engine.validation import validate_pipeline

_SCOPE_FIELDS = ("workflow_template_id", "scope")
_RESERVED = {"keyword", "weight", "workflow_template_id", "scope", "_id"}


def extra_fields(element: dict[str, Any]) -> dict[str, Any]:
    """Fields copied onto the keyword document; never reserved names or Mongo-path-like keys."""
    return {key: value for key, value in element.items()
            if key not in _RESERVED and not key.startswith("$") and "." not in key}


class IoWeightedKeywordsModule(ExecutableModule):
    module_id: ClassVar[str] = "io.weighted_keywords"
    inputs = (
        ModuleInput(name="mode", type="string"),
        ModuleInput(name="weighted_keywords", type="array", required=False, default=None),
        ModuleInput(name="accumulate_weight", type="boolean", required=False, default=True),
        ModuleInput(name="pipeline", type="array", required=False, default=[]),
    )
    outputs = (ModuleOutput(name="weighted_keywords", type="array"),
               ModuleOutput(name="count", type="integer"),
               ModuleOutput(name="saved_count", type="integer"))

    def execute(self, inputs: dict[str, Any], context: ExecutionContext) -> dict[str, Any]:
        mode = inputs["mode"]
        if mode not in ("save", "load"):
            raise ModuleExecutionError(f"Unknown mode '{mode}' (expected 'save' or 'load')",
                                       error_type="input_validation_failed")
        if not context.workflow_template_id:
            raise ModuleExecutionError("io.weighted_keywords requires a workflow_template_id")
        if mode == "load":
            return self._load(inputs.get("pipeline") or [], context)
        return self._save(inputs.get("weighted_keywords") or [],
                          bool(inputs.get("accumulate_weight", True)), context)

    def _load(self, pipeline: list[Any], context: ExecutionContext) -> dict[str, Any]:
        validate_pipeline(pipeline, forbidden_match_fields=_SCOPE_FIELDS)
        scoped = [{"$match": {"workflow_template_id": context.workflow_template_id,
                              "scope": context.scope}}, *pipeline]
        docs = []
        for doc in context.store.aggregate_keywords(scoped):
            docs.append(normalize({key: value for key, value in doc.items()
                                   if key != "_id" and key not in _SCOPE_FIELDS}))
        return {"weighted_keywords": docs, "count": len(docs), "saved_count": 0}

    def _save(self, elements: list[Any], accumulate: bool,
              context: ExecutionContext) -> dict[str, Any]:
        template_id = context.workflow_template_id
        scope = context.scope
        saved = 0
        for element in elements:
            if not isinstance(element, dict):
                continue
            raw = element.get("keyword")
            if not isinstance(raw, str) or not raw.strip():
                continue
            keyword = raw.strip().lower()
            weight = element.get("weight")
            if isinstance(weight, bool) or not isinstance(weight, (int, float)):
                weight = 1
            now = context.clock.now()
            set_fields = {"last_used": now, **extra_fields(element)}
            set_on_insert = {"keyword": keyword, "workflow_template_id": template_id,
                             "scope": scope, "created_at": now}
            if accumulate:
                context.store.upsert_keyword(template_id, scope, keyword, weight,
                                             set_fields, set_on_insert)
            else:
                set_fields["weight"] = weight
                context.store.upsert_keyword(template_id, scope, keyword, None,
                                             set_fields, set_on_insert)
            saved += 1
        return {"weighted_keywords": [], "count": 0, "saved_count": saved}
