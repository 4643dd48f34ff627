"""Content hash, execution-group expansion, variant selection and version diffs (§8, engine.md §15.2)."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import msgspec
import pytest

from engine.errors import WorkflowInvalid
from engine.upload import load_workflow_folder
from engine.versions import content_hash, expand_execution_groups, select_variant, version_diff

CUDDLE = Path(__file__).resolve().parents[2].parent / "shared" / "workflows" / "cuddle_crew"


def _group(name, capability, priority, *module_names):
    return {"name": name, "requires": [{"capability": capability, "priority": priority}],
            "modules": [{"module_id": "api.llm", "name": n, "inputs": {"k": n}} for n in module_names]}


def _workflow():
    return {
        "workflow_id": "w", "config": {"a": 1},
        "steps": [
            {"step_id": "one", "modules": [
                {"module_id": "user.text_input", "name": "before"},
                {"module_id": "pipeline.execution_groups", "name": "image_path",
                 "output_schema": {"type": "object", "properties": {"image_prompt": {"type": "string"},
                                                                    "alt": {"type": "string"}}},
                 "groups": [_group("fast", "basic", 1, "f1", "f2"), _group("rich", "vision", 5, "r1")]},
                {"module_id": "user.text_input", "name": "after"}]},
            {"step_id": "two", "modules": [
                {"module_id": "pipeline.execution_groups", "name": "music",
                 "groups": [_group("a", "audio", 2, "m1"), _group("b", "basic", 0, "m2")]}]},
        ],
    }


def test_wf22_content_hash_formula():
    """[WF-22] sha256 of canonical JSON (sorted keys, no whitespace)."""
    wf = {"b": 1, "a": {"y": [1, 2], "x": "é"}}
    expected = "sha256:" + hashlib.sha256(msgspec.json.encode(wf, order="sorted")).hexdigest()
    assert content_hash(wf) == expected
    assert content_hash({"a": {"x": "é", "y": [1, 2]}, "b": 1}) == expected


def test_wf20_no_execution_groups_gives_no_variants():
    """[WF-20] A workflow without execution groups is stored raw (no children)."""
    wf = load_workflow_folder(CUDDLE, "workflow_v3.json")
    assert expand_execution_groups(wf) == []


def test_wf18_cartesian_product_in_flat_order():
    """[WF-18][WF-20] 2×2 variants, first module's choice varies slowest; requires concatenated."""
    variants = expand_execution_groups(_workflow())
    assert [v.index for v in variants] == [0, 1, 2, 3]
    names = [[m["name"] for s in v.workflow["steps"] for m in s["modules"]] for v in variants]
    assert names[0] == ["before", "f1", "f2", "_image_path_validator", "after", "m1"]
    assert names[1] == ["before", "f1", "f2", "_image_path_validator", "after", "m2"]
    assert names[2] == ["before", "r1", "_image_path_validator", "after", "m1"]
    assert [[r["capability"] for r in v.requires] for v in variants] == [
        ["basic", "audio"], ["basic", "basic"], ["vision", "audio"], ["vision", "basic"]]
    assert variants[0].workflow["config"] == {"a": 1}


def test_wf19_metadata_and_validator():
    """[WF-19] `_metadata` of inserted modules and the appended io.validate module."""
    source = _workflow()
    before = copy.deepcopy(source)
    variant = expand_execution_groups(source)[0]
    assert source == before  # the source is never mutated
    f1, f2, validator = variant.workflow["steps"][0]["modules"][1:4]
    requires = [{"capability": "basic", "priority": 1}]
    assert f1["_metadata"] == {"expanded_from": "image_path", "expanded_index": 0, "_group_origin": {
        "group_name": "image_path", "path_name": "fast", "requires": requires,
        "is_group_exit": False, "auto_generated": False}}
    assert f2["_metadata"]["expanded_index"] == 1
    assert f2["_metadata"]["_group_origin"]["is_group_exit"] is False
    assert validator == {
        "module_id": "io.validate", "name": "_image_path_validator",
        "inputs": {"schema": source["steps"][0]["modules"][1]["output_schema"],
                   "state_keys": ["image_prompt", "alt"], "strict": False},
        "_metadata": {"expanded_from": "image_path", "expanded_index": 2, "_group_origin": {
            "group_name": "image_path", "path_name": "fast", "requires": requires,
            "is_group_exit": True, "auto_generated": True}}}
    m1 = variant.workflow["steps"][1]["modules"][0]
    assert m1["_metadata"]["_group_origin"]["is_group_exit"] is True  # no output_schema there
    assert m1["inputs"] == {"k": "m1"}


