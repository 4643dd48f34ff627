"""Every read of the stores, written once as a plan both sides run (ST-1).

A plan is a generator that yields the queries it needs (`Find`, `FindOne`, `Count`) and
returns the answer; it never touches a database. The engine's sync `QueryStore` runs plans on
its executor (db/store_impl.py), the production routes' `AsyncReads` awaits the same plans on
the driver adapter (db/production_store.py), so the two read paths cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from db import queries as q
from db.queries import QuerySpec

Doc = dict[str, Any]
Lineage = list[dict[str, Any]]
T = TypeVar("T")


@dataclass(frozen=True)
class Find:
    spec: QuerySpec


@dataclass(frozen=True)
class FindOne:
    collection: str
    filter: Doc
    projection: Doc | None = None
    sort: list[tuple[str, int]] | None = None

    @classmethod
    def first(cls, spec: QuerySpec) -> FindOne:
        """The first document of a `find` shape (its sort decides which)."""
        return cls(spec.collection, spec.filter, spec.projection, spec.sort)


@dataclass(frozen=True)
class Count:
    collection: str
    filter: Doc


Step = Find | FindOne | Count
#: a read: yields steps, is sent each step's result, returns the answer
Plan = Generator[Step, Any, T]


def _docs(step: Find) -> Plan[list[Doc]]:
    docs: list[Doc] = yield step
    return docs


def _doc(step: FindOne) -> Plan[Doc | None]:
    doc: Doc | None = yield step
    return doc


# ---- runs, branches, events, answers

def get_run(run_id: str) -> Plan[Doc | None]:
    return _doc(FindOne("workflow_runs", q.run_filter(run_id)))


def find_active_run(user_id: str, project_name: str, template_id: str,
                    mock: bool) -> Plan[Doc | None]:
    return _doc(FindOne.first(q.active_run_query(user_id, project_name, template_id, mock)))


def top_level_runs() -> Plan[list[Doc]]:
    return _docs(Find(q.top_level_runs_query()))


def list_runs(user_id: str, active_only: bool, include_mock: bool, limit: int,
              offset: int) -> Plan[list[Doc]]:
    if limit <= 0:
        return []
    docs: list[Doc] = yield Find(q.list_runs_query(user_id, active_only, include_mock, limit,
                                                   offset))
    return docs


def page_runs(user_id: str, include_mock: bool, updated_since: datetime | None, limit: int,
              offset: int) -> Plan[tuple[list[Doc], int]]:
    """One page of the user's top-level runs and the total count of the same filter."""
    spec = q.all_runs_query(user_id, include_mock, updated_since, limit, offset)
    total: int = yield Count(spec.collection, spec.filter)
    docs: list[Doc] = (yield Find(spec)) if limit > 0 else []
    return docs, total


def list_child_runs(parent_run_id: str) -> Plan[list[Doc]]:
    return _docs(Find(q.child_runs_query([parent_run_id])))


def get_branch(branch_id: str) -> Plan[Doc | None]:
    return _doc(FindOne("branches", q.branch_filter(branch_id)))


def max_sequence(run_id: str) -> Plan[int]:
    doc: Doc | None = yield FindOne.first(q.max_sequence_query(run_id))
    return int(doc["sequence"]) if doc and doc.get("sequence") is not None else 0


def events_from(run_id: str, sequence: int) -> Plan[list[Doc]]:
    return _docs(Find(q.events_from_query(run_id, sequence)))


def lineage_events(run_id: str, lineage: Lineage,
                   event_types: list[str] | None = None) -> Plan[list[Doc]]:
    if not lineage or event_types == []:
        return []
    docs: list[Doc] = yield Find(q.lineage_events_query(run_id, lineage, event_types))
    return docs


def find_events(run_id: str, branch_ids: list[str] | None, event_type: str | None,
                module_name: str | None, after_sequence: int | None,
                limit: int) -> Plan[tuple[list[Doc], int]]:
    """Events matching every filter, by `sequence`; the count ignores `limit` only."""
    flt = q.events_filter(run_id, branch_ids, event_type, module_name, after_sequence)
    total: int = yield Count("events", flt)
    if limit <= 0 or total == 0:
        return [], total
    docs: list[Doc] = yield Find(QuerySpec(collection="events", filter=flt, sort=q.BY_SEQUENCE,
                                           limit=limit))
    return docs, total


def find_interaction_requests(run_id: str, interaction_id: str) -> Plan[list[Doc]]:
    return _docs(Find(q.interaction_requests_query(run_id, interaction_id)))


