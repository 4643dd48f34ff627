"""`QueryStore`: the engine's `Store` port over any `CollectionExecutor` (ST-1).

All storage semantics live here and in db/queries.py; the virtual store (mongomock) and the
production store (motor bridged to a sync executor) differ only in the executor they pass in,
which is what lets one contract suite (storage.md §6) prove they behave identically.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from db import queries as q
from db.executor import CollectionExecutor
from db.indexes import ENGINE_COLLECTIONS
from db.queries import QuerySpec
from engine.errors import ConcurrentModification, EngineError, ExecutionFailed
from engine.global_templates import GLOBAL_OWNER

Doc = dict[str, Any]
Lineage = list[dict[str, Any]]


class QueryStore:
    """Implements engine.ports.Store using only the shapes of db/queries.py."""

    def __init__(self, executor: CollectionExecutor) -> None:
        self.executor = executor

    # ---- helpers

    def _find(self, spec: QuerySpec) -> list[Doc]:
        return self.executor.find(spec.collection, spec.filter, projection=spec.projection,
                                  sort=spec.sort, skip=spec.skip, limit=spec.limit)

    def _first(self, spec: QuerySpec) -> Doc | None:
        return self.executor.find_one(spec.collection, spec.filter, projection=spec.projection,
                                      sort=spec.sort)

    def _one(self, coll: str, flt: Doc) -> Doc | None:
        return self.executor.find_one(coll, flt)

    # ---- runs

    def insert_run(self, doc: Doc) -> None:
        self.executor.insert_one("workflow_runs", doc)

    def get_run(self, run_id: str) -> Doc | None:
        return self._one("workflow_runs", q.run_filter(run_id))

    def update_run(self, run_id: str, fields: Doc) -> None:
        if fields:
            self.executor.update_one("workflow_runs", q.run_filter(run_id), q.run_update(fields))

    def find_active_run(self, user_id: str, project_name: str, template_id: str,
                        mock: bool) -> Doc | None:
        return self._first(q.active_run_query(user_id, project_name, template_id, mock))

    def top_level_runs(self) -> list[Doc]:
        return self._find(q.top_level_runs_query())

    def list_runs(self, user_id: str, active_only: bool, include_mock: bool, limit: int,
                  offset: int) -> list[Doc]:
        if limit <= 0:
            return []
        return self._find(q.list_runs_query(user_id, active_only, include_mock, limit, offset))

    def list_child_runs(self, parent_run_id: str) -> list[Doc]:
        return self._find(q.child_runs_query([parent_run_id]))

    def _run_tree(self, run_id: str) -> list[str]:
        """The run and all its descendants (child runs of sub-actions, recursively)."""
        ids = [run_id]
        seen = {run_id}
        frontier = [run_id]
        while frontier:
            spec = q.child_runs_query(frontier)
            children = self.executor.find(spec.collection, spec.filter,
                                          projection={"workflow_run_id": 1, "_id": 0})
            frontier = [c["workflow_run_id"] for c in children
                        if c.get("workflow_run_id") not in seen]
            seen.update(frontier)
            ids.extend(frontier)
        return ids

    def delete_run_cascade(self, run_id: str) -> None:
        """engine.md §15.6: run-scoped documents first, run documents last (retry-safe)."""
        run_ids = self._run_tree(run_id)
        flt = q.runs_in_filter(run_ids)
        for coll in q.RUN_SCOPED_COLLECTIONS:
            self.executor.delete_many(coll, flt)
        self.executor.delete_many("workflow_runs", flt)

    # ---- branches and events

    def insert_branch(self, doc: Doc) -> None:
        self.executor.insert_one("branches", doc)

    def get_branch(self, branch_id: str) -> Doc | None:
        return self._one("branches", q.branch_filter(branch_id))

    def append_event(self, doc: Doc) -> None:
        self.executor.insert_one("events", doc)

    def max_sequence(self, run_id: str) -> int:
        doc = self._first(q.max_sequence_query(run_id))
        return int(doc["sequence"]) if doc and doc.get("sequence") is not None else 0

    def lineage_events(self, run_id: str, lineage: Lineage,
                       event_types: list[str] | None = None) -> list[Doc]:
        if not lineage or event_types == []:
            return []
        return self._find(q.lineage_events_query(run_id, lineage, event_types))

    def find_events(self, run_id: str, branch_ids: list[str] | None, event_type: str | None,
                    module_name: str | None, after_sequence: int | None,
                    limit: int) -> tuple[list[Doc], int]:
        """Events matching every filter, by `sequence`; the count ignores `limit` only."""
        flt = q.events_filter(run_id, branch_ids, event_type, module_name, after_sequence)
        total = self.executor.count_documents("events", flt)
        if limit <= 0 or total == 0:
            return [], total
        docs = self.executor.find("events", flt, sort=q.BY_SEQUENCE, limit=limit)
        return docs, total

    def find_interaction_requests(self, run_id: str, interaction_id: str) -> list[Doc]:
        return self._find(q.interaction_requests_query(run_id, interaction_id))

    # ---- answers

    def insert_answer(self, doc: Doc) -> None:
        self.executor.insert_one("interaction_answers", doc)

    def set_answer_outcome(self, run_id: str, interaction_id: str, branch_id: str, outcome: Doc,
                           now: datetime) -> None:
        self.executor.update_one("interaction_answers",
                                 q.answer_key(run_id, interaction_id, branch_id),
                                 q.answer_outcome_update(outcome, now))

    def find_answers(self, run_id: str, interaction_id: str) -> list[Doc]:
        return self._find(q.answers_query(run_id, interaction_id))

    # ---- templates and versions

    def get_or_create_template(self, user_id: str, name: str, display_name: str,
                               template_id: str, now: datetime) -> Doc:
        """One atomic upsert; a concurrent creator's duplicate-key loss re-reads the winner."""
        key = q.template_key(user_id, name)
        try:
            doc = self.executor.find_one_and_update(
                "workflow_templates", key,
                q.template_upsert(template_id, display_name, now, user_id == GLOBAL_OWNER),
                upsert=True, return_after=True)
        except ConcurrentModification:
            doc = None
        if doc is None:
            doc = self._one("workflow_templates", key)
        if doc is None:  # pragma: no cover - only if the winner was deleted in between
            raise ConcurrentModification("template could not be created")
        return doc

    def get_template(self, template_id: str) -> Doc | None:
        return self._one("workflow_templates", {"workflow_template_id": template_id})

    def list_templates(self, user_id: str) -> list[Doc]:
        return self._find(q.templates_query(user_id))

    def touch_template(self, template_id: str, now: datetime) -> None:
        self.executor.update_one("workflow_templates", {"workflow_template_id": template_id},
                                 q.touch_update(now))

    def insert_version(self, doc: Doc) -> Doc:
        """De-duplicated by the unique key (WF-20): a clash returns the stored document."""
        try:
            self.executor.insert_one("workflow_versions", doc)
        except ConcurrentModification:
            existing = self._one("workflow_versions", q.version_key(doc))
            if existing is None:
                raise
            return existing
        return dict(doc)

    def get_version(self, version_id: str) -> Doc | None:
        return self._one("workflow_versions", {"workflow_version_id": version_id})

    def find_source_version(self, template_id: str, content_hash: str) -> Doc | None:
        return self._one("workflow_versions", q.source_version_filter(template_id, content_hash))

    def list_versions(self, template_id: str, version_types: list[str], limit: int) -> list[Doc]:
        if limit <= 0 or not version_types:
            return []
        return self._find(q.versions_query(template_id, version_types, limit))

    def list_child_versions(self, parent_id: str) -> list[Doc]:
        return self._find(q.child_versions_query(parent_id))

    def insert_version_history(self, doc: Doc) -> None:
        self.executor.insert_one("workflow_run_version_history", doc)

    def list_version_history(self, run_id: str) -> list[Doc]:
        return self._find(q.version_history_query(run_id))

    # ---- files

    def insert_file(self, doc: Doc) -> None:
        self.executor.insert_one("workflow_files", doc)

    def find_latest_file(self, run_id: str, lineage: Lineage, filename: str, category: str,
                         group_id: str | None) -> Doc | None:
        if not lineage:
            return None
        return self._first(q.latest_file_query(run_id, lineage, filename, category, group_id))

    def list_files(self, run_id: str, lineage: Lineage) -> list[Doc]:
        if not lineage:
            return []
        return self._find(q.list_files_query(run_id, lineage))

    # ---- tokens

    def insert_token_usage(self, doc: Doc) -> None:
        self.executor.insert_one("tokens", doc)

    def list_token_usage(self, run_id: str) -> list[Doc]:
        return self._find(q.token_usage_query(run_id))

    # ---- weighted keywords and option usage

    def aggregate_keywords(self, pipeline: list[Doc]) -> list[Doc]:
        """MOD-wk-2: the engine prepends the scope `$match`; refuse a pipeline without it."""
        first = pipeline[0].get("$match") if pipeline and isinstance(pipeline[0], dict) else None
        if not isinstance(first, dict) or not {"workflow_template_id", "scope"} <= set(first):
            raise ExecutionFailed("Pipeline rejected: the scope $match must come first")
        return self._guarded(lambda: self.executor.aggregate("weighted_keywords", pipeline))

    def upsert_keyword(self, template_id: str, scope: str, keyword: str, inc: float | None,
                       set_fields: Doc, set_on_insert: Doc) -> None:
        self.executor.update_one(
            "weighted_keywords", q.keyword_key(template_id, scope, keyword),
            q.keyword_upsert(template_id, scope, keyword, inc, set_fields, set_on_insert),
            upsert=True)

    def get_option_usage(self, template_id: str, user_id: str, step_id: str, module_name: str,
                         option: str, scope: str) -> Doc | None:
        return self._one("option_usage", q.option_usage_key(template_id, user_id, step_id,
                                                            module_name, option, scope))

    def touch_option_usage(self, template_id: str, user_id: str, step_id: str, module_name: str,
                           option: str, scope: str, now: datetime) -> None:
        key = q.option_usage_key(template_id, user_id, step_id, module_name, option, scope)
        try:
            self.executor.update_one("option_usage", key, q.option_usage_touch(now), upsert=True)
        except ConcurrentModification:  # a concurrent upsert inserted it first: just touch
            self.executor.update_one("option_usage", key, q.touch_update(now))

    # ---- config

    def get_config(self, type_: str, name: str) -> Doc | None:
        return self._one("config", q.config_key(type_, name))

    # ---- generated content

    def insert_generation_metadata(self, doc: Doc) -> None:
        self.executor.insert_one("content_generation_metadata", doc)

    def update_generation_metadata(self, metadata_id: str, fields: Doc) -> None:
        if fields:
            self.executor.update_one("content_generation_metadata",
                                     {"content_generation_metadata_id": metadata_id},
                                     q.metadata_update(fields))

    def insert_generated_content(self, doc: Doc) -> None:
        self.executor.insert_one("generated_content", doc)

    def get_generated_content(self, content_id: str) -> Doc | None:
        return self._one("generated_content", q.content_filter(content_id))

    def list_generations(self, run_id: str, interaction_id: str) -> tuple[list[Doc], list[Doc]]:
        meta_spec, content_spec = q.generations_queries(run_id, interaction_id)
        return self._find(meta_spec), self._find(content_spec)

    # ---- tables (db.query)

    def run_table_query(self, collection: str, filter_: Doc, fields: list[str],
                        sort: list[tuple[str, int]] | None, limit: int) -> list[Doc]:
        """MOD-dbq-1 / ST-8: never an engine collection; projection excludes `_id`."""
        if (collection in ENGINE_COLLECTIONS or not collection or collection.startswith("system.")
                or "$" in collection or "\x00" in collection):
            raise ExecutionFailed(f"Collection '{collection}' cannot be queried",
                                  details={"collection": collection})
        spec = q.table_query(collection, filter_, fields, sort, limit)
        return self._guarded(lambda: self._find(spec))

    @staticmethod
    def _guarded(call: Any) -> Any:
        """Driver errors from caller-shaped queries become execution failures, not crashes."""
        try:
            return call()
        except EngineError:
            raise
        except Exception as exc:  # noqa: BLE001 - driver/mongomock errors vary by store
            raise ExecutionFailed(f"Query failed: {type(exc).__name__}") from exc
