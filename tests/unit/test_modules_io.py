"""io.* modules (modules.md §7.4–§7.10): files, client write, render, validate, keywords."""

from __future__ import annotations

import copy

import pytest

from engine.errors import ModuleExecutionError
from engine.mock_data import generate_mock
from engine.modules.io.client_write import IoClientWriteModule
from engine.modules.io.load_json import IoLoadJsonModule
from engine.modules.io.render_template import IoRenderTemplateModule
from engine.modules.io.save_json import IoSaveJsonModule
from engine.modules.io.validate import IoValidateModule
from engine.modules.io.weighted_keywords import IoWeightedKeywordsModule
from engine.modules.io.write_text import IoWriteTextModule
from engine.modules.transform.query import QueryModule
from tests.unit.module_harness import START, load_json, make_context, response

SCENE_SCHEMA = load_json("steps/2_scene_generation/schemas/scene_concepts_schema.json")


def load(ctx, file_path, target_path="outputs", required=True, default=None):
    return IoLoadJsonModule().execute({"file_path": file_path, "target_path": target_path,
                                       "default": default, "required": required}, ctx)


# ------------------------------------------------------------------ MOD-io-1 … MOD-io-3


def test_save_then_load_json_roundtrip_mod_io_1_2():
    ctx = make_context(sequence=7)
    out = IoSaveJsonModule().execute({"data": {"a": [1, 2]}, "file_path": "dir/result.json",
                                      "target_path": "outputs"}, ctx)
    assert out["file_path"] == "result.json" and out["success"] is True
    assert out["file_id"].startswith("wff_")
    loaded = load(ctx, "other/result.json")
    assert loaded == {"data": {"a": [1, 2]}, "file_exists": True, "file_id": out["file_id"]}


def test_save_json_document_shape_mod_io_2():
    ctx = make_context(sequence=9, mock=True, step_id="s1", module_name="save")
    IoSaveJsonModule().execute({"data": '{"x": 1}', "file_path": "a.json", "target_path": "grp"}, ctx)
    doc = ctx.store.find_latest_file("wf_test", ctx.lineage, "a.json", "outputs", "grp")
    assert doc["content"] == {"x": 1} and doc["content_type"] == "json"
    assert doc["category"] == "outputs" and doc["group_id"] == "grp"
    assert doc["metadata"] == {"step_id": "s1", "module_name": "save", "target_path": "grp"}
    assert doc["branch_id"] == "br_test" and doc["sequence"] == 9 and doc["provenance"] == "mock"
    assert doc["created_at"] == START


def test_save_json_invalid_string_and_too_large_mod_io_2():
    with pytest.raises(ModuleExecutionError):
        IoSaveJsonModule().execute({"data": "{not json", "file_path": "a.json",
                                    "target_path": "outputs"}, make_context())
    with pytest.raises(ModuleExecutionError) as exc:
        IoSaveJsonModule().execute({"data": ["x" * 1024] * 4200, "file_path": "a.json",
                                    "target_path": "outputs"}, make_context())
    assert exc.value.error_type == "execution_failed"


def test_load_json_placement_and_missing_mod_io_1():
    ctx = make_context()
    IoSaveJsonModule().execute({"data": 1, "file_path": "f.json", "target_path": "root"}, ctx)
    assert load(ctx, "f.json", "root")["data"] == 1
    with pytest.raises(ModuleExecutionError) as exc:
        load(ctx, "f.json", "outputs")
    assert exc.value.message == "File 'f.json' not found"
    assert load(ctx, "f.json", "outputs", required=False, default={"d": 1}) == {
        "data": {"d": 1}, "file_exists": False, "file_id": None}


def test_load_json_newest_lineage_visible_mod_io_1():
    ctx = make_context(sequence=3)
    IoSaveJsonModule().execute({"data": "1", "file_path": "f.json", "target_path": "outputs"}, ctx)
    later = make_context(sequence=8, store=ctx.store, new_id=ctx.new_id)
    IoSaveJsonModule().execute({"data": "2", "file_path": "f.json", "target_path": "outputs"}, later)
    assert load(later, "f.json")["data"] == 2
    cut = make_context(store=ctx.store, lineage=[{"branch_id": "br_test", "cutoff_sequence": 5,
                                                  "cutoff_event_id": None}])
    assert load(cut, "f.json")["data"] == 1


