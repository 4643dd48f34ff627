"""MongomockPipelineEvaluator (storage.md §2; the `cuddle_crew` pipelines of MOD-wk-2, MOD-core-6)."""

from __future__ import annotations

import copy
import json
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from db.pipeline_eval import MongomockPipelineEvaluator
from engine.errors import ExecutionFailed

SCENES = [
    {"title": "Nap time", "scene_keywords": [{"keyword": "blanket", "weight": 3},
                                             {"keyword": "yawn", "weight": 1}]},
    {"title": "Zoomies", "scene_keywords": [{"keyword": "sprint", "weight": 5}]},
    {"title": "Empty", "scene_keywords": []},
]
FLATTEN = [{"$unwind": "$scene_keywords"}, {"$replaceRoot": {"newRoot": "$scene_keywords"}},
           {"$addFields": {"source": "generated"}}]
SELECTED = [{"$unwind": "$scene.scene_keywords"},
            {"$replaceRoot": {"newRoot": "$scene.scene_keywords"}},
            {"$addFields": {"source": "selected"}}]
STEP_FILE = Path("/work/shared/workflows/cuddle_crew/steps/2_scene_generation/step.json")


@pytest.fixture
def evaluator() -> MongomockPipelineEvaluator:
    return MongomockPipelineEvaluator()


def test_flatten_keywords_cuddle_crew(evaluator: MongomockPipelineEvaluator) -> None:
    out = evaluator.aggregate(SCENES, FLATTEN)
    assert out == [{"keyword": "blanket", "weight": 3, "source": "generated"},
                   {"keyword": "yawn", "weight": 1, "source": "generated"},
                   {"keyword": "sprint", "weight": 5, "source": "generated"}]


def test_extract_selected_keywords_cuddle_crew(evaluator: MongomockPipelineEvaluator) -> None:
    out = evaluator.aggregate([{"scene": SCENES[0]}], SELECTED)
    assert out == [{"keyword": "blanket", "weight": 3, "source": "selected"},
                   {"keyword": "yawn", "weight": 1, "source": "selected"}]


def test_keyword_load_pipeline_mod_wk_2(evaluator: MongomockPipelineEvaluator) -> None:
    docs = [{"workflow_template_id": "tpl_1", "scope": scope, "keyword": f"k{i}",
             "weight": i, "source": source}
            for i in range(70) for scope, source in (("live", "selected"), ("mock", "generated"))]
    docs.append({"workflow_template_id": "tpl_2", "scope": "live", "keyword": "x",
                 "weight": 999, "source": "selected"})
    pipeline = [{"$match": {"workflow_template_id": "tpl_1", "scope": "live"}},
                {"$match": {"source": "selected"}}, {"$sort": {"weight": -1}}, {"$limit": 50}]
    out = evaluator.aggregate(docs, pipeline)
    assert [d["weight"] for d in out] == list(range(69, 19, -1))
    assert all(d["scope"] == "live" and "_id" not in d for d in out)


def test_pipelines_in_the_workflow_file_match_the_spec_examples() -> None:
    """Guards the literal pipelines above against drift from the real workflow."""
    text = STEP_FILE.read_text()
    for pipeline in (FLATTEN, SELECTED):
        for stage in pipeline:
            assert json.dumps(stage).replace(" ", "") in text.replace(" ", "")


def test_inputs_not_mutated_and_no_id(evaluator: MongomockPipelineEvaluator) -> None:
    before = copy.deepcopy(SCENES)
    out = evaluator.aggregate(SCENES, [{"$match": {"title": "Zoomies"}}])
    assert before == SCENES
    assert out == [SCENES[1]] and "_id" not in out[0]
    out[0]["title"] = "changed"
    assert before == SCENES


def test_throwaway_collections_are_dropped(evaluator: MongomockPipelineEvaluator) -> None:
    evaluator.aggregate(SCENES, FLATTEN)
    with pytest.raises(ExecutionFailed):
        evaluator.aggregate(SCENES, [{"$bogusStage": {}}])
    db = MongomockPipelineEvaluator._client["pipeline_eval"]
    assert db.list_collection_names() == []


def test_empty_input_and_non_object_input(evaluator: MongomockPipelineEvaluator) -> None:
    assert evaluator.aggregate([], FLATTEN) == []
    with pytest.raises(ExecutionFailed):
        evaluator.aggregate([1, 2], FLATTEN)  # type: ignore[list-item]


def test_datetimes_come_back_aware_st3(evaluator: MongomockPipelineEvaluator) -> None:
    when = datetime(2026, 1, 1, 12, 0, 0, 123000, tzinfo=timezone.utc)
    out = evaluator.aggregate([{"at": when, "nested": [{"at": when}]}], [{"$match": {}}])
    assert out == [{"at": when, "nested": [{"at": when}]}]
    assert out[0]["at"].tzinfo is not None and out[0]["nested"][0]["at"].tzinfo is not None


def test_group_sort_facet_stages(evaluator: MongomockPipelineEvaluator) -> None:
    docs = [{"k": "a", "v": 1}, {"k": "b", "v": 2}, {"k": "a", "v": 3}]
    grouped = evaluator.aggregate(docs, [{"$group": {"_id": "$k", "total": {"$sum": "$v"}}},
                                         {"$sort": {"total": -1}}])
    assert grouped == [{"total": 4}, {"total": 2}]  # `_id` is always removed from results
    faceted = evaluator.aggregate(docs, [{"$facet": {"n": [{"$count": "c"}]}}])
    assert faceted == [{"n": [{"c": 3}]}]


def test_concurrent_calls_are_isolated(evaluator: MongomockPipelineEvaluator) -> None:
    results: dict[int, Any] = {}

    def work(i: int) -> None:
        docs = [{"scene_keywords": [{"keyword": f"t{i}-{j}", "weight": j} for j in range(20)]}]
        results[i] = evaluator.aggregate(docs, FLATTEN)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, out in results.items():
        assert [d["keyword"] for d in out] == [f"t{i}-{j}" for j in range(20)]
