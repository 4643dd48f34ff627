"""transform.* modules (modules.md §7.14–§7.22)."""

from __future__ import annotations

import pytest

from engine.errors import ModuleExecutionError
from engine.mock_data import generate_mock
from engine.modules.transform.build_dynamic_schema import BuildDynamicSchemaModule
from engine.modules.transform.concat_arrays import ConcatArraysModule
from engine.modules.transform.conditional_text import ConditionalTextModule
from engine.modules.transform.enrich import EnrichModule
from engine.modules.transform.extract import ExtractModule
from engine.modules.transform.parse_pattern import ParsePatternModule
from engine.modules.transform.query import QueryModule
from engine.modules.transform.render_template_array import RenderTemplateArrayModule
from engine.modules.transform.reshape import ReshapeModule, rewrite
from engine.modules.transform.safe_eval import SafeEvalError, safe_eval
from tests.unit.module_harness import load_json, make_context

SCENE_SCHEMA = load_json("steps/2_scene_generation/schemas/scene_concepts_schema.json")


def group(name, props, required):
    return {"id": name, "prompt_instructions": "Do " + name,
            "schema": {"type": "object", "properties": {"prompts": {
                "type": "object", "properties": props, "required": required}}}}


# ------------------------------------------------------------------ MOD-bds-1


def test_build_dynamic_schema_union_mod_bds_1():
    data = [group("a", {"x": {"type": "string"}, "y": {"type": "string"}}, ["x", "y"]),
            group("b", {"y": {"type": "integer"}, "z": {"type": "string"}}, ["y", "z"])]
    out = BuildDynamicSchemaModule().execute({"data": data, "selected_indices": [0, [1]],
                                              "selected_group_configs": None,
                                              "schema_key": "schema", "root_property": "prompts",
                                              "schema_paths": None, "wrapper_schema": None},
                                             make_context())
    assert out["merged_schema"] == {
        "type": "object", "required": ["prompts"], "additionalProperties": False,
        "properties": {"prompts": {
            "type": "object", "additionalProperties": False, "required": ["x", "y", "z"],
            "properties": {"x": {"type": "string"}, "y": {"type": "integer"},
                           "z": {"type": "string"}}}}}


def test_build_dynamic_schema_paths_wrapper_and_configs_mod_bds_1():
    wrapper = {"type": "object", "properties": {"title": {"type": "string"}}}
    data = {"g1": {"id": "g1"}, "g2": {"id": "g2"}}
    paths = {"g1": group("g1", {"p": {"type": "string"}}, ["p"])["schema"]}
    out = BuildDynamicSchemaModule().execute({"data": data, "selected_indices": ["g1", "g2", "nope"],
                                              "selected_group_configs": [],
                                              "schema_key": "schema", "root_property": "prompts",
                                              "schema_paths": paths, "wrapper_schema": wrapper},
                                             make_context())["merged_schema"]
    assert out["properties"]["title"] == {"type": "string"}
    assert out["properties"]["prompts"]["properties"] == {"p": {"type": "string"}}
    assert wrapper == {"type": "object", "properties": {"title": {"type": "string"}}}
    configs = [group("c", {"q": {"type": "string"}}, ["q"])]
    out = BuildDynamicSchemaModule().execute({"data": data, "selected_indices": ["g1"],
                                              "selected_group_configs": configs,
                                              "schema_key": "schema", "root_property": "prompts",
                                              "schema_paths": None, "wrapper_schema": None},
                                             make_context())["merged_schema"]
    assert out["properties"]["prompts"]["required"] == ["q"]


# ------------------------------------------------------------------ MOD-ca-1, MOD-ct-1, MOD-ex-1


def test_concat_arrays_mod_ca_1():
    assert ConcatArraysModule().execute({"arrays": [[1], [], [2, 3]]}, make_context()) == {
        "result": [1, 2, 3]}
    with pytest.raises(ModuleExecutionError):
        ConcatArraysModule().execute({"arrays": [[1], "x"]}, make_context())


@pytest.mark.parametrize("value,expected", [
    (None, "empty"), ("", "empty"), ("  \n", "empty"), ("cats", "with cats!"),
    ({"b": 1, "a": [2]}, 'with {"a":[2],"b":1}!'), (0, "with 0!"), (False, "with false!")])
def test_conditional_text_mod_ct_1(value, expected):
    out = ConditionalTextModule().execute({"condition_value": value,
                                           "text_if_not_empty": "with $state.condition_value!",
                                           "text_if_empty": "empty"}, make_context())
    assert out == {"result": expected}


def test_conditional_text_never_formats_user_text_mod_ct_1():
    out = ConditionalTextModule().execute({"condition_value": "{0.__class__}",
                                           "text_if_not_empty": "{0} $state.condition_value {x}",
                                           "text_if_empty": ""}, make_context())
    assert out["result"] == "{0} {0.__class__} {x}"