def find_answers(run_id: str, interaction_id: str) -> Plan[list[Doc]]:
    return _docs(Find(q.answers_query(run_id, interaction_id)))


# ---- templates and versions

def get_template(template_id: str) -> Plan[Doc | None]:
    return _doc(FindOne("workflow_templates", {"workflow_template_id": template_id}))


def find_template(user_id: str, name: str) -> Plan[Doc | None]:
    """The user's template of that name (the unique key), without creating it."""
    return _doc(FindOne("workflow_templates", q.template_key(user_id, name)))


def list_templates(user_id: str) -> Plan[list[Doc]]:
    return _docs(Find(q.templates_query(user_id)))


def get_version(version_id: str) -> Plan[Doc | None]:
    return _doc(FindOne("workflow_versions", {"workflow_version_id": version_id}))


def get_version_kind(version_id: str) -> Plan[Doc | None]:
    """Only the id and type: whether a run already on this version stays there (every virtual
    request asks; the resolved workflow, the bulk of the document, is not read)."""
    return _doc(FindOne("workflow_versions", {"workflow_version_id": version_id},
                        projection={"workflow_version_id": 1, "version_type": 1, "_id": 0}))


def find_source_version(template_id: str, content_hash: str) -> Plan[Doc | None]:
    """Only the id: the caller asks whether the content is stored (its resolved workflow, the
    bulk of the document, is not read on every virtual request)."""
    return _doc(FindOne("workflow_versions", q.source_version_filter(template_id, content_hash),
                        projection={"workflow_version_id": 1, "_id": 0}))


def list_versions(template_id: str, version_types: list[str], limit: int) -> Plan[list[Doc]]:
    if limit <= 0 or not version_types:
        return []
    docs: list[Doc] = yield Find(q.versions_query(template_id, version_types, limit))
    return docs


def newest_version_head(template_id: str, version_types: list[str]) -> Plan[Doc | None]:
    """Only the id and content hash of the template's newest version of these types: a start
    compares hashes (the resolved workflow, the bulk of the document, is read only when they
    differ and a confirmation shows the diff)."""
    docs: list[Doc] = yield Find(q.versions_query(
        template_id, version_types, 1,
        projection={"workflow_version_id": 1, "content_hash": 1, "_id": 0}))
    return docs[0] if docs else None


def list_child_versions(parent_id: str) -> Plan[list[Doc]]:
    return _docs(Find(q.child_versions_query(parent_id)))


def list_version_history(run_id: str) -> Plan[list[Doc]]:
    return _docs(Find(q.version_history_query(run_id)))


# ---- files, tokens, config, generated content

def find_latest_file(run_id: str, lineage: Lineage, filename: str, category: str,
                     group_id: str | None) -> Plan[Doc | None]:
    if not lineage:
        return None
    doc: Doc | None = yield FindOne.first(q.latest_file_query(run_id, lineage, filename,
                                                              category, group_id))
    return doc


def list_files(run_id: str, lineage: Lineage) -> Plan[list[Doc]]:
    if not lineage:
        return []
    docs: list[Doc] = yield Find(q.list_files_query(run_id, lineage))
    return docs


def get_file(file_id: str) -> Plan[Doc | None]:
    return _doc(FindOne("workflow_files", {"file_id": file_id}))


def list_token_usage(run_id: str) -> Plan[list[Doc]]:
    return _docs(Find(q.token_usage_query(run_id)))


def get_option_usage(template_id: str, user_id: str, step_id: str, module_name: str,
                     option: str, scope: str) -> Plan[Doc | None]:
    return _doc(FindOne("option_usage", q.option_usage_key(template_id, user_id, step_id,
                                                            module_name, option, scope)))


def get_config(type_: str, name: str) -> Plan[Doc | None]:
    return _doc(FindOne("config", q.config_key(type_, name)))


def get_generated_content(content_id: str) -> Plan[Doc | None]:
    return _doc(FindOne("generated_content", q.content_filter(content_id)))


def _pair(specs: tuple[QuerySpec, QuerySpec]) -> Plan[tuple[list[Doc], list[Doc]]]:
    first: list[Doc] = yield Find(specs[0])
    second: list[Doc] = yield Find(specs[1])
    return first, second


def list_generations(run_id: str, interaction_id: str) -> Plan[tuple[list[Doc], list[Doc]]]:
    return _pair(q.generations_queries(run_id, interaction_id))


def list_run_media(run_id: str) -> Plan[tuple[list[Doc], list[Doc]]]:
    return _pair(q.run_media_queries(run_id))
