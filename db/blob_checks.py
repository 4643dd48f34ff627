"""Structural validation of decoded blob collections (BLOB-6).

Typed structs cover the collections the engine reasons about (runs, branches, events, versions,
answers); cross-document checks catch states the engine could never have written (gaps in
sequences, dangling lineage, two top-level runs) and unique-key clashes, so a hostile blob fails
with 400 `invalid_virtual_db` and a `details.reason` before it reaches the database.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

from db.indexes import IndexSpec, unique_indexes
from engine.errors import InvalidVirtualDb
from engine.jsonutil import canonical_json

Doc = dict[str, Any]


class _Struct(msgspec.Struct, kw_only=True):
    pass


class LineageEntry(_Struct):
    branch_id: str
    cutoff_sequence: int | None = None
    cutoff_event_id: str | None = None


class RunDoc(_Struct):
    workflow_run_id: str
    user_id: str
    project_name: str
    workflow_template_name: str
    workflow_template_id: str
    current_workflow_version_id: str
    current_branch_id: str
    status: Literal["created", "processing", "awaiting_input", "completed", "error"]
    mock: bool
    created_at: datetime
    updated_at: datetime | None = None
    completed_at: datetime | None = None
    current_step: str | None = None
    current_step_name: str | None = None
    current_module: str | None = None
    completed_steps: list[str] | None = None
    mode: Literal["production", "virtual"] | None = None
    parent_workflow_run_id: str | None = None
    execution_id: str | None = None
    visible_in_ui: bool | None = None
    ai_config: dict[str, Any] | None = None
    error_type: str | None = None
    error_message: str | None = None


class BranchDoc(_Struct):
    branch_id: str
    workflow_run_id: str
    lineage: list[LineageEntry]
    fork_reason: Literal["root", "jump", "jump_to_interaction", "target", "reset"]
    created_at: datetime
    parent_branch_id: str | None = None


class EventDoc(_Struct):
    event_id: str
    workflow_run_id: str
    branch_id: str
    sequence: int
    workflow_version_id: str | None
    event_type: str
    timestamp: datetime
    provenance: Literal["live", "mock"]
    data: dict[str, Any]
    step_id: str | None = None
    module_name: str | None = None


class VersionDoc(_Struct):
    workflow_version_id: str
    workflow_template_id: str
    content_hash: str
    version_type: Literal["raw", "unresolved", "resolved"]
    resolved_workflow: dict[str, Any]
    created_at: datetime
    source_type: Literal["json", "zip"] | None = None
    parent_workflow_version_id: str | None = None
    requires: list[dict[str, Any]] | None = None
    expansion_index: int | None = None


class AnswerDoc(_Struct):
    workflow_run_id: str
    interaction_id: str
    branch_id: str
    response_hash: str
    created_at: datetime
    sequence: int | None = None
    outcome: dict[str, Any] | None = None
    updated_at: datetime | None = None


TYPED: dict[str, type[_Struct]] = {
    "workflow_runs": RunDoc, "branches": BranchDoc, "events": EventDoc,
    "workflow_versions": VersionDoc, "interaction_answers": AnswerDoc,
}
DATETIME_FIELDS: dict[str, tuple[str, ...]] = {
    "workflow_runs": ("created_at", "updated_at", "completed_at"),
    "branches": ("created_at",), "events": ("timestamp",),
    "workflow_versions": ("created_at",), "interaction_answers": ("created_at", "updated_at"),
}


def _fail(reason: str, message: str) -> InvalidVirtualDb:
    return InvalidVirtualDb(f"invalid virtual_db: {message}", details={"reason": reason})


_LISTS = {name: list[struct] for name, struct in TYPED.items()}  # type: ignore[valid-type]
_NATIVE_DATETIMES = (datetime,)


class _LooseEventDoc(EventDoc):
    """`EventDoc` whose `data` msgspec does not copy key by key (the bulk of an event); each is
    then checked to be a dict, whose keys a JSON document's are always strings."""

    data: Any


_LOOSE: dict[str, tuple[Any, str]] = {"events": (list[_LooseEventDoc], "data")}