def test_extract_outputs_non_underscore_inputs_mod_ex_1():
    assert ExtractModule.accepts_undeclared_inputs is True and ExtractModule.inputs == ()
    assert ExtractModule().execute({"scene": None, "x": [1], "_hidden": 2}, make_context()) == {
        "scene": None, "x": [1]}


@pytest.mark.parametrize("indices,expect_scene", [(["scenes", 4], True), ([["scenes", 4]], False)])
def test_extract_store_selected_scene_example_mod_ex_1(indices, expect_scene):
    """`store_selected_scene`: unwrapped indices give scene 4, wrapped give null (§11.1)."""
    scenes = {"scenes": generate_mock(SCENE_SCHEMA, 1)["scenes"] + generate_mock(SCENE_SCHEMA, 2)["scenes"]}
    ctx = make_context(state={"scene_concepts": scenes, "selected_scene_indices": indices})
    from engine.templating import template_context
    raw = {"resolver_schema": {"type": "object", "properties": {"scene": {"resolver": "server"}}},
           "scene": "{{ state.scene_concepts[state.selected_scene_indices[0]][state.selected_scene_indices[1]] }}"}
    tctx = template_context(dict(ctx.state), {"step_id": "scene_generation"}, {}, ctx.clock)
    resolved = ctx.templates.resolve_inputs(raw, tctx)
    out = ExtractModule().execute(resolved, ctx)
    assert out == {"scene": scenes["scenes"][4] if expect_scene else None}


# ------------------------------------------------------------------ MOD-enr-1

MAPPING = {"type": "object", "properties": {"items": {"type": "array", "items": {
    "type": "object", "properties": {"info": {"type": "enrichment_map",
                                              "document_data_id_field": "id",
                                              "enrichment_data_id_field": "ref",
                                              "source_field": "text"}}}}}}


def enrich(data, enrichments):
    return EnrichModule().execute({"data": data, "enrichments": enrichments,
                                   "mapping_schema": MAPPING}, make_context())


def test_enrich_maps_by_id_on_a_copy_mod_enr_1():
    data = {"items": [{"id": 1}, {"id": 2}]}
    out = enrich(data, [{"ref": 2, "text": "two"}, {"ref": 1, "text": "one"}])
    assert out == {"enriched_data": {"items": [{"id": 1, "info": "one"}, {"id": 2, "info": "two"}]}}
    assert data == {"items": [{"id": 1}, {"id": 2}]}


@pytest.mark.parametrize("enrichments,needle", [
    ([{"ref": 1, "text": "a"}, {"ref": 1, "text": "b"}, {"ref": 2, "text": "c"}], "Duplicate enrichment id '1'"),
    ([{"ref": 1, "text": "a"}], "No enrichment for id '2'"),
    ([{"ref": 1, "text": "a"}, {"ref": 2, "text": "b"}, {"ref": "x9", "text": "c"}], "'x9' was never used"),
])
def test_enrich_strictness_mod_enr_1(enrichments, needle):
    with pytest.raises(ModuleExecutionError) as exc:
        enrich({"items": [{"id": 1}, {"id": 2}]}, enrichments)
    assert needle in exc.value.message and exc.value.error_type == "execution_failed"


# ------------------------------------------------------------------ MOD-pp-1 / MOD-pp-2


def pp(text, **kw):
    inputs = {"input": text, "pattern": {"regex": r"(?P<qty>\d+)x(?P<code>[A-Z]+)", "separator": ","},
              "field_types": {}, "lookups": {}, "mappings": {}, "computed": [], "validation": {},
              "sum_field": None}
    inputs.update(kw)
    return ParsePatternModule().execute(inputs, make_context())


def test_parse_pattern_segments_and_errors_mod_pp_1():
    out = pp(" 2xAB, ,3xC , bad,")
    assert out["count"] == 2 and out["valid"] is False
    assert out["errors"] == ["Segment 2 does not match pattern"]
    assert out["items"][0] == {"_raw": "2xAB", "_index": 0, "qty": "2", "code": "AB"}
    assert out["total"] == 0


def test_parse_pattern_regex_separator_and_no_trim_mod_pp_1():
    out = pp("1xA;;2xB", pattern={"regex": r"(?P<qty>\d+)x(?P<code>[A-Z]+)", "separator": ";+",
                                 "separator_is_regex": True})
    assert [i["code"] for i in out["items"]] == ["A", "B"]
    out = pp("1xA, 2xB", pattern={"regex": r"(?P<qty>\d+)x(?P<code>[A-Z]+)", "separator": ",",
                                 "trim": False})
    assert out["errors"] == ["Segment 1 does not match pattern"]


