"""Index definitions of storage.md §3.1 as data, shared by both stores (ST-1, ST-7, ST-13).

The same list drives production startup, the virtual store (after loading a blob, ST-14) and
the blob validator's unique-key check (BLOB-6), so the three can never disagree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from db.executor import CollectionExecutor


class IndexSpec(msgspec.Struct, frozen=True, kw_only=True):
    collection: str
    keys: tuple[tuple[str, int], ...]
    unique: bool = False
    sparse: bool = False
    expire_after_seconds: int | None = None

    @property
    def name(self) -> str:
        """MongoDB's default index name, spelled out so both stores agree."""
        return "_".join(f"{field}_{direction}" for field, direction in self.keys)

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(field for field, _ in self.keys)


def _ix(collection: str, *fields: str | tuple[str, int], unique: bool = False,
        sparse: bool = False, ttl: int | None = None) -> IndexSpec:
    keys = tuple(f if isinstance(f, tuple) else (f, 1) for f in fields)
    return IndexSpec(collection=collection, keys=keys, unique=unique, sparse=sparse,
                     expire_after_seconds=ttl)


INDEXES: list[IndexSpec] = [
    _ix("users", "user_id", unique=True),
    _ix("users", "username", unique=True),
    _ix("users", "email", unique=True, sparse=True),
    _ix("access_keys", "access_key_id", unique=True),
    _ix("access_keys", "access_key_hash", unique=True),
    _ix("access_keys", "user_id"),
    _ix("refresh_tokens", "token_id", unique=True),
    _ix("refresh_tokens", "token_hash", unique=True),
    _ix("refresh_tokens", "expires_at", ttl=0),
    _ix("invitation_codes", "code", unique=True),
    _ix("workflow_templates", "workflow_template_id", unique=True),
    _ix("workflow_templates", "user_id", "workflow_template_name", unique=True),
    _ix("workflow_versions", "workflow_version_id", unique=True),
    _ix("workflow_versions", "workflow_template_id", "version_type", "parent_workflow_version_id",
        "content_hash", unique=True),
    _ix("workflow_runs", "workflow_run_id", unique=True),
    _ix("workflow_runs", "user_id", "project_name", "workflow_template_id", "mock", "status"),
    _ix("workflow_runs", "user_id", "updated_at"),
    _ix("workflow_runs", "parent_workflow_run_id"),
    _ix("workflow_run_version_history", "workflow_run_id"),
    _ix("branches", "branch_id", unique=True),
    _ix("branches", "workflow_run_id"),
    _ix("events", "event_id", unique=True),
    _ix("events", "workflow_run_id", "sequence", unique=True),
    _ix("events", "workflow_run_id", "branch_id", "sequence"),
    _ix("events", "workflow_run_id", "event_type", "sequence"),
    _ix("events", "workflow_run_id", "data.interaction_id"),
    _ix("interaction_answers", "workflow_run_id", "interaction_id", "branch_id", unique=True),
    _ix("workflow_files", "file_id", unique=True),
    _ix("workflow_files", "workflow_run_id", "filename", "category", "group_id"),
    _ix("tokens", "workflow_run_id"),
    _ix("weighted_keywords", "workflow_template_id", "scope", "keyword", unique=True),
    _ix("option_usage", "workflow_template_id", "user_id", "step_id", "module_name", "option",
        "scope", unique=True),
    _ix("config", "type", "name", unique=True),
    _ix("content_generation_metadata", "content_generation_metadata_id", unique=True),
    _ix("content_generation_metadata", "workflow_run_id", "interaction_id"),
    _ix("generated_content", "generated_content_id", unique=True),
    _ix("generated_content", "workflow_run_id", "interaction_id"),
    _ix("task_queue", "task_id", unique=True),
    _ix("task_queue", "status", "concurrency_identifier", ("priority", -1), "created_at"),
    # beyond storage.md: `GET /api/task/workflow/{id}` lists a run's tasks in creation order
    _ix("task_queue", "payload.workflow_run_id", "created_at"),
    _ix("schema_migrations", "migration_id", unique=True),
]

# Collections that may live in the virtual database and in a blob (BLOB-8).
VIRTUAL_COLLECTIONS: frozenset[str] = frozenset({
    "users", "workflow_templates", "workflow_versions", "workflow_runs",
    "workflow_run_version_history", "branches", "events", "interaction_answers", "workflow_files",
    "tokens", "weighted_keywords", "option_usage", "config", "content_generation_metadata",
    "generated_content",
})

# Every collection of storage.md §3.1; `db.query` may not touch any of them (ST-8).
ENGINE_COLLECTIONS: frozenset[str] = VIRTUAL_COLLECTIONS | frozenset({
    "access_keys", "refresh_tokens", "invitation_codes", "task_queue", "schema_migrations",
})


def unique_indexes(collection: str) -> list[IndexSpec]:
    return [ix for ix in INDEXES if ix.collection == collection and ix.unique]


def create_indexes(executor: CollectionExecutor, collections: set[str] | frozenset[str] | None = None,
                   *, unique: bool | None = None) -> None:
    """Create the §3.1 indexes (idempotent); filter by collection set and/or uniqueness."""
    for ix in INDEXES:
        if collections is not None and ix.collection not in collections:
            continue
        if unique is not None and ix.unique != unique:
            continue
        executor.create_index(ix.collection, list(ix.keys), unique=ix.unique, sparse=ix.sparse,
                              expire_after_seconds=ix.expire_after_seconds, name=ix.name)