def test_write_text_and_load_parses_text_mod_io_3():
    ctx = make_context()
    out = IoWriteTextModule().execute({"content": {"b": 1, "a": "é"}, "file_path": "t.txt",
                                       "target_path": "outputs"}, ctx)
    assert out["file_path"] == "t.txt" and out["bytes_written"] == len('{"a":"é","b":1}'.encode())
    doc = ctx.store.find_latest_file("wf_test", ctx.lineage, "t.txt", "outputs", None)
    assert doc["content"] == '{"a":"é","b":1}' and doc["content_type"] == "text"
    assert load(ctx, "t.txt")["data"] == {"a": "é", "b": 1}
    IoWriteTextModule().execute({"content": "plain words", "file_path": "p.txt",
                                 "target_path": "outputs"}, ctx)
    with pytest.raises(ModuleExecutionError):
        load(ctx, "p.txt")


# ------------------------------------------------------------------ MOD-cw-1 … MOD-cw-3


def cw_inputs(**extra):
    return {"content": "Summary text", "filename": "cuddle_crew_summary.txt", "format": "text",
            "destination": "root", **extra}


def test_client_write_cuddle_crew_example_mod_cw_1_3():
    module = IoClientWriteModule()
    req = module.get_interaction_request(cw_inputs(), make_context()).request
    assert req.interaction_id.startswith("file_download_")
    assert req.interaction_type == "file_download"
    assert req.title == "Writing cuddle_crew_summary.txt to project folder"
    assert (req.file_name, req.file_content_type, req.file_content, req.file_destination) == (
        "cuddle_crew_summary.txt", "text", "Summary text", "root")
    resp = response(file_written=True, file_path="cuddle_crew_summary.txt")
    assert module.validate_response(req, cw_inputs(), resp, {}) == []
    out = module.execute_with_response(cw_inputs(), make_context(), resp, {})
    assert out == {"file_path": "cuddle_crew_summary.txt", "filename": "cuddle_crew_summary.txt",
                   "success": True}
    out = module.execute_with_response(cw_inputs(), make_context(), response(file_written=True), {})
    assert out["file_path"] == "cuddle_crew_summary.txt"


def test_client_write_formats_mod_cw_1():
    module = IoClientWriteModule()
    json_req = module.get_interaction_request(
        {"content": '{"a": 1}', "filename": "x.json", "format": None, "destination": "root"},
        make_context()).request
    assert json_req.file_content_type == "json" and json_req.file_content == {"a": 1}
    text_req = module.get_interaction_request(
        {"content": {"b": 2, "a": 1}, "filename": "x.txt", "format": None, "destination": "out"},
        make_context()).request
    assert text_req.file_content_type == "text" and text_req.file_content == '{"a":1,"b":2}'
    assert text_req.file_destination == "out"


def test_client_write_not_written_mod_cw_2():
    items = IoClientWriteModule().validate_response(
        None, cw_inputs(), response(file_written=False, file_error="disk full"), {})
    assert [(i.id, i.field, i.rule, i.message, i.severity) for i in items] == [
        ("file_not_written", "file_written", "response_field_equals",
         "Failed to write file cuddle_crew_summary.txt: disk full", "error")]
    items = IoClientWriteModule().validate_response(None, cw_inputs(), response(), {})
    assert items[0].message.endswith(": unknown error")


# ------------------------------------------------------------------ MOD-rt-1, MOD-val-1


def test_render_template_passes_value_mod_rt_1():
    assert IoRenderTemplateModule().execute({"template": {"x": [1]}}, make_context()) == {
        "rendered": {"x": [1]}}


def test_validate_state_keys_mod_val_1():
    schema = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
              "required": ["a", "b"]}
    ctx = make_context(state={"a": 1, "b": "x"})
    assert IoValidateModule().execute({"schema": schema, "state_keys": ["a", "b"], "strict": False,
                                       "error_message": None}, ctx) == {"valid": True, "errors": []}
    ctx = make_context(state={"a": "no"})
    out = IoValidateModule().execute({"schema": schema, "state_keys": ["a", "b"], "strict": False,
                                      "error_message": None}, ctx)
    assert out["valid"] is False and len(out["errors"]) == 2
    with pytest.raises(ModuleExecutionError) as exc:
        IoValidateModule().execute({"schema": schema, "state_keys": ["a", "b"], "strict": True,
                                    "error_message": None}, ctx)
    assert exc.value.message == "Validation failed: " + "; ".join(out["errors"])
    with pytest.raises(ModuleExecutionError) as exc:
        IoValidateModule().execute({"schema": schema, "state_keys": ["a"], "strict": True,
                                    "error_message": "Bad state"}, ctx)
    assert exc.value.message == "Bad state"


# ------------------------------------------------------------------ MOD-wk-1 … MOD-wk-3


def wk(ctx, mode, **kw):
    inputs = {"mode": mode, "weighted_keywords": None, "accumulate_weight": True, "pipeline": []}
    inputs.update(kw)
    return IoWeightedKeywordsModule().execute(inputs, ctx)