def test_parse_pattern_full_pipeline_mod_pp_1():
    sizes = [{"id": "S", "price": 5}, {"id": "L", "price": 9}]
    out = pp("2xS,3xL,1xM", field_types={"qty": "int"},
             mappings={"code": {"M": "L"}},
             lookups={"code": {"source": sizes, "required": True},
                      "qty": {"source": ["one", "two", "three"], "match_by_position": True,
                              "output_field": "qty_word"}},
             computed=[{"field": "cost", "expression": "qty * code_resolved_price"},
                       {"field": "double", "expression": "qty * 2 if qty > 1 else 0"}],
             validation={"qty": {"min": 2, "max": 3}}, sum_field="double")
    items = out["items"]
    assert items[0]["qty"] == 2 and items[0]["code_resolved"] == {"id": "S", "price": 5}
    assert items[0]["qty_word"] == "two"
    assert items[2]["code"] == "L" and items[2]["code_original"] == "M"
    assert items[0]["double"] == 4 and items[2]["double"] == 0
    # code_resolved_price is not a field: computing cost fails per item
    assert any(e.startswith("Item 0: cost computation failed") for e in out["errors"])
    assert "Item 2: qty is below minimum 2" in out["errors"]
    assert out["total"] == 10 and out["valid"] is False


def test_parse_pattern_casts_and_validation_rules_mod_pp_1():
    out = pp("1xYES", pattern={"regex": r"(?P<n>\w+)x(?P<flag>\w+)"},
             field_types={"n": "float", "flag": "bool"})
    assert out["items"][0]["n"] == 1.0 and out["items"][0]["flag"] is True
    out = pp("axB", pattern={"regex": r"(?P<n>\w+)x(?P<c>\w+)"}, field_types={"n": "integer"},
             validation={"c": {"in": ["A"], "pattern": "[a-z]+"}, "missing": {"required": True}})
    assert out["errors"] == ["Item 0: n cannot be cast to integer", "Item 0: c is not an allowed value",
                             "Item 0: c does not match pattern", "Item 0: missing is required"]


def test_parse_pattern_lookup_required_missing_mod_pp_1():
    out = pp("1xZ", lookups={"code": {"source": [{"id": "A"}], "required": True}})
    assert out["errors"] == ["Item 0: code not found in lookup"]
    assert out["items"][0]["code_resolved"] is None


@pytest.mark.parametrize("expr,names,value", [
    ("a + b * 2", {"a": 1, "b": 3}, 7), ("a // 2 + a % 2", {"a": 7}, 4), ("2 ** 10", {}, 1024),
    ("not a and b or 'x'", {"a": 1, "b": 0}, "x"), ("1 < a <= 3", {"a": 3}, True),
    ("max(a, 4, abs(-9))", {"a": 1}, 9), ("floor(2.7) + ceil(2.1) + sqrt(16) + round(2.456, 1)", {}, 11.5),
    ("'big' if a > 10 else 'small'", {"a": 11}, "big"), ("-a", {"a": 2}, -2)])
def test_safe_eval_allowed_mod_pp_2(expr, names, value):
    assert safe_eval(expr, names) == value


@pytest.mark.parametrize("expr", [
    "a.__class__", "a[0]", "open('x')", "__import__('os')", "lambda: 1", "[x for x in a]",
    "(1).real", "print(1)", "a if a else b.c", "{'k': 1}", "[1, 2]", "f'{a}'", "x := 1",
    "9 ** 9 ** 9", "2 ** 257", "(10 ** 200) ** 200", "'%s' % a", "'x' * 10 ** 7", "1 / 0", "b",
    "max(*a)", "round(a, ndigits=1)", "1 if 2 else 3" + " " * 1000])
def test_safe_eval_refused_mod_pp_2(expr):
    with pytest.raises(SafeEvalError):
        safe_eval(expr, {"a": [1]})


def test_parse_pattern_computed_refused_expression_adds_error_mod_pp_2():
    out = pp("2xAB", computed=[{"field": "evil", "expression": "qty.__class__"}])
    assert out["items"][0]["evil"] is None
    assert out["errors"][0].startswith("Item 0: evil computation failed")


# ------------------------------------------------------------------ MOD-tq-1

FLATTEN = [{"$unwind": "$scene_keywords"}, {"$replaceRoot": {"newRoot": "$scene_keywords"}},
           {"$addFields": {"source": "generated"}}]


def test_query_flatten_keywords_example_mod_tq_1():
    scenes = generate_mock(SCENE_SCHEMA, 21)["scenes"]
    assert len(scenes) == 3
    result = QueryModule().execute({"data": scenes, "pipeline": FLATTEN}, make_context())["result"]
    assert 9 <= len(result) <= 18
    assert all(set(r) == {"keyword", "category", "weight", "source"} and r["source"] == "generated"
               for r in result)


