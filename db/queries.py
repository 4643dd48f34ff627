"""Every filter, projection, sort, update and pipeline shape of the `Store`, written once (ST-1).

Each function returns plain data; both executors run exactly these shapes. Callers pass typed
scalars and whole documents; keys are always our own field names, never user-supplied ones
(ST-4), except where a caller-validated `db.query` filter is passed through verbatim.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

Doc = dict[str, Any]
Sort = list[tuple[str, int]]
Lineage = list[dict[str, Any]]

ASC, DESC = 1, -1


class QuerySpec(msgspec.Struct, frozen=True, kw_only=True):
    """A complete `find` shape: the unit the contract tests reason about."""

    collection: str
    filter: Doc
    projection: Doc | None = None
    sort: Sort | None = None
    skip: int = 0
    limit: int = 0


# ---- runs

RUN_UPDATABLE_FIELDS: frozenset[str] = frozenset({
    "status", "current_step", "current_step_name", "current_module", "completed_steps",
    "error_type", "error_message", "updated_at", "completed_at", "current_branch_id",
    "current_workflow_version_id", "ai_config", "visible_in_ui", "execution_id",
})

# "status != completed" spelled with `$in` over the stored statuses (ENG-9), within ST-15's set.
NOT_COMPLETED: Doc = {"$in": ["created", "processing", "awaiting_input", "error"]}


def run_filter(run_id: str) -> Doc:
    return {"workflow_run_id": run_id}


def active_run_query(user_id: str, project_name: str, template_id: str, mock: bool) -> QuerySpec:
    return QuerySpec(collection="workflow_runs", filter={
        "user_id": user_id, "project_name": project_name, "workflow_template_id": template_id,
        "mock": mock, "status": NOT_COMPLETED, "parent_workflow_run_id": None,
    }, sort=[("created_at", DESC), ("workflow_run_id", DESC)])


def top_level_runs_query() -> QuerySpec:
    return QuerySpec(collection="workflow_runs", filter={"parent_workflow_run_id": None},
                     sort=[("created_at", ASC), ("workflow_run_id", ASC)])


def list_runs_query(user_id: str, active_only: bool, include_mock: bool, limit: int,
                    offset: int) -> QuerySpec:
    flt: Doc = {"user_id": user_id, "parent_workflow_run_id": None}
    if active_only:
        flt["status"] = NOT_COMPLETED
    if not include_mock:
        flt["mock"] = False
    return QuerySpec(collection="workflow_runs", filter=flt,
                     sort=[("updated_at", DESC), ("workflow_run_id", DESC)],
                     skip=max(offset, 0), limit=max(limit, 0))


def all_runs_query(user_id: str, include_mock: bool, updated_since: datetime | None,
                   limit: int, offset: int) -> QuerySpec:
    """`GET /workflows/all`: top-level runs of any status, newest updated first."""
    spec = list_runs_query(user_id, False, include_mock, limit, offset)
    if updated_since is None:
        return spec
    return msgspec.structs.replace(spec, filter={**spec.filter,
                                                 "updated_at": {"$gte": updated_since}})


def child_runs_query(parent_ids: list[str]) -> QuerySpec:
    return QuerySpec(collection="workflow_runs",
                     filter={"parent_workflow_run_id": {"$in": parent_ids}},
                     sort=[("created_at", ASC), ("workflow_run_id", ASC)])


def run_update(fields: Doc) -> Doc:
    """`$set` of projection fields; anything outside the fixed list is a programming error."""
    unknown = sorted(set(fields) - RUN_UPDATABLE_FIELDS)
    if unknown:
        raise ValueError(f"update_run: fields not updatable: {unknown}")
    return {"$set": dict(fields)}


# Run-scoped collections removed with a run (engine.md §15.6, ENG-43); runs themselves go last.
RUN_SCOPED_COLLECTIONS: tuple[str, ...] = (
    "events", "branches", "interaction_answers", "workflow_files", "tokens",
    "content_generation_metadata", "generated_content", "workflow_run_version_history",
)


def runs_in_filter(run_ids: list[str]) -> Doc:
    return {"workflow_run_id": {"$in": run_ids}}


# ---- branches and events

def branch_filter(branch_id: str) -> Doc:
    return {"branch_id": branch_id}


def lineage_or(lineage: Lineage) -> list[Doc]:
    """One `$or` clause per lineage entry: branch match plus optional cutoff (ST-9, ENG-16)."""
    clauses: list[Doc] = []
    for entry in lineage:
        cut = entry.get("cutoff_sequence")
        if cut is None:
            clauses.append({"branch_id": entry["branch_id"]})
        else:
            clauses.append({"branch_id": entry["branch_id"], "sequence": {"$lte": cut}})
    return clauses


def lineage_filter(run_id: str, lineage: Lineage, event_types: list[str] | None = None) -> Doc:
    flt: Doc = {"workflow_run_id": run_id, "$or": lineage_or(lineage)}
    if event_types is not None:
        flt["event_type"] = {"$in": list(event_types)}
    return flt


BY_SEQUENCE: Sort = [("sequence", ASC)]


def lineage_events_query(run_id: str, lineage: Lineage,
                         event_types: list[str] | None = None) -> QuerySpec:
    return QuerySpec(collection="events", filter=lineage_filter(run_id, lineage, event_types),
                     sort=BY_SEQUENCE)


def max_sequence_query(run_id: str) -> QuerySpec:
    return QuerySpec(collection="events", filter=run_filter(run_id),
                     projection={"sequence": 1, "_id": 0}, sort=[("sequence", DESC)], limit=1)


def events_from_query(run_id: str, sequence: int) -> QuerySpec:
    """The run's events from `sequence` on, in order: the fold cache's check (an index range)."""
    return QuerySpec(collection="events",
                     filter={"workflow_run_id": run_id, "sequence": {"$gte": sequence}},
                     sort=BY_SEQUENCE)


def events_filter(run_id: str, branch_ids: list[str] | None, event_type: str | None,
                  module_name: str | None, after_sequence: int | None) -> Doc:
    flt: Doc = {"workflow_run_id": run_id}
    if branch_ids is not None:
        flt["branch_id"] = {"$in": list(branch_ids)}
    if event_type is not None:
        flt["event_type"] = event_type
    if module_name is not None:
        flt["module_name"] = module_name
    if after_sequence is not None:
        flt["sequence"] = {"$gt": after_sequence}
    return flt


def interaction_requests_query(run_id: str, interaction_id: str) -> QuerySpec:
    return QuerySpec(collection="events", filter={
        "workflow_run_id": run_id, "event_type": "interaction_requested",
        "data.interaction_id": interaction_id,
    }, sort=BY_SEQUENCE)


# ---- answers

def answer_key(run_id: str, interaction_id: str, branch_id: str) -> Doc:
    return {"workflow_run_id": run_id, "interaction_id": interaction_id, "branch_id": branch_id}


def answer_outcome_update(outcome: Doc, now: datetime) -> Doc:
    return {"$set": {"outcome": outcome, "updated_at": now}}


def answers_query(run_id: str, interaction_id: str) -> QuerySpec:
    return QuerySpec(collection="interaction_answers",
                     filter={"workflow_run_id": run_id, "interaction_id": interaction_id},
                     sort=[("sequence", ASC), ("created_at", ASC), ("branch_id", ASC)])


# ---- templates and versions

def template_key(user_id: str, name: str) -> Doc:
    return {"user_id": user_id, "workflow_template_name": name}


def template_upsert(template_id: str, display_name: str, now: datetime,
                    global_scope: bool = False) -> Doc:
    """Only `$setOnInsert`: an existing template is returned untouched (VS-3: no write).
    Global templates (owner `GLOBAL_OWNER`) are `scope: global`, `visibility: public`."""
    return {"$setOnInsert": {
        "workflow_template_id": template_id, "name": display_name,
        "scope": "global" if global_scope else "user",
        "visibility": "public" if global_scope else "visible", "created_at": now,
        "updated_at": now,
    }}


def templates_query(user_id: str) -> QuerySpec:
    return QuerySpec(collection="workflow_templates", filter={"user_id": user_id},
                     sort=[("updated_at", DESC), ("workflow_template_id", DESC)])


def touch_update(now: datetime) -> Doc:
    return {"$set": {"updated_at": now}}


VERSION_KEY_FIELDS = ("workflow_template_id", "version_type", "parent_workflow_version_id",
                      "content_hash")


def version_key(doc: Doc) -> Doc:
    return {field: doc.get(field) for field in VERSION_KEY_FIELDS}


def source_version_filter(template_id: str, content_hash: str) -> Doc:
    return {"workflow_template_id": template_id, "content_hash": content_hash,
            "parent_workflow_version_id": None}


def versions_query(template_id: str, version_types: list[str], limit: int,
                   projection: Doc | None = None) -> QuerySpec:
    return QuerySpec(collection="workflow_versions",
                     filter={"workflow_template_id": template_id,
                             "version_type": {"$in": list(version_types)}},
                     projection=projection,
                     sort=[("created_at", DESC), ("workflow_version_id", DESC)],
                     limit=max(limit, 0))


def child_versions_query(parent_id: str) -> QuerySpec:
    return QuerySpec(collection="workflow_versions",
                     filter={"parent_workflow_version_id": parent_id},
                     sort=[("expansion_index", ASC), ("workflow_version_id", ASC)])


def version_history_query(run_id: str) -> QuerySpec:
    return QuerySpec(collection="workflow_run_version_history", filter=run_filter(run_id),
                     sort=[("created_at", ASC)])


# ---- files

def latest_file_query(run_id: str, lineage: Lineage, filename: str, category: str,
                      group_id: str | None) -> QuerySpec:
    """Newest lineage-visible file: the ST-9 rule on `branch_id`/`sequence` (MOD-io-1)."""
    return QuerySpec(collection="workflow_files", filter={
        "workflow_run_id": run_id, "filename": filename, "category": category,
        "group_id": group_id, "$or": lineage_or(lineage),
    }, sort=[("sequence", DESC), ("file_id", DESC)])


def list_files_query(run_id: str, lineage: Lineage) -> QuerySpec:
    return QuerySpec(collection="workflow_files",
                     filter={"workflow_run_id": run_id, "$or": lineage_or(lineage)},
                     projection={"content": 0, "_id": 0},
                     sort=[("sequence", ASC), ("file_id", ASC)])


def token_usage_query(run_id: str) -> QuerySpec:
    return QuerySpec(collection="tokens", filter=run_filter(run_id), sort=[("timestamp", ASC)])


# ---- weighted keywords and option usage

KEYWORD_KEY_FIELDS = ("workflow_template_id", "scope", "keyword")


def keyword_key(template_id: str, scope: str, keyword: str) -> Doc:
    return {"workflow_template_id": template_id, "scope": scope, "keyword": keyword}


def _plain_fields(fields: Doc, drop: set[str]) -> Doc:
    """Only literal top-level names: no `$`, no `.`, no NUL, no `_id` (ST-4)."""
    return {k: v for k, v in fields.items()
            if k not in drop and k != "_id" and not k.startswith("$") and "." not in k
            and "\x00" not in k}


def keyword_upsert(template_id: str, scope: str, keyword: str, inc: float | None,
                   set_fields: Doc, set_on_insert: Doc) -> Doc:
    """MOD-wk-3: `$inc` weight when accumulating, else `$set` it; operators never overlap."""
    key = set(KEYWORD_KEY_FIELDS)
    incremented = {"weight"} if inc is not None else set()
    set_part = _plain_fields(set_fields, key | incremented)
    update: Doc = {}
    if set_part:
        update["$set"] = set_part
    if inc is not None:
        update["$inc"] = {"weight": inc}
    insert_part = _plain_fields(set_on_insert, key | set(set_part) | incremented)
    if insert_part or not update:
        update["$setOnInsert"] = insert_part or {"keyword": keyword}
    return update


def option_usage_key(template_id: str, user_id: str, step_id: str, module_name: str,
                     option: str, scope: str) -> Doc:
    return {"workflow_template_id": template_id, "user_id": user_id, "step_id": step_id,
            "module_name": module_name, "option": option, "scope": scope}


def option_usage_touch(now: datetime) -> Doc:
    return {"$set": {"updated_at": now}, "$setOnInsert": {"created_at": now}}


def config_key(type_: str, name: str) -> Doc:
    return {"type": type_, "name": name}


# ---- generated content

def metadata_update(fields: Doc) -> Doc:
    safe = _plain_fields(fields, {"content_generation_metadata_id"})
    if len(safe) != len(fields):
        raise ValueError("update_generation_metadata: invalid field names")
    return {"$set": safe}


def content_filter(content_id: str) -> Doc:
    return {"generated_content_id": content_id}


def _generation_specs(flt: Doc) -> tuple[QuerySpec, QuerySpec]:
    """Generation metadata and their content items matching `flt`, in creation order."""
    return (
        QuerySpec(collection="content_generation_metadata", filter=flt,
                  sort=[("created_at", ASC), ("content_generation_metadata_id", ASC)]),
        QuerySpec(collection="generated_content", filter=flt,
                  sort=[("created_at", ASC), ("content_generation_metadata_id", ASC),
                        ("index", ASC)]),
    )


def run_media_queries(run_id: str) -> tuple[QuerySpec, QuerySpec]:
    """Every generation of a run (media downloads)."""
    return _generation_specs({"workflow_run_id": run_id})


def generations_queries(run_id: str, interaction_id: str) -> tuple[QuerySpec, QuerySpec]:
    return _generation_specs({"workflow_run_id": run_id, "interaction_id": interaction_id})


# ---- tables (db.query)

def table_query(collection: str, filter_: Doc, fields: list[str],
                sort: list[tuple[str, int]] | None, limit: int) -> QuerySpec:
    projection: Doc = {f: 1 for f in fields if f != "_id"}
    projection["_id"] = 0
    return QuerySpec(collection=collection, filter=filter_, projection=projection,
                     sort=[(f, int(d)) for f, d in sort] if sort else None, limit=max(limit, 0))


# ---- task queue (production only: media sub-actions run as background jobs)

TASK_STATUSES: tuple[str, ...] = ("queued", "processing", "completed", "failed", "cancelled")
TASK_FINAL_STATUSES: tuple[str, ...] = ("completed", "failed", "cancelled")


def task_filter(task_id: str) -> Doc:
    return {"task_id": task_id}


def task_claim(task_id: str, worker_id: str, now: datetime) -> tuple[Doc, Doc]:
    """(filter, update): only a `queued` task can be claimed, so two claims have one winner."""
    return ({"task_id": task_id, "status": "queued"},
            {"$set": {"status": "processing", "worker_id": worker_id, "started_at": now,
                      "heartbeat_at": now}})


def task_heartbeat(task_id: str, worker_id: str, now: datetime,
                   progress: Doc | None) -> tuple[Doc, Doc]:
    """(filter, update) guarded by the worker: a task that was swept or re-owned is left alone."""
    fields: Doc = {"heartbeat_at": now}
    if progress is not None:
        fields["progress"] = progress
    return ({"task_id": task_id, "status": "processing", "worker_id": worker_id},
            {"$set": fields})


def task_finish(task_id: str, worker_id: str | None, status: str, result: Doc | None,
                error: Doc | None, now: datetime) -> tuple[Doc, Doc]:
    """(filter, update) for the final state; `worker_id=None` finishes a task never claimed."""
    if status not in TASK_FINAL_STATUSES:
        raise ValueError(f"task_finish: not a final status: {status}")
    flt: Doc = {"task_id": task_id}
    if worker_id is None:
        flt["status"] = "queued"
    else:
        flt.update({"status": "processing", "worker_id": worker_id})
    return flt, {"$set": {"status": status, "result": result, "error": error,
                          "completed_at": now}}


def tasks_by_run_query(run_id: str) -> QuerySpec:
    return QuerySpec(collection="task_queue", filter={"payload.workflow_run_id": run_id},
                     sort=[("created_at", ASC), ("task_id", ASC)])


def stale_tasks_query(heartbeat_before: datetime) -> QuerySpec:
    """`processing` tasks whose worker stopped beating (a lost process)."""
    return QuerySpec(collection="task_queue",
                     filter={"status": "processing", "heartbeat_at": {"$lt": heartbeat_before}},
                     sort=[("heartbeat_at", ASC), ("task_id", ASC)])


def task_mark_lost(task_id: str, heartbeat_before: datetime, now: datetime) -> tuple[Doc, Doc]:
    """(filter, update): fail a stale task unless its worker beat again meanwhile; its open
    sub-action is closed next (`lineage_closed` turns true once `sub_action_failed` is written)."""
    return ({"task_id": task_id, "status": "processing",
             "heartbeat_at": {"$lt": heartbeat_before}},
            {"$set": {"status": "failed", "completed_at": now, "lineage_closed": False,
                      "error": {"error_type": "worker_lost", "message": "worker lost",
                                "details": {}}}})


def lost_tasks_to_close_query() -> QuerySpec:
    """Tasks failed as "worker lost" whose sub-action has no end event yet (see media jobs)."""
    return QuerySpec(collection="task_queue",
                     filter={"status": "failed", "error.error_type": "worker_lost",
                             "lineage_closed": False},
                     sort=[("completed_at", ASC), ("task_id", ASC)])


def task_lineage_closed(task_id: str) -> tuple[Doc, Doc]:
    """(filter, update): the lost task's open sub-action got its `sub_action_failed` event."""
    return {"task_id": task_id, "lineage_closed": False}, {"$set": {"lineage_closed": True}}


# ---- users (authentication reads on both servers; writes on production only)

#: what a request's authentication needs of a user document
USER_AUTH_PROJECTION: Doc = {"user_id": 1, "username": 1, "email": 1, "role": 1,
                             "is_active": 1, "token_version": 1}


def user_filter(user_id: str) -> Doc:
    return {"user_id": user_id}


def user_revoke_tokens(user_id: str, now: datetime, *,
                       deactivate: bool = False) -> tuple[Doc, Doc]:
    """(filter, update): every access token issued before now stops working (logout-all,
    deactivation). `$inc` creates `token_version: 1` on documents written before it existed."""
    fields: Doc = {"updated_at": now}
    if deactivate:
        fields["is_active"] = False
    return user_filter(user_id), {"$inc": {"token_version": 1}, "$set": fields}
