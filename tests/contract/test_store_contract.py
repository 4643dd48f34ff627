"""Store contract suite (storage.md §6 items 1–13, ST-1, ST-7, ST-16).

Every case runs unchanged against each store kind of conftest.STORE_KINDS; item 13 (BLOB-7
round trip) is the `roundtrip` fixture, active for the virtual store only.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from db.indexes import VIRTUAL_COLLECTIONS
from db.pipeline_eval import MongomockPipelineEvaluator
from engine.errors import ConcurrentModification, ExecutionFailed

NOW = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)

RUN = "wf_" + "a" * 32
CHILD = "wf_sub_" + "b" * 32
GRANDCHILD = "wf_sub_" + "c" * 32
OTHER = "wf_" + "d" * 32
BR_A, BR_B, BR_C = "br_" + "1" * 32, "br_" + "2" * 32, "br_" + "3" * 32
TPL = "tpl_" + "e" * 32


def ts(seconds: int = 0) -> datetime:
    return NOW + timedelta(seconds=seconds)


def run_doc(run_id: str, *, branch: str, parent: str | None = None, status: str = "processing",
            mock: bool = False, created: int = 0, updated: int = 0) -> dict[str, Any]:
    return {
        "workflow_run_id": run_id, "user_id": "usr_1", "project_name": "proj",
        "workflow_template_name": "cuddle_crew", "workflow_template_id": TPL,
        "current_workflow_version_id": "ver_1", "current_branch_id": branch, "status": status,
        "current_step": None, "current_step_name": None, "current_module": None,
        "completed_steps": [], "mock": mock, "mode": "production",
        "parent_workflow_run_id": parent, "execution_id": None, "visible_in_ui": True,
        "ai_config": None, "error_type": None, "error_message": None,
        "created_at": ts(created), "updated_at": ts(updated), "completed_at": None,
    }


def branch_doc(branch_id: str, run_id: str, lineage: list[tuple[str, int | None]],
               parent: str | None = None, reason: str = "root") -> dict[str, Any]:
    return {"branch_id": branch_id, "workflow_run_id": run_id,
            "lineage": [{"branch_id": b, "cutoff_sequence": c, "cutoff_event_id": None}
                        for b, c in lineage],
            "parent_branch_id": parent, "fork_reason": reason, "created_at": NOW}


def event_doc(run_id: str, branch_id: str, seq: int, event_type: str = "module_completed",
              data: dict[str, Any] | None = None, module: str | None = "m") -> dict[str, Any]:
    return {"event_id": f"evt_{run_id[-4:]}{seq:028x}", "workflow_run_id": run_id,
            "branch_id": branch_id, "sequence": seq, "workflow_version_id": "ver_1",
            "event_type": event_type, "timestamp": ts(seq), "provenance": "live",
            "step_id": "s1", "module_name": module, "data": data or {"n": seq}}


def three_branches(store: Any) -> list[dict[str, Any]]:
    """A: 1..5; B forks A at 3: 6..8; C forks B at 7: 9..10 (lineages as engine.md §5.1)."""
    store.insert_run(run_doc(RUN, branch=BR_C))
    lineage_c = [(BR_A, 3), (BR_B, 7), (BR_C, None)]
    store.insert_branch(branch_doc(BR_A, RUN, [(BR_A, None)]))
    store.insert_branch(branch_doc(BR_B, RUN, [(BR_A, 3), (BR_B, None)], BR_A, "jump"))
    store.insert_branch(branch_doc(BR_C, RUN, lineage_c, BR_B, "jump"))
    for seq in range(1, 11):
        branch = BR_A if seq <= 5 else BR_B if seq <= 8 else BR_C
        kind = "interaction_requested" if seq in (2, 7) else "module_completed"
        store.append_event(event_doc(RUN, branch, seq, kind, {"interaction_id": "select_1"}
                                     if kind == "interaction_requested" else None))
    return store.get_branch(BR_C)["lineage"]


def seqs(docs: list[dict[str, Any]]) -> list[int]:
    return [d["sequence"] for d in docs]


# ---- 1. lineage selection (ST-9, ENG-16)

def test_lineage_selection_three_branches_st9(store: Any, roundtrip: Any) -> None:
    lineage = three_branches(store)
    store.insert_run(run_doc(CHILD, branch=BR_A + "x", parent=RUN))
    store.insert_branch(branch_doc(BR_A + "x", CHILD, [(BR_A + "x", None)]))
    store.append_event(event_doc(CHILD, BR_A + "x", 1))
    assert seqs(store.lineage_events(RUN, lineage)) == [1, 2, 3, 6, 7, 9, 10]
    assert seqs(store.lineage_events(RUN, lineage, ["interaction_requested"])) == [2, 7]
    assert seqs(store.lineage_events(RUN, [{"branch_id": BR_A, "cutoff_sequence": None}])) == [
        1, 2, 3, 4, 5]
    assert store.lineage_events(RUN, []) == []
    assert store.max_sequence(RUN) == 10 and store.max_sequence("wf_none") == 0
    docs, total = store.find_events(RUN, [BR_A, BR_C], None, None, 2, 3)
    assert seqs(docs) == [3, 4, 5] and total == 5
    docs, total = store.find_events(RUN, None, "interaction_requested", "m", None, 500)
    assert seqs(docs) == [2, 7] and total == 2
    assert seqs(store.find_interaction_requests(RUN, "select_1")) == [2, 7]
    roundtrip(store, lambda s: s.lineage_events(RUN, lineage))


# ---- 2. duplicate sequence (ENG-51)

def test_append_event_duplicate_sequence_writes_nothing_eng51(store: Any, roundtrip: Any) -> None:
    three_branches(store)
    clash = event_doc(RUN, BR_C, 10, data={"loser": True})
    clash["event_id"] = "evt_" + "f" * 32
    with pytest.raises(ConcurrentModification):
        store.append_event(clash)
    same_id = event_doc(RUN, BR_C, 11)
    same_id["event_id"] = store.find_events(RUN, None, None, None, None, 1)[0][0]["event_id"]
    with pytest.raises(ConcurrentModification):
        store.append_event(same_id)
    docs, total = store.find_events(RUN, None, None, None, None, 100)
    assert total == 10 and all(not d["data"].get("loser") for d in docs)
    assert store.max_sequence(RUN) == 10
    roundtrip(store, lambda s: s.find_events(RUN, None, None, None, None, 100))


# ---- 3. answer records (engine.md §18.1)

def answer(branch: str, seq: int) -> dict[str, Any]:
    return {"workflow_run_id": RUN, "interaction_id": "select_1", "branch_id": branch,
            "response_hash": f"sha256:{seq}", "sequence": seq, "outcome": None,
            "created_at": ts(seq), "updated_at": ts(seq)}


def test_answer_records_unique_and_ordered_eng50(store: Any, roundtrip: Any) -> None:
    store.insert_answer(answer(BR_B, 9))
    store.insert_answer(answer(BR_A, 4))
    with pytest.raises(ConcurrentModification):
        store.insert_answer(answer(BR_A, 5))
    outcome = {"status": "awaiting_input", "result": {"$match": {"a.b": 1}}}
    store.set_answer_outcome(RUN, "select_1", BR_A, outcome, ts(20))
    found = store.find_answers(RUN, "select_1")
    assert [(a["branch_id"], a["sequence"]) for a in found] == [(BR_A, 4), (BR_B, 9)]
    assert found[0]["outcome"] == outcome and found[0]["updated_at"] == ts(20)
    assert found[1]["outcome"] is None
    assert store.find_answers(RUN, "other") == []
    roundtrip(store, lambda s: s.find_answers(RUN, "select_1"))


# ---- 4. versions (WF-20)

def version(vid: str, vtype: str, parent: str | None, index: int | None,
            content_hash: str = "sha256:x", created: int = 0) -> dict[str, Any]:
    return {"workflow_version_id": vid, "workflow_template_id": TPL, "content_hash": content_hash,
            "source_type": "json", "version_type": vtype, "resolved_workflow": {"id": vid},
            "parent_workflow_version_id": parent, "requires": [], "expansion_index": index,
            "created_at": ts(created)}


def test_version_dedup_and_child_order_wf20(store: Any, roundtrip: Any) -> None:
    source = version("ver_src", "unresolved", None, None)
    assert store.insert_version(source)["workflow_version_id"] == "ver_src"
    again = store.insert_version(version("ver_dup", "unresolved", None, None))
    assert again["workflow_version_id"] == "ver_src"
    for vid, index in (("ver_c2", 2), ("ver_c0", 0), ("ver_c1", 1)):
        store.insert_version(version(vid, "resolved", "ver_src", index, f"sha256:{vid}"))
    dup_child = store.insert_version(version("ver_cx", "resolved", "ver_src", 5, "sha256:ver_c1"))
    assert dup_child["workflow_version_id"] == "ver_c1"
    assert [v["expansion_index"] for v in store.list_child_versions("ver_src")] == [0, 1, 2]
    assert store.get_version("ver_dup") is None
    assert store.find_source_version(TPL, "sha256:x")["workflow_version_id"] == "ver_src"
    assert store.find_source_version(TPL, "sha256:ver_c1") is None
    assert store.get_version_kind("ver_c1") == {"workflow_version_id": "ver_c1",
                                                "version_type": "resolved"}
    assert store.get_version_kind("ver_dup") is None
    store.insert_version(version("ver_raw", "raw", None, None, "sha256:y", created=5))
    listed = store.list_versions(TPL, ["raw", "unresolved"], 10)
    assert [v["workflow_version_id"] for v in listed] == ["ver_raw", "ver_src"]
    assert len(store.list_versions(TPL, ["raw", "unresolved"], 1)) == 1
    # a start's hash check reads only the newest source version's id and hash
    assert store.newest_version_head(TPL, ["raw", "unresolved"]) == {
        "workflow_version_id": "ver_raw", "content_hash": "sha256:y"}
    assert store.newest_version_head(TPL, ["resolved"]) == {
        "workflow_version_id": "ver_c2", "content_hash": "sha256:ver_c2"}
    assert store.newest_version_head("tpl_none", ["raw", "unresolved"]) is None
    roundtrip(store, lambda s: s.list_child_versions("ver_src"))


# ---- 5. weighted keywords (MOD-wk-3, ENG-45)

def upsert(store: Any, keyword: str, weight: float, accumulate: bool, scope: str = "live",
           at: int = 0, source: str = "generated") -> None:
    set_fields: dict[str, Any] = {"last_used": ts(at), "source": source}
    if not accumulate:
        set_fields["weight"] = weight
    store.upsert_keyword(TPL, scope, keyword, weight if accumulate else None, set_fields,
                         {"keyword": keyword, "workflow_template_id": TPL, "scope": scope,
                          "created_at": ts(at)})


def keywords(store: Any, scope: str) -> dict[str, Any]:
    docs = store.aggregate_keywords([{"$match": {"workflow_template_id": TPL, "scope": scope}}])
    return {d["keyword"]: d for d in docs}


def test_upsert_keyword_inc_set_scope_mod_wk_3(store: Any, roundtrip: Any) -> None:
    upsert(store, "kitten", 1, True, at=0)
    upsert(store, "kitten", 2.5, True, at=5)
    live = keywords(store, "live")
    assert live["kitten"]["weight"] == 3.5
    assert live["kitten"]["created_at"] == ts(0) and live["kitten"]["last_used"] == ts(5)
    upsert(store, "kitten", 7, False, at=9, source="selected")
    live = keywords(store, "live")
    assert live["kitten"]["weight"] == 7 and live["kitten"]["source"] == "selected"
    assert live["kitten"]["created_at"] == ts(0)
    upsert(store, "kitten", 1, True, scope="mock")
    assert keywords(store, "mock")["kitten"]["weight"] == 1
    assert keywords(store, "live")["kitten"]["weight"] == 7
    with pytest.raises(ConcurrentModification):
        store.executor.insert_one("weighted_keywords", {"workflow_template_id": TPL,
                                                        "scope": "live", "keyword": "kitten"})
    assert store.executor.count_documents("weighted_keywords", {"keyword": "kitten"}) == 2
    roundtrip(store, lambda s: (keywords(s, "live"), keywords(s, "mock")))


# ---- 6. cuddle_crew keyword loads (MOD-wk-2)

def load_pipeline(source: str, scope: str = "live") -> list[dict[str, Any]]:
    return [{"$match": {"workflow_template_id": TPL, "scope": scope}},
            {"$match": {"source": source}}, {"$sort": {"weight": -1}}, {"$limit": 50}]


def test_aggregate_keywords_cuddle_crew_loads_mod_wk_2(store: Any, roundtrip: Any) -> None:
    assert store.aggregate_keywords(load_pipeline("selected")) == []
    for i in range(60):
        upsert(store, f"gen{i:02d}", float(i), False, source="generated")
    for i, weight in enumerate((3, 9, 1)):
        upsert(store, f"sel{i}", float(weight), False, source="selected")
    upsert(store, "mockonly", 100.0, False, scope="mock", source="selected")
    selected = store.aggregate_keywords(load_pipeline("selected"))
    assert [d["keyword"] for d in selected] == ["sel1", "sel0", "sel2"]
    assert all("_id" not in d for d in selected)
    assert selected[0]["last_used"].tzinfo is not None
    generated = store.aggregate_keywords(load_pipeline("generated"))
    assert len(generated) == 50 and generated[0]["keyword"] == "gen59"
    assert [d["weight"] for d in generated] == sorted((d["weight"] for d in generated), reverse=True)
    with pytest.raises(ExecutionFailed):
        store.aggregate_keywords([{"$match": {"source": "selected"}}])
    roundtrip(store, lambda s: s.aggregate_keywords(load_pipeline("selected")))


# ---- 7. files (MOD-io-1, ST-9)

def file_doc(fid: str, branch: str, seq: int, group: str | None = None,
             name: str = "scenes.json") -> dict[str, Any]:
    return {"file_id": fid, "workflow_run_id": RUN, "branch_id": branch, "sequence": seq,
            "category": "outputs", "group_id": group, "filename": name, "content_type": "json",
            "content": {"seq": seq}, "metadata": {"step_id": "s1", "module_name": "m",
                                                  "target_path": group or "outputs"},
            "provenance": "live", "created_at": ts(seq)}


def test_find_latest_file_lineage_visibility_mod_io_1(store: Any, roundtrip: Any) -> None:
    lineage = three_branches(store)
    store.insert_file(file_doc("wff_a2", BR_A, 2))
    store.insert_file(file_doc("wff_a5", BR_A, 5))
    store.insert_file(file_doc("wff_b7", BR_B, 7))
    store.insert_file(file_doc("wff_b8", BR_B, 8))
    store.insert_file(file_doc("wff_g", BR_C, 9, group="drafts"))
    latest = store.find_latest_file(RUN, lineage, "scenes.json", "outputs", None)
    assert latest["file_id"] == "wff_b7" and latest["content"] == {"seq": 7}
    only_a = [{"branch_id": BR_A, "cutoff_sequence": None}]
    assert store.find_latest_file(RUN, only_a, "scenes.json", "outputs", None)["file_id"] == "wff_a5"
    cut_a = [{"branch_id": BR_A, "cutoff_sequence": 1}]
    assert store.find_latest_file(RUN, cut_a, "scenes.json", "outputs", None) is None
    assert store.find_latest_file(RUN, lineage, "scenes.json", "outputs", "drafts")["file_id"] == "wff_g"
    assert store.find_latest_file(RUN, lineage, "scenes.json", "root", None) is None
    listed = store.list_files(RUN, lineage)
    assert [f["file_id"] for f in listed] == ["wff_a2", "wff_b7", "wff_g"]
    assert all("content" not in f and "_id" not in f for f in listed)
    roundtrip(store, lambda s: (s.list_files(RUN, lineage),
                                s.find_latest_file(RUN, lineage, "scenes.json", "outputs", None)))


# ---- 8. datetimes (ST-3)

def test_datetimes_aware_utc_milliseconds_st3(store: Any, roundtrip: Any) -> None:
    run = run_doc(RUN, branch=BR_A, created=1, updated=2)
    run["completed_at"] = datetime(2026, 5, 6, 7, 8, 9, 123000, tzinfo=timezone.utc)
    store.insert_run(run)
    store.insert_branch(branch_doc(BR_A, RUN, [(BR_A, None)]))
    got = store.get_run(RUN)
    for field in ("created_at", "updated_at", "completed_at"):
        assert got[field] == run[field]
        assert got[field].utcoffset() == timedelta(0) and got[field].microsecond % 1000 == 0
    later = datetime(2026, 5, 6, 9, 0, 0, 999000, tzinfo=timezone(timedelta(hours=2)))
    store.update_run(RUN, {"updated_at": later, "status": "completed"})
    got = store.get_run(RUN)
    assert got["updated_at"] == later and got["updated_at"].utcoffset() == timedelta(0)
    assert got["updated_at"].hour == 7
    with pytest.raises(ValueError):
        store.update_run(RUN, {"user_id": "usr_evil"})
    nested = {"type": "db.table_schema", "name": "t", "created_at": NOW,
              "value": {"at": [{"when": later}], "looks_like": "2026-01-01T00:00:00"}}
    store.executor.insert_one("config", nested)
    value = store.get_config("db.table_schema", "t")["value"]
    assert value == nested["value"] and value["at"][0]["when"].utcoffset() == timedelta(0)
    roundtrip(store, lambda s: (s.get_run(RUN), s.get_config("db.table_schema", "t")))


def test_returned_documents_are_copies_st2(store: Any) -> None:
    store.insert_run(run_doc(RUN, branch=BR_A))
    got = store.get_run(RUN)
    assert "_id" not in got
    got["completed_steps"].append("mutated")
    got["status"] = "mutated"
    again = store.get_run(RUN)
    assert again["completed_steps"] == [] and again["status"] == "processing"
    doc = run_doc(OTHER, branch=BR_B)
    store.insert_run(doc)
    assert "_id" not in doc
    doc["completed_steps"].append("later")
    assert store.get_run(OTHER)["completed_steps"] == []


# ---- 9. `$` and `.` in nested names (ST-4)

def test_nested_dollar_and_dot_keys_unchanged_st4(store: Any, roundtrip: Any) -> None:
    data = {"resolved_inputs": {"pipeline": [{"$match": {"a.b": {"$in": [1, 2]}}},
                                             {"$sort": {"weight": -1, "keyword": 1}}]},
            "_ux.display": {"$date": "not a date", "x.y": [{"$esc": {"$date": 1}}]},
            "unicode ключ ✓": "значение", "tag": {"$date": "2026-01-01T00:00:00.000Z"},
            "esc": {"$esc": {"$date": {"$date": 1}}}}
    store.insert_run(run_doc(RUN, branch=BR_A))
    store.insert_branch(branch_doc(BR_A, RUN, [(BR_A, None)]))
    store.append_event(event_doc(RUN, BR_A, 1, data=data))
    got = store.lineage_events(RUN, [{"branch_id": BR_A, "cutoff_sequence": None}])[0]["data"]
    assert got == data
    assert list(got["resolved_inputs"]["pipeline"][1]["$sort"]) == ["weight", "keyword"]
    store.update_run(RUN, {"ai_config": {"nested": {"$x": 1, "a.b": 2}}})
    assert store.get_run(RUN)["ai_config"] == {"nested": {"$x": 1, "a.b": 2}}
    roundtrip(store, lambda s: (s.lineage_events(RUN, [{"branch_id": BR_A,
                                                        "cutoff_sequence": None}]), s.get_run(RUN)))


# ---- 10. delete cascade (engine.md §15.6, ENG-43)

def populate_run(store: Any, run_id: str, parent: str | None, tag: str) -> None:
    branch = "br_" + tag * 32
    store.insert_run(run_doc(run_id, branch=branch, parent=parent))
    store.insert_branch(branch_doc(branch, run_id, [(branch, None)]))
    store.append_event(event_doc(run_id, branch, 1))
    store.insert_answer({**answer(branch, 1), "workflow_run_id": run_id})
    store.insert_file({**file_doc("wff_" + tag, branch, 1), "workflow_run_id": run_id})
    store.insert_token_usage({"workflow_run_id": run_id, "timestamp": NOW, "step_id": "s1",
                              "module_name": "m", "usage": [], "provenance": "live"})
    store.insert_generation_metadata({"content_generation_metadata_id": "cgm_" + tag,
                                      "workflow_run_id": run_id, "interaction_id": "media_1",
                                      "status": "completed", "created_at": NOW})
    store.insert_generated_content({"generated_content_id": "gc_" + tag,
                                    "content_generation_metadata_id": "cgm_" + tag,
                                    "workflow_run_id": run_id, "interaction_id": "media_1",
                                    "index": 0, "created_at": NOW})
    store.insert_version_history({"workflow_run_id": run_id, "workflow_version_id": "ver_1",
                                  "source_workflow_version_id": "ver_1",
                                  "client_capabilities": [], "workflow_version_requirements": [],
                                  "created_at": NOW})


RUN_SCOPED = ("workflow_runs", "events", "branches", "interaction_answers", "workflow_files",
              "tokens", "content_generation_metadata", "generated_content",
              "workflow_run_version_history")


def test_delete_run_cascade_eng43(store: Any, roundtrip: Any) -> None:
    populate_run(store, RUN, None, "1")
    populate_run(store, CHILD, RUN, "2")
    populate_run(store, GRANDCHILD, CHILD, "3")
    populate_run(store, OTHER, None, "4")
    store.get_or_create_template("usr_1", "cuddle_crew", "Cuddle", TPL, NOW)
    store.insert_version(version("ver_1", "raw", None, None))
    upsert(store, "kitten", 1, True)
    store.touch_option_usage(TPL, "usr_1", "s1", "m", "opt", "live", NOW)
    assert [r["workflow_run_id"] for r in store.list_child_runs(RUN)] == [CHILD]
    store.delete_run_cascade(RUN)
    ex = store.executor
    for coll in RUN_SCOPED:
        remaining = {d["workflow_run_id"] for d in ex.find(coll, {})}
        assert remaining == {OTHER}, coll
    assert store.get_template(TPL) is not None and store.get_version("ver_1") is not None
    assert keywords(store, "live")["kitten"]["weight"] == 1
    assert store.get_option_usage(TPL, "usr_1", "s1", "m", "opt", "live") is not None
    assert store.list_generations(OTHER, "media_1")[1][0]["generated_content_id"] == "gc_4"
    roundtrip(store, lambda s: [s.executor.find(c, {}) for c in RUN_SCOPED])


# ---- 11. db.query tables (MOD-dbq-1, ST-8)

def test_run_table_query_projection_sort_limit_st8(store: Any, roundtrip: Any) -> None:
    store.executor.insert_many("products", [
        {"sku": f"p{i}", "price": price, "name": f"n{i}", "secret": "x"}
        for i, price in enumerate((5, 1, 9, 3))])
    rows = store.run_table_query("products", {"price": {"$gt": 1}}, ["sku", "price"],
                                 [("price", -1)], 2)
    assert rows == [{"sku": "p2", "price": 9}, {"sku": "p0", "price": 5}]
    for name in sorted(VIRTUAL_COLLECTIONS) + ["access_keys", "refresh_tokens"]:
        with pytest.raises(ExecutionFailed):
            store.run_table_query(name, {}, ["user_id"], None, 10)
    # Tables outside §3.1 are not part of a blob: the round trip covers the blob collections only.
    roundtrip(store, lambda s: s.top_level_runs())


# ---- 12. PipelineEvaluator parity (storage.md §2)

SCENES = [{"title": "a", "scene_keywords": [{"keyword": "cat", "weight": 2},
                                             {"keyword": "dog", "weight": 1}]},
          {"title": "b", "scene_keywords": [{"keyword": "owl", "weight": 3}]}]
CC_PIPELINES = [
    (SCENES, [{"$unwind": "$scene_keywords"}, {"$replaceRoot": {"newRoot": "$scene_keywords"}},
              {"$addFields": {"source": "generated"}}]),
    ([{"scene": SCENES[0]}], [{"$unwind": "$scene.scene_keywords"},
                              {"$replaceRoot": {"newRoot": "$scene.scene_keywords"}},
                              {"$addFields": {"source": "selected"}}]),
]


@pytest.mark.parametrize("docs,pipeline", CC_PIPELINES)
def test_pipeline_evaluator_matches_direct_aggregation(store: Any, roundtrip: Any,
                                                       docs: list[Any], pipeline: list[Any]) -> None:
    store.executor.insert_many("scratch_scenes", docs)
    direct = store.executor.aggregate("scratch_scenes", pipeline)
    evaluated = MongomockPipelineEvaluator().aggregate(docs, pipeline)
    assert evaluated == direct and len(direct) in (2, 3)
    for doc in evaluated:
        upsert(store, doc["keyword"], float(doc["weight"]), False, source=doc["source"])
    src = evaluated[0]["source"]
    kw_docs = [{k: v for k, v in d.items()} for d in store.executor.find("weighted_keywords", {})]
    assert (MongomockPipelineEvaluator().aggregate(kw_docs, load_pipeline(src))
            == store.aggregate_keywords(load_pipeline(src)))
    roundtrip(store, lambda s: s.aggregate_keywords(load_pipeline(src)))


# ---- the remaining port operations

def test_runs_templates_and_misc_operations(store: Any, roundtrip: Any) -> None:
    store.insert_run(run_doc(RUN, branch=BR_A, status="completed", created=0, updated=9))
    store.insert_branch(branch_doc(BR_A, RUN, [(BR_A, None)]))
    store.insert_run(run_doc(CHILD, branch=BR_B, parent=RUN, created=1, updated=1))
    store.insert_branch(branch_doc(BR_B, CHILD, [(BR_B, None)]))
    with pytest.raises(ConcurrentModification):
        store.insert_run(run_doc(RUN, branch=BR_A))
    assert store.find_active_run("usr_1", "proj", TPL, False) is None
    store.update_run(RUN, {"status": "awaiting_input", "updated_at": ts(10)})
    assert store.find_active_run("usr_1", "proj", TPL, False)["workflow_run_id"] == RUN
    assert store.find_active_run("usr_1", "proj", TPL, True) is None
    assert [r["workflow_run_id"] for r in store.top_level_runs()] == [RUN]
    assert [r["workflow_run_id"] for r in store.list_runs("usr_1", True, True, 10, 0)] == [RUN]
    assert store.list_runs("usr_1", True, True, 10, 1) == []
    tpl = store.get_or_create_template("usr_1", "cuddle_crew", "Cuddle Crew", TPL, ts(1))
    same = store.get_or_create_template("usr_1", "cuddle_crew", "Renamed", "tpl_other", ts(2))
    assert same == tpl and tpl["workflow_template_id"] == TPL and tpl["updated_at"] == ts(1)
    store.touch_template(TPL, ts(3))
    assert store.get_template(TPL)["updated_at"] == ts(3)
    assert [t["workflow_template_id"] for t in store.list_templates("usr_1")] == [TPL]
    store.insert_version_history({"workflow_run_id": RUN, "workflow_version_id": "ver_1",
                                  "source_workflow_version_id": "ver_1", "created_at": NOW,
                                  "client_capabilities": [], "workflow_version_requirements": []})
    assert len(store.list_version_history(RUN)) == 1
    store.insert_token_usage({"workflow_run_id": RUN, "timestamp": NOW, "usage": [{"model": "x"}]})
    assert store.list_token_usage(RUN)[0]["usage"] == [{"model": "x"}]
    store.touch_option_usage(TPL, "usr_1", "s1", "m", "opt", "live", ts(1))
    store.touch_option_usage(TPL, "usr_1", "s1", "m", "opt", "live", ts(5))
    usage = store.get_option_usage(TPL, "usr_1", "s1", "m", "opt", "live")
    assert usage["created_at"] == ts(1) and usage["updated_at"] == ts(5)
    assert store.get_option_usage(TPL, "usr_1", "s1", "m", "opt", "mock") is None
    store.executor.insert_one("config", {"type": "db.query", "name": "query_schema",
                                         "value": {"max_limit": 10}, "created_at": NOW})
    assert store.get_config("db.query", "query_schema")["value"] == {"max_limit": 10}
    store.insert_generation_metadata({"content_generation_metadata_id": "cgm_1",
                                      "workflow_run_id": RUN, "interaction_id": "media_1",
                                      "status": "pending", "created_at": NOW})
    store.update_generation_metadata("cgm_1", {"status": "completed", "completed_at": ts(4)})
    for i in (1, 0):
        store.insert_generated_content({"generated_content_id": f"gc_{i}",
                                        "content_generation_metadata_id": "cgm_1",
                                        "workflow_run_id": RUN, "interaction_id": "media_1",
                                        "index": i, "url": f"u{i}", "created_at": NOW})
    meta, content = store.list_generations(RUN, "media_1")
    assert meta[0]["status"] == "completed" and meta[0]["completed_at"] == ts(4)
    assert [c["index"] for c in content] == [0, 1]
    assert store.get_generated_content("gc_1")["url"] == "u1"
    roundtrip(store, lambda s: (s.list_runs("usr_1", False, True, 10, 0),
                                s.list_generations(RUN, "media_1"), s.list_templates("usr_1")))