def test_query_empty_and_validation_mod_tq_1():
    ctx = make_context()
    assert QueryModule().execute({"data": [], "pipeline": FLATTEN}, ctx) == {"result": []}
    assert ctx.pipeline.__class__.__name__ and getattr(ctx.pipeline, "calls", 0) == 0
    with pytest.raises(ModuleExecutionError) as exc:
        QueryModule().execute({"data": [{"a": 1}], "pipeline": [{"$out": "x"}]}, ctx)
    assert exc.value.message.startswith("Pipeline rejected")
    with pytest.raises(ModuleExecutionError):
        QueryModule().execute({"data": [{"a": 1}, 2], "pipeline": []}, ctx)
    with pytest.raises(ModuleExecutionError):
        QueryModule().execute({"data": [{}] * 10_001, "pipeline": []}, ctx)


def test_query_results_have_no_id_mod_tq_1():
    out = QueryModule().execute({"data": [{"a": 2}, {"a": 1}], "pipeline": [{"$sort": {"a": 1}}]},
                                make_context())
    assert out == {"result": [{"a": 1}, {"a": 2}]}


# ------------------------------------------------------------------ MOD-rta-1


def rta(items, template, **kw):
    inputs = {"items": items, "template": template, "item_variable": "item",
              "index_variable": "index", "separator": "\n\n", "extra_context": {}}
    inputs.update(kw)
    return RenderTemplateArrayModule().execute(inputs, make_context())


def test_render_template_array_context_mod_rta_1():
    out = rta([{"title": "A", "_hidden": 1}, {"title": "B"}],
              "{{ loop.index }}/{{ loop.length }} {{ title }} {{ item.title }} {{ index }}"
              "{% if loop.last %} last{% endif %} {{ _hidden }}{{ who }}",
              extra_context={"who": "!"})
    assert out["sections"] == ["1/2 A A 0 !", "2/2 B B 1 last !"]
    assert out["rendered"] == "1/2 A A 0 !\n\n2/2 B B 1 last !" and out["count"] == 2


def test_render_template_array_item_errors_and_limits_mod_rta_1():
    out = rta([1, 2], "{{ 10 // item }}{{ item.x.__class__ }}", separator="|",
              item_variable="item")
    assert out["sections"][0].startswith("[Error rendering item 0: ")
    out = rta(["a", "b"], "{{ it }}-{{ i }}", item_variable="it", index_variable="i", separator="|")
    assert out["rendered"] == "a-0|b-1"
    with pytest.raises(ModuleExecutionError):
        rta([0] * 1001, "x")


# ------------------------------------------------------------------ MOD-rs-1


def reshape(source, template, context_vars=None):
    return ReshapeModule().execute({"source": source, "template": template,
                                    "context_vars": context_vars or {}}, make_context())["result"]


def test_reshape_rewrite_only_inside_markers_mod_rs_1():
    assert rewrite("$a {{ $b + $c }} {% if $d %}$e{% endif %}") == "$a {{ _b + _c }} {% if _d %}$e{% endif %}"


def test_reshape_object_mode_native_values_mod_rs_1():
    out = reshape({"n": 3, "tags": ["x", "y"]},
                  {"count": "{{ $source.n }}", "tags": "{{ source.tags }}",
                   "{{ 'key_' ~ $prefix }}": ["{{ $source.n * 2 }}", "lit"],
                   "text": "n={{ _source.n }}", "bad": "{{ 1 / 0 }}"},
                  context_vars={"$prefix": "p"})
    assert out == {"count": 3, "tags": ["x", "y"], "key_p": [6, "lit"], "text": "n=3",
                   "bad": "{{ 1 / 0 }}"}


def test_reshape_array_mode_mod_rs_1():
    out = reshape([{"a": 1}, {"a": 2}], {"_for_each": "$row", "_output": {
        "value": "{{ $row.a + $offset }}", "i": "{{ _index }}", "n": "{{ source | length }}"}},
        context_vars={"$offset": 10})
    assert out == [{"value": 11, "i": 0, "n": 2}, {"value": 12, "i": 1, "n": 2}]
    default_var = reshape([5], {"_output": "{{ $item }}"})
    assert default_var == [5]
    with pytest.raises(ModuleExecutionError):
        reshape({"a": 1}, {"_output": "x"})


def test_reshape_sandboxed_failures_kept_unchanged_mod_rs_1():
    out = reshape({"a": 1}, {"x": "{{ source.__class__ }}"})
    assert out == {"x": "{{ source.__class__ }}"}
