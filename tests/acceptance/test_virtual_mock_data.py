"""ACC-V9 and VS-11: `POST /workflow/mock-data` (wire-api.md §5.8)."""

from __future__ import annotations

from typing import Any

from engine.validation import validate_schema
from tests.acceptance.virtual_support import ANSWERS, VirtualClient, vclient  # noqa: F401


def output_schemas(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {module["name"]: module["inputs"]["output_schema"]
            for step in workflow["steps"] for module in step["modules"]
            if isinstance(module.get("inputs", {}).get("output_schema"), dict)}


async def test_acc_v9_1_schema_data_is_valid_and_deterministic(vclient: VirtualClient) -> None:
    """[ACC-V9-1] Data valid against the scene concepts schema; same request, same data."""
    schema = output_schemas(vclient.workflow)["generate_scenes"]
    request = {"schema": schema, "seed": 3}
    status, first = await vclient.post("/workflow/mock-data", request)
    assert status == 200 and first["warnings"] == [] and len(first["data"]) == 1
    assert validate_schema(first["data"][0], schema) == []
    status, again = await vclient.post("/workflow/mock-data", request)
    assert again == first
    status, other = await vclient.post("/workflow/mock-data", {**request, "context": "beach"})
    assert other["data"] != first["data"]


async def test_acc_v9_2_interaction_answer_first_candidates(vclient: VirtualClient) -> None:
    """[ACC-V9-2] The 3-scene select_scene request with seed null → ["scenes", 0]."""
    body = await vclient.drive("scene_generation", "select_scene",
                               {k: ANSWERS[k] for k in ("select_pet_type", "select_aesthetic")})
    request = body["interaction_request"]
    assert len(request["display_data"]["data"]["scenes"]) == 3
    status, answer = await vclient.post("/workflow/mock-data",
                                        {"interaction_request": request, "seed": None})
    assert status == 200 and answer == {"response": {"selected_indices": ["scenes", 0]}}


async def test_vs_11_every_output_schema_twenty_seeds(vclient: VirtualClient) -> None:
    """[VS-11] Values validate for every cuddle_crew output schema; `count` values differ."""
    schemas = output_schemas(vclient.workflow)
    assert len(schemas) >= 4
    for name, schema in schemas.items():
        status, body = await vclient.post("/workflow/mock-data",
                                          {"schema": schema, "count": 20, "seed": 11})
        assert status == 200, (name, body)
        values = body["data"]
        assert len(values) == 20
        assert all(validate_schema(v, schema) == [] for v in values), name
        assert len({repr(v) for v in values}) == 20, name


async def test_mock_data_request_rules(vclient: VirtualClient) -> None:
    """[VS-11][WIRE-3] Exactly one of schema/interaction_request; count 1..100 → else 400."""
    for body in ({}, {"schema": {"type": "string"}, "interaction_request": {
            "interaction_id": "x", "interaction_type": "text_input"}},
                 {"schema": {"type": "string"}, "count": 0},
                 {"schema": {"type": "string"}, "count": 101}):
        status, error = await vclient.post("/workflow/mock-data", body)
        assert status == 400 and error["result"]["error_type"] == "bad_request", body
    status, few = await vclient.post("/workflow/mock-data", {"schema": {"type": "boolean"},
                                                             "count": 5})
    assert status == 200 and all(isinstance(v, bool) for v in few["data"])


async def test_mock_data_llm_mode_falls_back_with_a_warning(vclient: VirtualClient) -> None:
    """[VS-11] `llm` mode without a usable provider falls back to `generated` with a warning."""
    schema = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
    status, body = await vclient.post("/workflow/mock-data", {"schema": schema, "mode": "llm",
                                                              "count": 2, "seed": 1})
    assert status == 200 and len(body["warnings"]) == 1
    status, generated = await vclient.post("/workflow/mock-data", {"schema": schema, "count": 2,
                                                                   "seed": 1})
    assert body["data"] == generated["data"]
