"""`db.query`: a read-only, allow-listed query on an administrator-configured table (MOD-dbq-1/2).

Everything a workflow may touch is described by `config` documents; the module refuses any
field, operator, limit or collection outside that description before the store is reached.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any, ClassVar

from engine.jsonutil import canonical_json, get_path
from engine.mock_data import MOCK_WORDS
from engine.modules.base import (
    ExecutableModule,
    ExecutionContext,
    ModuleExecutionError,
    ModuleInput,
    ModuleOutput,
)

ALWAYS_REFUSED = frozenset({"$where", "$function", "$accumulator", "$expr", "$regex", "$text",
                            "$jsonSchema"})
LOGICAL = frozenset({"$and", "$or", "$nor"})
#: storage.md §3.1 — never queryable through db.query (ST-8)
ENGINE_COLLECTIONS = frozenset({
    "users", "access_keys", "refresh_tokens", "invitation_codes", "workflow_templates",
    "workflow_versions", "workflow_runs", "workflow_run_version_history", "branches", "events",
    "interaction_answers", "workflow_files", "tokens", "weighted_keywords", "option_usage",
    "config", "content_generation_metadata", "generated_content", "task_queue",
    "schema_migrations",
})
_CONTEXT_KEYS = ("workflow_run_id", "workflow_template_id", "user_id", "step_id")


def fail(message: str) -> ModuleExecutionError:
    return ModuleExecutionError(message, error_type="execution_failed")


def check_query_shape(query: dict[str, Any]) -> tuple[dict[str, Any], list[str], Any, Any]:
    """The declared shape `{filter?, fields, sort?, limit?}` (input validation)."""
    filter_: Any = query.get("filter")
    filter_ = {} if filter_ is None else filter_
    fields: Any = query.get("fields")
    sort = query.get("sort")
    limit = query.get("limit")
    bad = None
    if not isinstance(filter_, dict):
        bad = "query.filter must be an object"
    elif not isinstance(fields, list) or not fields or not all(isinstance(f, str) for f in fields):
        bad = "query.fields must be a non-empty array of strings"
    elif sort is not None and not isinstance(sort, (dict, list)):
        bad = "query.sort must be an object or an array"
    elif limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        bad = "query.limit must be a positive integer"
    if bad:
        raise ModuleExecutionError(bad, error_type="input_validation_failed")
    return filter_, fields, sort, limit


def normalize_sort(sort: Any) -> list[tuple[str, int]] | None:
    """`{field: dir}`, `[[field, dir]]` or `[{field: dir}]` → `[(field, ±1)]`."""
    if not sort:
        return None
    pairs: list[tuple[Any, Any]] = []
    if isinstance(sort, dict):
        pairs = list(sort.items())
    else:
        for entry in sort:
            if isinstance(entry, dict):
                pairs.extend(entry.items())
            elif isinstance(entry, list) and len(entry) == 2:
                pairs.append((entry[0], entry[1]))
            elif isinstance(entry, str):
                pairs.append((entry, 1))
            else:
                raise fail("Invalid sort entry")
    out: list[tuple[str, int]] = []
    for field, direction in pairs:
        if not isinstance(field, str) or direction not in (1, -1) or isinstance(direction, bool):
            raise fail("Invalid sort entry")
        out.append((field, int(direction)))
    return out


def walk_filter(filter_: Any, fields: set[str], operators: set[str]) -> None:
    """Collect field names and operators of a filter, at every depth."""
    if isinstance(filter_, list):
        for item in filter_:
            walk_filter(item, fields, operators)
        return
    if not isinstance(filter_, dict):
        return
    for key, value in filter_.items():
        if key.startswith("$"):
            operators.add(key)
            if key in LOGICAL:
                walk_filter(value, fields, operators)
            else:
                _walk_operator_value(value, fields, operators)
        else:
            fields.add(key)
            _walk_operator_value(value, fields, operators)


def _walk_operator_value(value: Any, fields: set[str], operators: set[str]) -> None:
    if isinstance(value, list):
        for item in value:
            _walk_operator_value(item, fields, operators)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key.startswith("$"):
                operators.add(key)
            _walk_operator_value(item, fields, operators)


class DbQueryModule(ExecutableModule):
    module_id: ClassVar[str] = "db.query"
    inputs = (ModuleInput(name="table_schema", type="string"),
              ModuleInput(name="query", type="object"))
    outputs = (ModuleOutput(name="results", type="array"), ModuleOutput(name="count", type="integer"))

    def execute(self, inputs: dict[str, Any], context: ExecutionContext) -> dict[str, Any]:
        filter_, fields, sort, limit = check_query_shape(inputs["query"])
        if context.mock:
            return self._mock(inputs, fields)
        query_schema = self._config(context, "db.query", "query_schema")
        table = self._config(context, "db.table_schema", inputs["table_schema"])
        collection = table.get("collection")
        if not isinstance(collection, str) or not collection or collection in ENGINE_COLLECTIONS:
            raise fail("Table schema '" + inputs["table_schema"] + "' names a forbidden collection")
        queryable = set(table.get("queryable_fields") or [])
        filterable = set(table.get("filterable_fields") or [])
        bad_fields = [f for f in fields if f not in queryable]
        if bad_fields:
            raise fail("Fields not queryable: " + ", ".join(bad_fields))
        sort_pairs = normalize_sort(sort)
        for field, _ in sort_pairs or []:
            if field not in queryable:
                raise fail("Sort field not queryable: " + field)
        used_fields: set[str] = set()
        operators: set[str] = set()
        walk_filter(filter_, used_fields, operators)
        for field in sorted(used_fields):
            if field not in filterable:
                raise fail("Filter field not allowed: " + field)
        allowed = query_schema.get("allowed_operators")
        blocked = set(query_schema.get("blocked_operators") or [])
        for op in sorted(operators):
            if op in ALWAYS_REFUSED or op in blocked or (allowed is not None and op not in allowed):
                raise fail("Operator not allowed: " + op)
        max_limit = query_schema.get("max_limit", 1000)
        limit = limit if limit is not None else query_schema.get("default_limit", 100)
        if limit > max_limit:
            raise fail(f"limit {limit} exceeds max_limit {max_limit}")
        context_filters = table.get("context_filters") or {}
        protected: set[str] = set()
        walk_filter(context_filters, protected, set())
        clash = sorted(used_fields & protected)
        if clash:
            raise fail("Filter may not mention context filter fields: " + ", ".join(clash))
        final = self._substitute(filter_, inputs, context)
        if context_filters:
            ctx_filter = self._substitute(context_filters, inputs, context)
            final = {"$and": [ctx_filter, final]} if final else ctx_filter
        results = context.store.run_table_query(collection, final, list(fields), sort_pairs, limit)
        projected = [{f: doc[f] for f in fields if f in doc} for doc in results]
        return {"results": projected, "count": len(projected)}

    @staticmethod
    def _config(context: ExecutionContext, type_: str, name: str) -> dict[str, Any]:
        doc = context.store.get_config(type_, name)
        if doc is None or not isinstance(doc.get("value"), dict):
            raise fail("Missing config " + type_ + "/" + name)
        value: dict[str, Any] = doc["value"]
        return value

    def _substitute(self, value: Any, inputs: dict[str, Any], context: ExecutionContext) -> Any:
        """Replace placeholder strings (`$NOW`, `$context.*`, `$state.*`, `$input.*`)."""
        if isinstance(value, dict):
            return {k: self._substitute(v, inputs, context) for k, v in value.items()}
        if isinstance(value, list):
            return [self._substitute(v, inputs, context) for v in value]
        if not isinstance(value, str) or not value.startswith("$"):
            return value
        if value == "$NOW":
            return context.clock.now()
        if value.startswith("$context."):
            key = value[len("$context."):]
            if key not in _CONTEXT_KEYS:
                raise fail("Unknown placeholder " + value)
            return getattr(context, key)
        if value.startswith("$state."):
            return get_path(dict(context.state), value[len("$state."):])
        if value.startswith("$input."):
            return get_path(inputs, value[len("$input."):])
        return value

    @staticmethod
    def _mock(inputs: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        """Two deterministic rows seeded by the query itself (no store access, MOD-dbq-2)."""
        digest = hashlib.sha256(canonical_json({"table_schema": inputs["table_schema"],
                                                "fields": fields})).digest()
        rng = random.Random(int.from_bytes(digest[:8], "big"))
        results = []
        for n in (1, 2):
            row: dict[str, Any] = {"id": "mock-00" + str(n)}
            for field in fields:
                if field != "id":
                    row[field] = rng.choice(MOCK_WORDS)
            results.append(row)
        return {"results": results, "count": 2}