LOAD_SELECTED = [{"$match": {"source": "selected"}}, {"$sort": {"weight": -1}}, {"$limit": 50}]
LOAD_GENERATED = [{"$match": {"source": "generated"}}, {"$sort": {"weight": -1}}, {"$limit": 50}]


def test_weighted_keywords_cuddle_crew_flow_mod_wk_2_3():
    ctx = make_context()
    assert wk(ctx, "load", pipeline=LOAD_SELECTED) == {"weighted_keywords": [], "count": 0,
                                                       "saved_count": 0}
    assert wk(ctx, "load", pipeline=LOAD_GENERATED)["count"] == 0
    scenes = generate_mock(SCENE_SCHEMA, 11)["scenes"]
    flat = QueryModule().execute({"data": scenes, "pipeline": [
        {"$unwind": "$scene_keywords"}, {"$replaceRoot": {"newRoot": "$scene_keywords"}},
        {"$addFields": {"source": "generated"}}]}, ctx)["result"]
    saved = wk(ctx, "save", weighted_keywords=flat)
    assert saved == {"weighted_keywords": [], "count": 0, "saved_count": len(flat)}
    generated = wk(ctx, "load", pipeline=LOAD_GENERATED)["weighted_keywords"]
    distinct = {k["keyword"].strip().lower() for k in flat}
    assert len(generated) == len(distinct)
    assert all(set(doc) >= {"keyword", "weight", "category", "source", "last_used", "created_at"}
               for doc in generated)
    assert all("_id" not in d and "scope" not in d and "workflow_template_id" not in d
               for d in generated)
    assert generated[0]["last_used"].endswith("Z") and isinstance(generated[0]["created_at"], str)
    # update_selected_keywords: overwrite with own weight and source "selected"
    chosen = copy.deepcopy(scenes[0]["scene_keywords"])
    for k in chosen:
        k["source"] = "selected"
    wk(ctx, "save", weighted_keywords=chosen, accumulate_weight=False)
    selected = wk(ctx, "load", pipeline=LOAD_SELECTED)["weighted_keywords"]
    expected = {k["keyword"].strip().lower(): k["weight"] for k in chosen}
    assert {d["keyword"]: d["weight"] for d in selected} == expected


def test_weighted_keywords_accumulate_and_normalise_mod_wk_3():
    ctx = make_context()
    wk(ctx, "save", weighted_keywords=[{"keyword": "  Zoomies ", "weight": 10, "category": "behavior",
                                        "$bad": 1, "a.b": 2, "scope": "live", "_id": "x"},
                                       {"keyword": "zoomies", "weight": 5},
                                       {"keyword": "nap"}, {"keyword": ""}, {"weight": 3}, "str"])
    docs = {d["keyword"]: d for d in wk(ctx, "load")["weighted_keywords"]}
    assert docs["zoomies"]["weight"] == 15 and docs["nap"]["weight"] == 1
    assert docs["zoomies"]["category"] == "behavior"
    assert "$bad" not in docs["zoomies"] and "a.b" not in docs["zoomies"]
    assert wk(ctx, "save", weighted_keywords=[{"keyword": "nap", "weight": 2}])["saved_count"] == 1
    assert {d["keyword"]: d["weight"] for d in wk(ctx, "load")["weighted_keywords"]}["nap"] == 3


def test_weighted_keywords_scoped_by_mode_mod_wk_1():
    store_ctx = make_context(mock=True)
    wk(store_ctx, "save", weighted_keywords=[{"keyword": "mocky"}])
    live = make_context(store=store_ctx.store, mock=False)
    assert wk(live, "load")["count"] == 0
    other_template = make_context(store=store_ctx.store, mock=True, workflow_template_id="tpl_other")
    assert wk(other_template, "load")["count"] == 0
    assert wk(make_context(store=store_ctx.store, mock=True), "load")["count"] == 1


def test_weighted_keywords_rejects_scope_match_and_bad_mode_mod_wk_1_2():
    with pytest.raises(ModuleExecutionError) as exc:
        wk(make_context(), "load", pipeline=[{"$match": {"scope": "live"}}])
    assert exc.value.message.startswith("Pipeline rejected")
    with pytest.raises(ModuleExecutionError) as exc:
        wk(make_context(), "load", pipeline=[{"$lookup": {"from": "users"}}])
    assert exc.value.message.startswith("Pipeline rejected")
    with pytest.raises(ModuleExecutionError) as exc:
        wk(make_context(), "purge")
    assert exc.value.error_type == "input_validation_failed"
    with pytest.raises(ModuleExecutionError):
        wk(make_context(workflow_template_id=""), "load")