def test_wf18_more_than_64_combinations():
    """[WF-18] 65+ combinations are refused."""
    wf = {"workflow_id": "w", "steps": [{"step_id": "s", "modules": [
        {"module_id": "pipeline.execution_groups", "name": "e" + str(i),
         "groups": [{"name": "g" + str(k), "modules": []} for k in range(n)]}
        for i, n in enumerate((4, 4, 4, 2))]}]}
    with pytest.raises(WorkflowInvalid) as exc:
        expand_execution_groups(wf)
    assert exc.value.details["reason"] == "more than 64 execution-group combinations"
    wf["steps"][0]["modules"].pop()
    assert len(expand_execution_groups(wf)) == 64


def _children():
    return [{"_id": "c" + str(v.index), "requires": v.requires, "expansion_index": v.index}
            for v in expand_execution_groups(_workflow())]


def test_wf21_select_highest_priority_then_first():
    """[WF-21] All capabilities met, largest priority sum, ties to expansion order."""
    children = _children()
    assert select_variant(children, ["basic", "vision", "audio"])["_id"] == "c2"  # 5+2
    assert select_variant(children, ["basic", "vision"])["_id"] == "c3"  # vision+basic = 5
    assert select_variant(children, ["basic"])["_id"] == "c1"
    tied = [{"_id": "x", "requires": [], "expansion_index": 1},
            {"_id": "y", "requires": [], "expansion_index": 0}]
    assert select_variant(tied, [])["_id"] == "y"


def test_wf21_no_candidate_error_details():
    """[WF-21] No match → workflow_invalid with reason and capabilities."""
    with pytest.raises(WorkflowInvalid) as exc:
        select_variant(_children(), ["audio"])
    assert exc.value.error_type == "workflow_invalid"
    assert exc.value.details == {"reason": "no variant matches the client capabilities",
                                 "capabilities": ["audio"]}


def test_version_diff_acc_p10_2_prompt_edit():
    """[ACC-P10-2] Editing select_scene.inputs.prompt is a changed module."""
    old = load_workflow_folder(CUDDLE, "workflow_v3.json")
    new = copy.deepcopy(old)
    new["steps"][1]["modules"][5]["inputs"]["prompt"] = "Pick one"
    diff = version_diff(old, new)
    assert diff == {"has_changes": True, "summary": "1 change(s)", "changes": [
        {"type": "changed", "path": "steps.scene_generation.modules.select_scene",
         "old_value": old["steps"][1]["modules"][5], "new_value": new["steps"][1]["modules"][5]}]}
    assert diff["changes"][0]["new_value"]["inputs"]["prompt"] == "Pick one"
    assert version_diff(old, copy.deepcopy(old)) == {"has_changes": False, "summary": "0 change(s)",
                                                     "changes": []}


def test_version_diff_added_removed_changed():
    """engine.md §15.2: workflow keys, steps and modules, added/removed/changed."""
    old = {"workflow_id": "w", "name": "A", "description": "d", "steps": [
        {"step_id": "s1", "modules": [{"module_id": "m", "name": "a"}, {"module_id": "x.y"}]},
        {"step_id": "s2", "modules": []}]}
    new = {"workflow_id": "w", "name": "B", "version": "2", "steps": [
        {"step_id": "s1", "name": "Step", "modules": [{"module_id": "m", "name": "a", "inputs": {}},
                                                      {"module_id": "z"}]},
        {"step_id": "s3", "modules": []}]}
    changes = version_diff(old, new)["changes"]
    assert [{"type": c["type"], "path": c["path"]} for c in changes] == [
        {"type": "changed", "path": "workflow.name"},
        {"type": "removed", "path": "workflow.description"},
        {"type": "added", "path": "workflow.version"},
        {"type": "changed", "path": "steps.s1"},
        {"type": "changed", "path": "steps.s1.modules.a"},
        {"type": "removed", "path": "steps.s1.modules.x.y"},
        {"type": "added", "path": "steps.s1.modules.z"},
        {"type": "removed", "path": "steps.s2"},
        {"type": "added", "path": "steps.s3"},
    ]
    # the web UI's diff dialog shows old_value (changed/removed) and new_value (changed/added)
    assert (changes[0]["old_value"], changes[0]["new_value"]) == ("A", "B")
    assert changes[1] == {"type": "removed", "path": "workflow.description", "old_value": "d"}
    assert changes[2] == {"type": "added", "path": "workflow.version", "new_value": "2"}
    assert changes[4]["new_value"] == {"module_id": "m", "name": "a", "inputs": {}}
    assert changes[8] == {"type": "added", "path": "steps.s3",
                          "new_value": {"step_id": "s3", "modules": []}}
