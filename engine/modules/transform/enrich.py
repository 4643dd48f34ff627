"""`transform.enrich`: join enrichment records into a document by id, strictly (MOD-enr-1).

Strictness is the point: a duplicate enrichment id, a document object without its enrichment,
or an enrichment that nothing used all indicate an LLM answer that drifted from its input.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from engine.modules.base import (
    ExecutableModule,
    ExecutionContext,
    ModuleExecutionError,
    ModuleInput,
    ModuleOutput,
)


def _id_text(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


class _Enricher:
    def __init__(self, enrichments: list[Any]) -> None:
        self.enrichments = enrichments
        self.indexes: dict[str, dict[Any, int]] = {}
        self.used: set[int] = set()
        self.id_fields: list[str] = []

    def index(self, id_field: str) -> dict[Any, int]:
        if id_field not in self.indexes:
            table: dict[Any, int] = {}
            for position, enrichment in enumerate(self.enrichments):
                if not isinstance(enrichment, dict) or id_field not in enrichment:
                    continue
                key = _key(enrichment[id_field])
                if key in table:
                    raise ModuleExecutionError(
                        "Duplicate enrichment id '" + _id_text(enrichment[id_field]) + "'")
                table[key] = position
            self.indexes[id_field] = table
            self.id_fields.append(id_field)
        return self.indexes[id_field]

    def walk(self, node: Any, schema: Any) -> None:
        if not isinstance(schema, dict):
            return
        if isinstance(node, list) and isinstance(schema.get("items"), dict):
            for item in node:
                self.walk(item, schema["items"])
            return
        if not isinstance(node, dict) or not isinstance(schema.get("properties"), dict):
            return
        for name, sub in schema["properties"].items():
            if isinstance(sub, dict) and sub.get("type") == "enrichment_map":
                self.apply(node, name, sub)
            elif name in node:
                self.walk(node[name], sub)

    def apply(self, obj: dict[str, Any], name: str, spec: dict[str, Any]) -> None:
        doc_field: Any = spec.get("document_data_id_field")
        enr_field: Any = spec.get("enrichment_data_id_field")
        source_field: Any = spec.get("source_field")
        if not all(isinstance(f, str) for f in (doc_field, enr_field, source_field)):
            raise ModuleExecutionError("enrichment_map '" + name + "' needs document_data_id_field, "
                                       "enrichment_data_id_field and source_field")
        table = self.index(enr_field)
        doc_id = obj.get(doc_field)
        position = table.get(_key(doc_id))
        if position is None:
            raise ModuleExecutionError("No enrichment for id '" + _id_text(doc_id) + "'")
        self.used.add(position)
        obj[name] = copy.deepcopy(self.enrichments[position].get(source_field))

    def check_all_used(self) -> None:
        for position, enrichment in enumerate(self.enrichments):
            if position in self.used:
                continue
            ident: Any = position
            if isinstance(enrichment, dict):
                for field in self.id_fields:
                    if field in enrichment:
                        ident = enrichment[field]
                        break
            raise ModuleExecutionError("Enrichment '" + _id_text(ident) + "' was never used")


def _key(value: Any) -> Any:
    """Hashable lookup key; unhashable ids (objects, arrays) compare by their JSON repr."""
    try:
        hash(value)
        return (type(value) is bool, value)
    except TypeError:
        return ("json", repr(value))


class EnrichModule(ExecutableModule):
    module_id: ClassVar[str] = "transform.enrich"
    inputs = (
        ModuleInput(name="data", type="any"),
        ModuleInput(name="enrichments", type="array"),
        ModuleInput(name="mapping_schema", type="object"),
    )
    outputs = (ModuleOutput(name="enriched_data"),)

    def execute(self, inputs: dict[str, Any], context: ExecutionContext) -> dict[str, Any]:
        data = copy.deepcopy(inputs["data"])
        enricher = _Enricher(inputs["enrichments"])
        enricher.walk(data, inputs["mapping_schema"])
        enricher.check_all_used()
        return {"enriched_data": data}
