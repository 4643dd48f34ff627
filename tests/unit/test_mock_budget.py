"""Issue 15 item 2: mock data is generated against a size budget and demanding schemas are refused.

`generate_mock` (engine), the form auto-answer and the mock LLM provider all share the rule;
the HTTP side (`/workflow/mock-data`, a mock `api.llm` run) is in
tests/acceptance/test_abuse_bounds.py.
"""

from __future__ import annotations

import time
import tracemalloc
from typing import Any

import pytest

from engine.autorespond import generate_answer
from engine.mock_budget import MAX_NODES, MockBudget, MockBudgetExceeded, MockSchemaError
from engine.mock_data import generate_mock
from engine.provider_types import LLMRequest, ProviderError
from engine.wire import InteractionRequest
from providers.llm.mock import MockLLMProvider

MB = 1024 * 1024

DEMANDING = [
    ({"type": "string", "minLength": 1_000_000_000}, "minLength"),
    ({"type": "string", "minLength": 1_000_000_000, "maxLength": 2_000_000_000}, "minLength"),
    ({"type": "array", "minItems": 1_000_000_000}, "minItems"),
    ({"type": "array", "minItems": 5000, "items": {"type": "array", "minItems": 5000}}, None),
    ({"type": "array", "minItems": 100, "items": {"type": "string", "minLength": 100_000}}, None),
    ({"$ref": "#/$defs/t", "$defs": {"t": {"type": "array", "minItems": 4, "maxItems": 4,
                                           "items": {"$ref": "#/$defs/t"}}}}, None),
    ({"type": "object", "properties": {"p" + str(i): {"type": "string", "minLength": 50_000}
                                       for i in range(100)}}, None),
    ({"type": "array", "minItems": 100, "items": {"const": "x" * 100_000}}, None),
]


def _nested(depth: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(depth):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


@pytest.mark.parametrize(("schema", "keyword"), DEMANDING)
def test_demanding_schema_is_refused_quickly_with_bounded_memory(schema: dict[str, Any],
                                                                  keyword: str | None) -> None:
    started = time.process_time()  # CPU time: the work done, whatever else loads the machine
    with pytest.raises(MockBudgetExceeded) as info:
        generate_mock(schema, 1)
    assert time.process_time() - started < 3.0
    tracemalloc.start()  # the peak on a second run: tracemalloc slows the generator a lot
    try:
        with pytest.raises(MockBudgetExceeded):
            generate_mock(schema, 1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * MB, peak // MB
    exc = info.value
    assert exc.error_type == "mock_data_too_large" and exc.details["limit"] > 0
    if keyword is not None:
        assert exc.details["keyword"] == keyword and keyword in exc.reason


def test_one_budget_is_shared_by_all_values_of_a_request() -> None:
    schema = {"type": "string", "minLength": 100_000}
    assert len(generate_mock(schema, 1)) >= 100_000  # one value fits the default budget
    budget = MockBudget(max_bytes=1_000_000)
    with pytest.raises(MockBudgetExceeded, match="budget of 1000000 bytes"):
        for index in range(100):
            generate_mock(schema, index, budget)


def test_nesting_and_numbers_are_checked() -> None:
    assert generate_mock(_nested(60), 1)["a"]["a"]
    with pytest.raises(MockBudgetExceeded, match="nested deeper than 64"):
        generate_mock(_nested(70), 1)
    for schema in ({"type": "integer", "minimum": 10**30},
                   {"type": "integer", "maximum": -(10**5000)},
                   {"type": "integer", "minimum": 2**63}):
        with pytest.raises(MockSchemaError, match="64-bit range"):
            generate_mock(schema, 1)
    assert generate_mock({"type": "integer", "minimum": 2**63 - 101}, 1) <= 2**63 - 1


def test_ordinary_schemas_generate_the_same_data_as_before() -> None:
    """The budget only adds checks: a few values pinned from the generator before the change."""
    assert generate_mock({"type": "string", "minLength": 30}, 5) == \
        "dolore excepteur veniam cupidatat fugiat id"
    assert generate_mock({"type": "array", "items": {"type": "integer"}}, 2) == [11]
    assert len(generate_mock({"type": "array", "maxItems": 50}, 3)) == 16
    assert len(generate_mock({"type": "array", "maxItems": 10**9}, 1)) <= 101


def test_contradictory_lengths_do_not_build_the_minimum() -> None:
    started = time.process_time()
    text = generate_mock({"type": "string", "minLength": 10**9, "maxLength": 12}, 1)
    assert len(text) <= 12 and time.process_time() - started < 1.0


def test_form_auto_answer_shares_the_budget() -> None:
    request = InteractionRequest(
        interaction_id="form_1", interaction_type="form_input",
        form_schema={"type": "object", "properties": {
            "bio": {"type": "string", "minLength": 400_000}}},
        form_defaults=[{}] * 10)
    with pytest.raises(MockBudgetExceeded):
        generate_answer(request, seed=1, mock=True, retryable=None, step_id="s",
                        module_name="m", new_hex=lambda: "0" * 32)
    small = InteractionRequest(interaction_id="form_2", interaction_type="form_input",
                               form_schema={"type": "object", "properties": {
                                   "bio": {"type": "string", "minLength": 40}}},
                               form_defaults=[{}] * 3)
    answer = generate_answer(small, seed=1, mock=True, retryable=None, step_id="s",
                             module_name="m", new_hex=lambda: "0" * 32)
    assert answer is not None and len(answer.form_data) == 3


def test_mock_llm_provider_is_bounded_by_its_output_tokens() -> None:
    provider = MockLLMProvider()
    huge = {"type": "object", "properties": {"text": {"type": "string", "minLength": 10**9}}}
    started = time.process_time()
    with pytest.raises(ProviderError) as info:
        provider.call(LLMRequest(model="mock-preview", messages=[], output_schema=huge, seed=1), {})
    assert time.process_time() - started < 1.0
    assert info.value.error_code == "output_too_large" and info.value.retryable is False
    assert "128000 output tokens" in info.value.message
    medium = {"type": "string", "minLength": 10_000}
    assert len(provider.call(LLMRequest(model="mock-preview", messages=[], output_schema=medium, seed=1),
                             {}).content) >= 10_000
    with pytest.raises(ProviderError, match="within 1000 output tokens"):
        provider.call(LLMRequest(model="mock-preview", messages=[], output_schema=medium, seed=1,
                                 max_tokens=1000), {})


def test_node_budget_constant_is_the_documented_one() -> None:
    assert MAX_NODES == 200_000
