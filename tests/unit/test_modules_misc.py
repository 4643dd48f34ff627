"""prompt.build_grouped_prompt (MOD-bgp-1) and db.query (MOD-dbq-1/2)."""

from __future__ import annotations

import pytest

from engine.errors import ModuleExecutionError
from engine.mock_data import MOCK_WORDS
from engine.modules.db.query import DbQueryModule
from engine.modules.prompt.build_grouped_prompt import BuildGroupedPromptModule
from tests.unit.module_harness import START, MiniStore, make_context

# ------------------------------------------------------------------ MOD-bgp-1

GROUPS = [{"id": "a", "prompt_instructions": "Alpha"}, {"id": "b", "prompt_instructions": ""},
          {"id": "c", "prompt_instructions": "Gamma"}]


def bgp(**kw):
    inputs = {"shared_instructions": "Shared", "data": None, "selected_indices": None,
              "selected_group_configs": None}
    inputs.update(kw)
    return BuildGroupedPromptModule().execute(inputs, make_context())["merged_prompt"]


def test_grouped_prompt_array_data_mod_bgp_1():
    assert bgp(data=GROUPS, selected_indices=[2, [0], 1, 9, -1, True]) == "Shared\n\nGamma\n\nAlpha"


def test_grouped_prompt_object_data_and_configs_mod_bgp_1():
    data = {"x": {"prompt_instructions": "X"}, "y": {"prompt_instructions": 5}}
    assert bgp(data=data, selected_indices=["y", "x", "z", 0]) == "Shared\n\nX"
    assert bgp(data=data, selected_indices=["x"],
               selected_group_configs=[{"prompt_instructions": "Conf"}]) == "Shared\n\nConf"
    assert bgp(data=data, selected_indices=["x"], selected_group_configs=["str"]) == "Shared\n\nX"
    assert bgp() == "Shared"


# ------------------------------------------------------------------ MOD-dbq-1 / MOD-dbq-2

QUERY_SCHEMA = {"allowed_operators": ["$eq", "$gt", "$gte", "$lt", "$in", "$and", "$or"],
                "blocked_operators": ["$in"], "max_limit": 50, "default_limit": 10}
TABLE = {"collection": "products", "queryable_fields": ["sku", "name", "price", "owner"],
         "filterable_fields": ["sku", "price", "created", "name"],
         "context_filters": {"owner": "$context.user_id"}}


def db_context(**kw):
    store = MiniStore()
    store.configs[("db.query", "query_schema")] = QUERY_SCHEMA
    store.configs[("db.table_schema", "products")] = TABLE
    for i, (owner, price) in enumerate([("usr_test", 5), ("usr_test", 15), ("other", 25),
                                        ("usr_test", 35)]):
        store.db.products.insert_one({"sku": f"s{i}", "name": f"n{i}", "price": price,
                                      "owner": owner, "secret": "x", "created": START})
    return make_context(store=store, **kw)


def run_query(ctx, query, table="products"):
    return DbQueryModule().execute({"table_schema": table, "query": query}, ctx)


def test_db_query_live_filters_by_context_mod_dbq_1():
    ctx = db_context()
    out = run_query(ctx, {"filter": {"price": {"$gt": 10}}, "fields": ["sku", "price"],
                          "sort": {"price": -1}})
    assert out == {"results": [{"sku": "s3", "price": 35}, {"sku": "s1", "price": 15}], "count": 2}
    collection, filter_, fields, sort, limit = ctx.store.table_queries[-1]
    assert collection == "products" and limit == 10 and sort == [("price", -1)]
    assert filter_ == {"$and": [{"owner": "usr_test"}, {"price": {"$gt": 10}}]}


def test_db_query_placeholders_mod_dbq_1():
    ctx = db_context(state={"pick": {"sku": "s1"}})
    out = run_query(ctx, {"filter": {"$or": [{"sku": "$state.pick.sku"}, {"created": {"$gt": "$NOW"}}]},
                          "fields": ["sku"], "sort": [["sku", 1]], "limit": 5})
    assert out["results"] == [{"sku": "s1"}]
    used = ctx.store.table_queries[-1][1]["$and"][1]["$or"]
    assert used[0] == {"sku": "s1"} and used[1]["created"]["$gt"] == START


@pytest.mark.parametrize("query,needle", [
    ({"fields": ["secret"]}, "Fields not queryable"),
    ({"fields": ["sku"], "sort": {"secret": 1}}, "Sort field not queryable"),
    ({"fields": ["sku"], "filter": {"owner": "x"}}, "Filter field not allowed"),
    ({"fields": ["sku"], "filter": {"sku": {"$in": ["a"]}}}, "Operator not allowed: $in"),
    ({"fields": ["sku"], "filter": {"sku": {"$ne": "a"}}}, "Operator not allowed: $ne"),
    ({"fields": ["sku"], "filter": {"$where": "1"}}, "Operator not allowed: $where"),
    ({"fields": ["sku"], "filter": {"sku": {"$regex": "a"}}}, "Operator not allowed: $regex"),
    ({"fields": ["sku"], "limit": 51}, "exceeds max_limit"),
])
def test_db_query_refusals_mod_dbq_1(query, needle):
    with pytest.raises(ModuleExecutionError) as exc:
        run_query(db_context(), query)
    assert needle in exc.value.message and exc.value.error_type == "execution_failed"


def test_db_query_always_refused_even_if_allowed_mod_dbq_1():
    ctx = db_context()
    ctx.store.configs[("db.query", "query_schema")] = {"allowed_operators": ["$expr", "$gt"],
                                                       "blocked_operators": []}
    with pytest.raises(ModuleExecutionError):
        run_query(ctx, {"fields": ["sku"], "filter": {"price": {"$expr": {"$gt": 1}}}})


def test_db_query_context_filter_fields_protected_mod_dbq_1():
    ctx = db_context()
    ctx.store.configs[("db.table_schema", "products")] = {
        **TABLE, "filterable_fields": ["owner", "sku"]}
    with pytest.raises(ModuleExecutionError) as exc:
        run_query(ctx, {"fields": ["sku"], "filter": {"owner": "other"}})
    assert "context filter" in exc.value.message


def test_db_query_missing_config_and_engine_collections_mod_dbq_1():
    with pytest.raises(ModuleExecutionError) as exc:
        run_query(db_context(), {"fields": ["sku"]}, table="unknown")
    assert exc.value.error_type == "execution_failed"
    ctx = db_context()
    ctx.store.configs[("db.table_schema", "evil")] = {**TABLE, "collection": "events"}
    with pytest.raises(ModuleExecutionError):
        run_query(ctx, {"fields": ["sku"]}, table="evil")
    assert ctx.store.table_queries == []


def test_db_query_shape_checked_mod_dbq_1():
    for query in ({"fields": []}, {"fields": "sku"}, {"fields": ["sku"], "limit": "5"},
                  {"fields": ["sku"], "filter": []}):
        with pytest.raises(ModuleExecutionError) as exc:
            run_query(db_context(), query)
        assert exc.value.error_type == "input_validation_failed"


def test_db_query_mock_mode_mod_dbq_2():
    class NoStore:
        def __getattr__(self, name):
            raise AssertionError("store touched in mock mode")

    ctx = make_context(mock=True, store=NoStore())
    out = run_query(ctx, {"fields": ["name", "price"]}, table="anything")
    assert out["count"] == 2
    assert [r["id"] for r in out["results"]] == ["mock-001", "mock-002"]
    assert all(set(r) == {"id", "name", "price"} and r["name"] in MOCK_WORDS for r in out["results"])
    assert run_query(ctx, {"fields": ["name", "price"]}, table="anything") == out