def _typed(name: str, docs: list[Doc]) -> list[Any]:
    """The collection's documents as its typed structs: one msgspec call for the whole list,
    where a `datetime` field takes only a datetime (a decoded `$date`, never a string); when
    that call refuses, the document-by-document conversion names the first bad document and
    is the one that decides. A collection with a loose variant tries that first: accepted with
    a dict in the loose field, the strict call accepts too."""
    loose = _LOOSE.get(name)
    try:
        if loose is not None:
            found: list[Any] = msgspec.convert(docs, loose[0], builtin_types=_NATIVE_DATETIMES)
            field = loose[1]
            if all(type(getattr(doc, field)) is dict for doc in found):
                return found
        typed: list[Any] = msgspec.convert(docs, _LISTS[name], builtin_types=_NATIVE_DATETIMES)
        return typed
    except msgspec.ValidationError:
        return _typed_each(name, docs)


def _typed_each(name: str, docs: list[Doc]) -> list[Any]:
    struct = TYPED[name]
    out: list[Any] = []
    for index, doc in enumerate(docs):
        try:
            out.append(msgspec.convert(doc, struct))
        except msgspec.ValidationError as exc:
            raise _fail("bad_document", f"{name}[{index}]: {exc}") from None
        for field in DATETIME_FIELDS[name]:
            value = doc.get(field)
            if value is not None and not isinstance(value, datetime):
                raise _fail("bad_document", f"{name}[{index}]: {field} must be a $date")
    return out


def _hashable(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return ("json", canonical_json(value))
    return value


def _check_unique(name: str, docs: list[Doc], index: IndexSpec) -> None:
    fields = index.fields
    if index.sparse:
        docs = [doc for doc in docs if any(f in doc for f in fields)]
    if len(fields) == 1:
        field = fields[0]
        keys: list[Any] = [doc.get(field) for doc in docs]
    else:
        keys = [tuple([doc.get(f) for f in fields]) for doc in docs]
    try:
        distinct = len(set(keys))
    except TypeError:  # a dict or list where a scalar key belongs
        distinct = len({tuple(_hashable(doc.get(f)) for f in fields) for doc in docs})
    if distinct != len(keys):
        raise _fail("duplicate_key", f"duplicate {name} key {index.name}")


def validate_collections(collections: dict[str, list[Doc]]) -> None:
    """BLOB-6 typed and cross-document checks; raises InvalidVirtualDb with details.reason."""
    for name, docs in collections.items():
        for index in unique_indexes(name):
            _check_unique(name, docs, index)
    runs: list[RunDoc] = _typed("workflow_runs", collections.get("workflow_runs", []))
    branches: list[BranchDoc] = _typed("branches", collections.get("branches", []))
    events: list[EventDoc] = _typed("events", collections.get("events", []))
    _typed("workflow_versions", collections.get("workflow_versions", []))
    _typed("interaction_answers", collections.get("interaction_answers", []))

    run_ids = {run.workflow_run_id for run in runs}
    if sum(1 for run in runs if run.parent_workflow_run_id is None) > 1:
        raise _fail("multiple_top_level_runs", "more than one top-level run")
    branch_ids: dict[str, set[str]] = {run_id: set() for run_id in run_ids}
    for branch in branches:
        if branch.workflow_run_id not in branch_ids:
            raise _fail("orphan_branch", f"branch {branch.branch_id} has no run")
        branch_ids[branch.workflow_run_id].add(branch.branch_id)
    for branch in branches:
        known = branch_ids[branch.workflow_run_id]
        if not branch.lineage or any(e.branch_id not in known for e in branch.lineage):
            raise _fail("bad_lineage", f"branch {branch.branch_id} has an invalid lineage")
    for run in runs:
        if run.current_branch_id not in branch_ids[run.workflow_run_id]:
            raise _fail("missing_current_branch", f"run {run.workflow_run_id} has no current branch")
    sequences: dict[str, list[int]] = {}
    for event in events:
        if event.workflow_run_id not in run_ids:
            raise _fail("orphan_event", f"event {event.event_id} has no run")
        sequences.setdefault(event.workflow_run_id, []).append(event.sequence)
    for run_id, seqs in sequences.items():
        if len(set(seqs)) != len(seqs) or min(seqs) != 1 or max(seqs) != len(seqs):
            raise _fail("bad_sequences", f"run {run_id} event sequences are not contiguous from 1")
