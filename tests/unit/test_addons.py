"""Selection addons (modules.md §6, MOD-addon-1) through user.select and directly."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from engine.modules.addons.compatibility import CompatibilityAddon, merge_tags, score
from engine.modules.addons.processor import apply_addons, resolve_addon_configs
from engine.modules.addons.usage_history import UsageHistoryAddon, badge_text, rule_color, track_key
from engine.modules.user.select import UserSelectModule
from tests.unit.module_harness import START, make_context, response

ITEMS = [{"id": "cat", "label": "Cat"}, {"id": "dog", "label": "Dog"}, {"id": "both", "label": "Both"}]
COLORS = [{"max": 1, "unit": "hour", "color": "red"},
          {"min": 1, "max": 7, "unit": "day", "color": "orange"},
          {"color": "grey"}]


def step_with(addons, name="select_pet_type"):
    return {"step_id": "user_input", "modules": [
        {"module_id": "user.select", "name": name, "inputs": {}, "addons": addons}]}


def ctx_for(addons, **kw):
    return make_context(step=step_with(addons), step_id="user_input", module_name="select_pet_type",
                        module_id="user.select", **kw)


def inputs(data=None, multi=False):
    return {"data": ITEMS if data is None else data, "schema": {"type": "array"}, "prompt": "Pick",
            "multi_select": multi, "mode": "select", "min_selections": 1, "max_selections": None}


def touch(ctx, option, at):
    ctx.store.touch_option_usage("tpl_test", "usr_test", "user_input", "select_pet_type", option,
                                 ctx.scope, at)


# ------------------------------------------------------------------ usage_history


def test_track_key_regex_substitution_never_format_mod_addon_1():
    item = {"label": "Cat", "id": 3}
    assert track_key(item, "{label}-{id}-{missing}") == "Cat-3-"
    assert track_key(item, "{0.__class__}{label}") == "{0.__class__}Cat"


@pytest.mark.parametrize("age_s,expected", [
    (0, "red"), (3599, "red"), (3600, None), (86400, "orange"), (7 * 86400 - 1, "orange"),
    (7 * 86400, "grey")])
def test_usage_color_rules_min_inclusive_max_exclusive_mod_addon_1(age_s, expected):
    rules = COLORS if expected is not None else COLORS[:2]
    assert rule_color(age_s, rules) == expected
    if expected is None:
        assert rule_color(age_s, COLORS) == "grey"


def test_usage_color_legacy_and_month_units_mod_addon_1():
    assert rule_color(5 * 3600, [{"max_hours": 6, "color": "legacy"}]) == "legacy"
    assert rule_color(6 * 3600, [{"max_hours": 6, "color": "legacy"}]) is None
    assert rule_color(31 * 86400, [{"min": 1, "unit": "month", "color": "old"}]) == "old"
    assert rule_color(29 * 86400, [{"min": 1, "unit": "month", "color": "old"}]) is None


@pytest.mark.parametrize("age_s,text", [(59, "0m ago"), (120, "2m ago"), (3 * 3600, "3h ago"),
                                        (2 * 86400, "2d ago"), (15 * 86400, "2w ago"),
                                        (65 * 86400, "2mo ago")])
def test_usage_badge_largest_whole_unit_mod_addon_1(age_s, text):
    assert badge_text(age_s) == text


def test_usage_history_decorates_copy_not_stored_data_mod_addon_1():
    addons = [{"addon_id": "addons.usage_history", "inputs": {"colors": COLORS}}]
    ctx = ctx_for(addons)
    touch(ctx, "Cat", START - timedelta(minutes=30))
    touch(ctx, "Dog", START - timedelta(days=10))
    module_inputs = inputs()
    result = UserSelectModule().get_interaction_request(module_inputs, ctx)
    data = result.request.display_data["data"]
    assert module_inputs["data"] == ITEMS and "_metadata" not in ITEMS[0]
    cat, dog, both = (item["_metadata"] for item in data)
    assert cat["addons"]["usage_history"] == {"last_used": "2025-12-31T23:30:00.000Z", "color": "red"}
    assert cat["decorators"] == [
        {"type": "border", "addon": "usage_history", "color": "red"},
        {"type": "swatch", "addon": "usage_history", "color": "red"},
        {"type": "badge", "addon": "usage_history", "text": "30m ago"}]
    assert dog["addons"]["usage_history"]["color"] == "grey"
    assert dog["decorators"][-1] == {"type": "badge", "addon": "usage_history", "text": "1w ago"}
    assert both == {"addons": {"usage_history": {"last_used": None, "color": None}}, "decorators": []}
    assert result.module_state["addons"] == [{"addon_id": "addons.usage_history", "priority": 0,
                                              "inputs": {"colors": COLORS,
                                                         "track_key_format": "{label}"}}]


def test_usage_history_on_selection_upserts_option_usage_mod_addon_1():
    addons = [{"addon_id": "addons.usage_history", "inputs": {"track_key_format": "{id}"}}]
    ctx = ctx_for(addons)
    module = UserSelectModule()
    result = module.get_interaction_request(inputs(), ctx)
    out = module.execute_with_response(inputs(), ctx, response(selected_indices=[1]),
                                       result.module_state)
    assert out["selected_data"] == {"id": "dog", "label": "Dog"}
    doc = ctx.store.get_option_usage("tpl_test", "usr_test", "user_input", "select_pet_type",
                                     "dog", "live")
    assert doc is not None and doc["updated_at"] == doc["created_at"]
    assert ctx.store.get_option_usage("tpl_test", "usr_test", "user_input", "select_pet_type",
                                      "dog", "mock") is None
    # the next request sees the usage
    again = module.get_interaction_request(inputs(), ctx).request.display_data["data"]
    assert again[1]["_metadata"]["addons"]["usage_history"]["last_used"] is not None
    assert again[0]["_metadata"]["addons"]["usage_history"]["last_used"] is None


def test_selected_data_has_no_metadata_with_addons_mod_addon_1():
    addons = [{"addon_id": "addons.usage_history", "inputs": {}}]
    ctx = ctx_for(addons)
    module = UserSelectModule()
    result = module.get_interaction_request(inputs(multi=True), ctx)
    out = module.execute_with_response(inputs(multi=True), ctx, response(selected_indices=[0, 2]),
                                       result.module_state)
    assert out["selected_data"] == [ITEMS[0], ITEMS[2]]


def test_addon_inputs_resolved_with_templates_mod_addon_1():
    addons = [{"addon_id": "addons.compatibility", "inputs": {
        "resolver_schema": {"type": "object", "properties": {"source": {"resolver": "server"}}},
        "source": "{{ state.previous }}"}}]
    prev = [{"tags": {"mood": [{"tag": "calm", "value": 80}]}}]
    ctx = ctx_for(addons, state={"previous": prev})
    configs = resolve_addon_configs(ctx)
    assert configs == [{"addon_id": "addons.compatibility", "priority": 0,
                        "inputs": {"source": prev, "colors": []}}]


def test_addon_failure_is_logged_and_ignored_mod_addon_1(caplog):
    """compatibility without a source array fails; the module still works, other addons run."""
    addons = [{"addon_id": "addons.compatibility", "priority": 1, "inputs": {}},
              {"addon_id": "addons.usage_history", "priority": 0, "inputs": {}}]
    ctx = ctx_for(addons)
    with caplog.at_level(logging.WARNING):
        result = UserSelectModule().get_interaction_request(inputs(), ctx)
    assert "addons.compatibility" in caplog.text
    meta = result.request.display_data["data"][0]["_metadata"]
    assert list(meta["addons"]) == ["usage_history"]


def test_addon_store_failure_on_selection_ignored_mod_addon_1():
    addons = [{"addon_id": "addons.usage_history", "inputs": {}}]
    ctx = ctx_for(addons)

    class Broken:
        def __getattr__(self, name):
            raise RuntimeError("store down")

    module = UserSelectModule()
    state = module.get_interaction_request(inputs(), ctx).module_state
    broken_ctx = ctx_for(addons, store=Broken())
    out = module.execute_with_response(inputs(), broken_ctx, response(selected_indices=[0]), state)
    assert out["selected_data"] == ITEMS[0]


def test_addons_run_in_priority_order_and_only_objects_mod_addon_1():
    source = [[{"tags": {"mood": [{"tag": "calm", "value": 50}]}}]]
    data = {"scenes": [{"title": "a", "tags": {"mood": [{"tag": "calm", "value": 90}]}}, "plain"],
            "other": "x"}
    configs = [{"addon_id": "addons.compatibility", "priority": 0,
                "inputs": {"source": source, "colors": [{"min": 0, "color": "c0"}]}},
               {"addon_id": "addons.usage_history", "priority": 5, "inputs": {"colors": []}}]
    decorated = apply_addons(data, configs, make_context())
    meta = decorated["scenes"][0]["_metadata"]
    assert list(meta["addons"]) == ["compatibility", "usage_history"]
    assert [d["type"] for d in meta["decorators"]] == ["border", "swatch", "badge"]
    assert decorated["scenes"][1] == "plain" and "_metadata" not in data["scenes"][0]


# ------------------------------------------------------------------ compatibility


def test_compatibility_score_example_mod_addon_1():
    source = [{"tags": {"mood": [{"tag": "calm", "value": 60}, {"tag": "cozy", "value": 20}],
                        "light": [{"tag": "warm", "value": 40}]}},
              [{"tags": {"mood": [{"tag": "calm", "value": 80}]}}]]
    merged = merge_tags(source)
    assert merged == {"mood": {"calm": 80, "cozy": 20}, "light": {"warm": 40}}
    item = {"mood": {"calm": 50, "cozy": 30, "wild": 90}, "light": {"cold": 10}, "other": {"x": 1}}
    # mood: min(80,50)+min(20,30)=70; light: 0 → average 35
    assert score(merged, item) == 35
    assert score(merged, {"other": {"x": 5}}) == 0


def test_compatibility_decorators_and_untagged_items_mod_addon_1():
    addon = CompatibilityAddon()
    src = [{"tags": {"mood": [{"tag": "calm", "value": 70}]}}]
    colors = [{"min": 0, "color": "grey"}, {"min": 50, "color": "green"}, {"min": 90, "color": "gold"}]
    items = [{"tags": {"mood": [{"tag": "calm", "value": 60}]}}, {"label": "no tags"},
             {"tags": {"mood": [{"tag": "calm", "value": 95}]}}]
    out = addon.decorate(items, {"source": src, "colors": colors}, make_context())
    assert out[0] == ({"score": 60}, [
        {"type": "border", "addon": "compatibility", "color": "green"},
        {"type": "swatch", "addon": "compatibility", "color": "green"},
        {"type": "badge", "addon": "compatibility", "text": "60% match"}])
    assert out[1] is None
    assert out[2][0] == {"score": 70} and out[2][1][0]["color"] == "green"
    low = addon.decorate(items[:1], {"source": src, "colors": [{"min": 80, "color": "x"}]},
                         make_context())
    assert low[0][1] == [{"type": "badge", "addon": "compatibility", "text": "60% match"}]


def test_usage_history_addon_direct_mock_scope_mod_addon_1():
    ctx = make_context(mock=True, step_id="s", module_name="m")
    ctx.store.touch_option_usage("tpl_test", "usr_test", "s", "m", "Cat", "live", START)
    out = UsageHistoryAddon().decorate([{"label": "Cat"}], {"track_key_format": "{label}",
                                                            "colors": []}, ctx)
    assert out == [({"last_used": None, "color": None}, [])]
