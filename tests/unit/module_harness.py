"""Shared helpers for module unit tests: a hand-built ExecutionContext around a real store.

`make_context(**overrides)` wires the virtual store (`db.virtual_store.VirtualStore`) when it is
importable, else `MiniStore` below (a small mongomock-backed store implementing only what the
modules call), a FixedClock at 2026-01-01T00:00:00Z, SequentialIds and the sandboxed
TemplateEngine.
"""

from __future__ import annotations

import copy
import json
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import mongomock

from engine.clock import FixedClock
from engine.ids import SequentialIds
from engine.llm_call import LLMHelper
from engine.modules.base import ExecutionContext
from engine.settings import EngineSettings
from engine.templating import TemplateEngine
from engine.wire import InteractionResponseData

CUDDLE = Path("/work/shared/workflows/cuddle_crew")
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
LINEAGE = [{"branch_id": "br_test", "cutoff_sequence": None, "cutoff_event_id": None}]


def load_json(relative: str) -> Any:
    return json.loads((CUDDLE / relative).read_text(encoding="utf-8"))


def _aware(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    if doc is None:
        return None
    out = {}
    for key, value in doc.items():
        if key == "_id":
            continue
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        out[key] = value
    return out


class MiniStore:
    """The subset of engine.ports.Store used by the user/io/transform modules."""

    def __init__(self) -> None:
        self.db = mongomock.MongoClient().db
        self.configs: dict[tuple[str, str], dict[str, Any]] = {}
        self.table_queries: list[tuple[Any, ...]] = []

    def insert_file(self, doc: dict[str, Any]) -> None:
        self.db.workflow_files.insert_one(copy.deepcopy(doc))

    def find_latest_file(self, run_id: str, lineage: list[dict[str, Any]], filename: str,
                         category: str, group_id: str | None) -> dict[str, Any] | None:
        best = None
        for doc in self.db.workflow_files.find({"workflow_run_id": run_id, "filename": filename,
                                                "category": category, "group_id": group_id}):
            visible = any(doc["branch_id"] == e["branch_id"] and (
                e.get("cutoff_sequence") is None or doc["sequence"] <= e["cutoff_sequence"])
                for e in lineage)
            if visible and (best is None or doc["sequence"] >= best["sequence"]):
                best = doc
        return _aware(best)

    def aggregate_keywords(self, pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [_aware(d) for d in self.db.weighted_keywords.aggregate(copy.deepcopy(pipeline))]

    def upsert_keyword(self, template_id: str, scope: str, keyword: str, inc: float | None,
                       set_fields: dict[str, Any], set_on_insert: dict[str, Any]) -> None:
        update: dict[str, Any] = {"$set": dict(set_fields)}
        key = {"workflow_template_id": template_id, "scope": scope, "keyword": keyword}
        update["$setOnInsert"] = {k: v for k, v in set_on_insert.items() if k not in key}
        if inc is not None:
            update["$inc"] = {"weight": inc}
        self.db.weighted_keywords.update_one(key, update, upsert=True)

    def get_option_usage(self, template_id: str, user_id: str, step_id: str, module_name: str,
                         option: str, scope: str) -> dict[str, Any] | None:
        return _aware(self.db.option_usage.find_one({
            "workflow_template_id": template_id, "user_id": user_id, "step_id": step_id,
            "module_name": module_name, "option": option, "scope": scope}))

    def touch_option_usage(self, template_id: str, user_id: str, step_id: str, module_name: str,
                           option: str, scope: str, now: datetime) -> None:
        self.db.option_usage.update_one(
            {"workflow_template_id": template_id, "user_id": user_id, "step_id": step_id,
             "module_name": module_name, "option": option, "scope": scope},
            {"$set": {"updated_at": now}, "$setOnInsert": {"created_at": now}}, upsert=True)

    def get_config(self, type_: str, name: str) -> dict[str, Any] | None:
        value = self.configs.get((type_, name))
        return None if value is None else {"type": type_, "name": name, "value": value}

    def run_table_query(self, collection: str, filter_: dict[str, Any], fields: list[str],
                        sort: list[tuple[str, int]] | None, limit: int) -> list[dict[str, Any]]:
        self.table_queries.append((collection, filter_, fields, sort, limit))
        cursor = self.db[collection].find(filter_, dict.fromkeys(fields, 1) | {"_id": 0})
        if sort:
            cursor = cursor.sort(sort)
        return [_aware(d) for d in cursor.limit(limit)]


class MiniPipeline:
    """In-memory aggregation on a throw-away mongomock collection (as db/pipeline_eval does)."""

    def __init__(self) -> None:
        self.db = mongomock.MongoClient().db
        self.calls = 0

    def aggregate(self, documents: list[dict[str, Any]], pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.calls += 1
        coll = self.db["tmp_" + uuid.uuid4().hex]
        try:
            coll.insert_many(copy.deepcopy(documents))
            return [_aware(d) for d in coll.aggregate(copy.deepcopy(pipeline))]
        finally:
            coll.drop()


def make_store() -> Any:
    """A fresh empty VirtualStore when db/ provides one, else MiniStore."""
    try:
        from db.virtual_store import VirtualStore
    except ImportError:
        return MiniStore()
    try:
        store = VirtualStore()
        load = getattr(store, "load", None)
        if load is not None:
            load({}, now=START)
        return store
    except Exception:
        return MiniStore()


def make_pipeline() -> Any:
    """The real mongomock evaluator when db/ provides it, else MiniPipeline."""
    try:
        from db.pipeline_eval import MongomockPipelineEvaluator
    except ImportError:
        return MiniPipeline()
    return MongomockPipelineEvaluator()


def make_context(**overrides: Any) -> ExecutionContext:
    settings = EngineSettings()
    ids = SequentialIds()
    values: dict[str, Any] = dict(
        workflow_run_id="wf_test", branch_id="br_test", user_id="usr_test",
        workflow_template_id="tpl_test", workflow_template_name="test_workflow",
        workflow_version_id="ver_test", step_id="step_1", step_name="Step 1",
        step={"step_id": "step_1", "name": "Step 1", "modules": []},
        module_name="module_1", module_index=0, module_id="test.module", sequence=5,
        config={}, state={}, retryable=None, sub_actions=None, mock=False, ai_config={},
        credentials={}, providers=None, store=None, pipeline=None,
        clock=FixedClock(START), media_base_path="/tmp/wfe-media", cancel=None,
        lineage=copy.deepcopy(LINEAGE), settings=settings, new_id=ids.new_id,
        templates=TemplateEngine(settings), llm=LLMHelper(),
    )
    values.update(overrides)
    if values["store"] is None:
        values["store"] = make_store()
    if values["pipeline"] is None:
        values["pipeline"] = make_pipeline()
    return ExecutionContext(**values)


def response(**fields: Any) -> InteractionResponseData:
    return InteractionResponseData(**fields)
