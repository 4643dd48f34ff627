"""`QueryStore`: the engine's `Store` port over any `CollectionExecutor` (ST-1).

All storage semantics live here and in db/queries.py; the virtual store (mongomock) and the
production store (motor bridged to a sync executor) differ only in the executor they pass in,
which is what lets one contract suite (storage.md §6) prove they behave identically.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from db import queries as q
from db import reads
from db.executor import CollectionExecutor
from db.indexes import ENGINE_COLLECTIONS
from db.queries import QuerySpec
from db.reads import Find, FindOne, Plan, Step
from engine.errors import ConcurrentModification, EngineError, ExecutionFailed
from engine.global_templates import GLOBAL_OWNER

Doc = dict[str, Any]
Lineage = list[dict[str, Any]]
T = TypeVar("T")


class QueryStore:
    """Implements engine.ports.Store using only the shapes of db/queries.py."""

    def __init__(self, executor: CollectionExecutor) -> None:
        self.executor = executor

    # ---- helpers

    def _find(self, spec: QuerySpec) -> list[Doc]:
        return self.executor.find(spec.collection, spec.filter, projection=spec.projection,
                                  sort=spec.sort, skip=spec.skip, limit=spec.limit)

    def _one(self, coll: str, flt: Doc) -> Doc | None:
        return self.executor.find_one(coll, flt)

    def _step(self, step: Step) -> Any:
        if isinstance(step, Find):
            return self._find(step.spec)
        if isinstance(step, FindOne):
            return self.executor.find_one(step.collection, step.filter,
                                          projection=step.projection, sort=step.sort)
        return self.executor.count_documents(step.collection, step.filter)

    def _read(self, plan: Plan[T]) -> T:
        """Run a read plan of db/reads.py on this store's executor."""
        try:
            step = next(plan)
            while True:
                step = plan.send(self._step(step))
        except StopIteration as done:
            result: T = done.value
            return result

    # ---- runs

    def flush(self) -> None:
        """Make writes the executor holds back (a production batch, db/write_batch.py)."""
        flush = getattr(self.executor, "flush", None)
        if flush is not None:
            flush()

    def insert_run(self, doc: Doc) -> None:
        self.executor.insert_one("workflow_runs", doc)

    def get_run(self, run_id: str) -> Doc | None:
        return self._read(reads.get_run(run_id))

    def update_run(self, run_id: str, fields: Doc) -> None:
        if fields:
            self.executor.update_one("workflow_runs", q.run_filter(run_id), q.run_update(fields))

    def find_active_run(self, user_id: str, project_name: str, template_id: str,
                        mock: bool) -> Doc | None:
        return self._read(reads.find_active_run(user_id, project_name, template_id, mock))

    def top_level_runs(self) -> list[Doc]:
        return self._read(reads.top_level_runs())

    def list_runs(self, user_id: str, active_only: bool, include_mock: bool, limit: int,
                  offset: int) -> list[Doc]:
        return self._read(reads.list_runs(user_id, active_only, include_mock, limit, offset))

    def list_child_runs(self, parent_run_id: str) -> list[Doc]:
        return self._read(reads.list_child_runs(parent_run_id))

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
        return self._read(reads.get_branch(branch_id))

    def append_event(self, doc: Doc) -> None:
        self.executor.insert_one("events", doc)

    def max_sequence(self, run_id: str) -> int:
        return self._read(reads.max_sequence(run_id))

    def events_from(self, run_id: str, sequence: int) -> list[Doc]:
        return self._read(reads.events_from(run_id, sequence))

    def run_and_events_from(self, run_id: str, sequence: int) -> tuple[Doc | None, list[Doc]]:
        """The run document and its events from `sequence` on (a fold check, issue 13); the
        production store sends both reads at once."""
        return self.get_run(run_id), self.events_from(run_id, sequence)

    def lineage_events(self, run_id: str, lineage: Lineage,
                       event_types: list[str] | None = None) -> list[Doc]:
        return self._read(reads.lineage_events(run_id, lineage, event_types))

    def find_events(self, run_id: str, branch_ids: list[str] | None, event_type: str | None,
                    module_name: str | None, after_sequence: int | None,
                    limit: int) -> tuple[list[Doc], int]:
        """Events matching every filter, by `sequence`; the count ignores `limit` only."""
        return self._read(reads.find_events(
            run_id, branch_ids, event_type, module_name, after_sequence, limit))

    def find_interaction_requests(self, run_id: str, interaction_id: str) -> list[Doc]:
        return self._read(reads.find_interaction_requests(run_id, interaction_id))

    # ---- answers

    def insert_answer(self, doc: Doc) -> None:
        self.executor.insert_one("interaction_answers", doc)

    def set_answer_outcome(self, run_id: str, interaction_id: str, branch_id: str, outcome: Doc,
                           now: datetime) -> None:
        self.executor.update_one("interaction_answers",
                                 q.answer_key(run_id, interaction_id, branch_id),
                                 q.answer_outcome_update(outcome, now))

    def find_answers(self, run_id: str, interaction_id: str) -> list[Doc]:
        return self._read(reads.find_answers(run_id, interaction_id))

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
        return self._read(reads.get_template(template_id))

    def list_templates(self, user_id: str) -> list[Doc]:
        return self._read(reads.list_templates(user_id))

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
        return self._read(reads.get_version(version_id))

    def get_version_kind(self, version_id: str) -> Doc | None:
        return self._read(reads.get_version_kind(version_id))

    def find_source_version(self, template_id: str, content_hash: str) -> Doc | None:
        return self._read(reads.find_source_version(template_id, content_hash))

    def list_versions(self, template_id: str, version_types: list[str], limit: int) -> list[Doc]:
        return self._read(reads.list_versions(template_id, version_types, limit))

    def newest_version_head(self, template_id: str, version_types: list[str]) -> Doc | None:
        return self._read(reads.newest_version_head(template_id, version_types))

    def list_child_versions(self, parent_id: str) -> list[Doc]:
        return self._read(reads.list_child_versions(parent_id))

    def insert_version_history(self, doc: Doc) -> None:
        self.executor.insert_one("workflow_run_version_history", doc)

    def list_version_history(self, run_id: str) -> list[Doc]:
        return self._read(reads.list_version_history(run_id))

    # ---- files

    def insert_file(self, doc: Doc) -> None:
        self.executor.insert_one("workflow_files", doc)

    def find_latest_file(self, run_id: str, lineage: Lineage, filename: str, category: str,
                         group_id: str | None) -> Doc | None:
        return self._read(reads.find_latest_file(run_id, lineage, filename, category, group_id))

    def list_files(self, run_id: str, lineage: Lineage) -> list[Doc]:
        return self._read(reads.list_files(run_id, lineage))

    # ---- tokens

    def insert_token_usage(self, doc: Doc) -> None:
        self.executor.insert_one("tokens", doc)

    def list_token_usage(self, run_id: str) -> list[Doc]:
        return self._read(reads.list_token_usage(run_id))

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
        return self._read(reads.get_option_usage(
            template_id, user_id, step_id, module_name, option, scope))

    def touch_option_usage(self, template_id: str, user_id: str, step_id: str, module_name: str,
                           option: str, scope: str, now: datetime) -> None:
        key = q.option_usage_key(template_id, user_id, step_id, module_name, option, scope)
        try:
            self.executor.update_one("option_usage", key, q.option_usage_touch(now), upsert=True)
        except ConcurrentModification:  # a concurrent upsert inserted it first: just touch
            self.executor.update_one("option_usage", key, q.touch_update(now))

    # ---- config

    def get_config(self, type_: str, name: str) -> Doc | None:
        return self._read(reads.get_config(type_, name))

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
        return self._read(reads.get_generated_content(content_id))

    def list_generations(self, run_id: str, interaction_id: str) -> tuple[list[Doc], list[Doc]]:
        return self._read(reads.list_generations(run_id, interaction_id))

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
    def _guarded(call: Callable[[], T]) -> T:
        """Driver errors from caller-shaped queries become execution failures, not crashes."""
        try:
            return call()
        except EngineError:
            raise
        except Exception as exc:
            raise ExecutionFailed(f"Query failed: {type(exc).__name__}") from exc
