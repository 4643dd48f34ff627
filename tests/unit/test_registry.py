"""The module registry (MOD-core-1, MOD-core-3) and the declared catalog (modules.md §0)."""

from __future__ import annotations

import pytest

from engine.errors import ModuleNotRegistered
from engine.modules.base import ExecutableModule
from engine.modules.registry import DuplicateModuleId, ModuleRegistry, default_registry

INVENTORY = {
    "api.llm": ("executable", None), "api.fetch": ("executable", None),
    "db.query": ("executable", None), "io.load_json": ("executable", None),
    "io.save_json": ("executable", None), "io.write_text": ("executable", None),
    "io.client_write": ("interactive", "file_download"),
    "io.render_template": ("executable", None), "io.validate": ("executable", None),
    "io.weighted_keywords": ("executable", None),
    "media.generate": ("interactive", "media_generation"),
    "media.generateV2": ("interactive", "media_generation"),
    "prompt.build_grouped_prompt": ("executable", None),
    "transform.build_dynamic_schema": ("executable", None),
    "transform.concat_arrays": ("executable", None),
    "transform.conditional_text": ("executable", None), "transform.enrich": ("executable", None),
    "transform.extract": ("executable", None), "transform.parse_pattern": ("executable", None),
    "transform.query": ("executable", None),
    "transform.render_template_array": ("executable", None),
    "transform.reshape": ("executable", None),
    "user.select": ("interactive", "select_from_structured"),
    "user.text_input": ("interactive", "text_input"), "user.form": ("interactive", "form_input"),
    "user.file_input": ("interactive", "file_input"), "user.pause": ("interactive", "text_input"),
    "addons.usage_history": ("addon", None), "addons.compatibility": ("addon", None),
}


def test_registry_registers_the_whole_inventory_mod_core_3():
    registry = default_registry()
    assert set(registry.ids()) == set(INVENTORY)
    catalog = {entry["module_id"]: entry for entry in registry.catalog()}
    for module_id, (kind, interaction_type) in INVENTORY.items():
        assert (catalog[module_id]["kind"], catalog[module_id]["interaction_type"]) == (
            kind, interaction_type), module_id
    assert registry.addon_ids() == ["addons.compatibility", "addons.usage_history"]


def test_get_returns_fresh_instances_mod_core_1():
    registry = default_registry()
    first, second = registry.get("user.select"), registry.get("user.select")
    assert first is not second and type(first) is type(second)


def test_unknown_module_raises_module_not_registered_mod_core_3():
    with pytest.raises(ModuleNotRegistered) as exc:
        default_registry().get("nope.module")
    assert exc.value.message == "Module 'nope.module' is not registered"
    assert exc.value.error_type == "module_not_registered"


def test_duplicate_ids_raise_at_startup_mod_core_3():
    class A(ExecutableModule):
        module_id = "dup.x"

    class B(ExecutableModule):
        module_id = "dup.x"

    with pytest.raises(DuplicateModuleId):
        ModuleRegistry([A, B])


def test_catalog_declarations_are_plain_data_mod_core_3():
    catalog = {entry["module_id"]: entry for entry in default_registry().catalog()}
    select = catalog["user.select"]
    names = [i["name"] for i in select["inputs"]]
    assert names == ["data", "schema", "prompt", "multi_select", "mode", "min_selections",
                     "max_selections"]
    assert select["inputs"][2] == {"name": "prompt", "type": "string", "required": False,
                                   "default": "Make a selection", "description": ""}
    assert [o["name"] for o in select["outputs"]] == [
        "selected_indices", "selected_data", "retry_requested", "retry_feedback", "retry_groups",
        "jump_back_requested", "jump_back_target"]
    assert catalog["transform.extract"]["inputs"] == []
    assert catalog["transform.extract"]["accepts_undeclared_inputs"] is True


@pytest.mark.parametrize("module_id,inputs", [
    ("db.query", {"table_schema": ("string", True), "query": ("object", True)}),
    ("io.weighted_keywords", {"mode": ("string", True), "weighted_keywords": ("array", False),
                              "accumulate_weight": ("boolean", False), "pipeline": ("array", False)}),
    ("user.text_input", {"prompt": ("string", True), "default": ("string", False),
                         "allow_empty": ("boolean", False),
                         "retry_trigger_keyword": ("string", False),
                         "retry_options": ("object", False),
                         "validation_pattern": ("string", False),
                         "validation_separator": ("string", False),
                         "validation_separator_is_regex": ("boolean", False),
                         "validation_error": ("string", False),
                         "require_at_least_one_match": ("boolean", False)}),
    ("transform.parse_pattern", {"input": ("string", True), "pattern": ("object", True),
                                 "field_types": ("object", False), "lookups": ("object", False),
                                 "mappings": ("object", False), "computed": ("array", False),
                                 "validation": ("object", False), "sum_field": ("string", False)}),
])
def test_declared_input_tables_match_spec(module_id, inputs):
    declared = {i.name: (i.type, i.required) for i in type(default_registry().get(module_id)).inputs}
    assert declared == inputs
