"""`POST /workflow/mock-data` (wire-api.md §5.8, VS-11): test data for the editor, no blob.

`generated` mode is the deterministic generator of modules.md §5 with seed
`f"{seed}:{i}:{context or ''}"` per value; `llm` mode asks the configured LLM provider for
schema-shaped output and falls back to `generated` (with a warning) when no provider is usable
or its output does not validate. With an `interaction_request` the answer is the auto-respond
answer of engine.md §14.3 in mock mode. All values of one request share one `MockBudget`
(`WFE_MOCK_DATA_MAX_BYTES`); a schema that demands more is a 400 naming the keyword and limit.
"""

from __future__ import annotations

from typing import Any

import msgspec

from engine import (
    ContentPart,
    IdGenerator,
    InteractionResponseData,
    LLMRequest,
    Message,
    MockBudget,
    MockDataRequest,
    MockSchemaError,
    generate_answer,
    generate_mock,
    validate_schema,
)
from providers.credentials import build_credentials
from virtual_server.errors import ApiError, bad_request

MAX_COUNT = 100
_DEFAULTS = msgspec.to_builtins(InteractionResponseData())


def check_request(req: MockDataRequest) -> None:
    """Request-shape rules that msgspec cannot express (400 `bad_request`)."""
    if (req.schema is None) == (req.interaction_request is None):
        raise bad_request("Exactly one of schema and interaction_request is required")
    if not 1 <= req.count <= MAX_COUNT:
        raise bad_request("count must be between 1 and 100", count=req.count)


def answer_body(answer: InteractionResponseData | None) -> dict[str, Any] | None:
    """The answer without fields left at their defaults (what a client would have typed)."""
    if answer is None:
        return None
    built = msgspec.to_builtins(answer)
    return {k: v for k, v in built.items() if v != _DEFAULTS.get(k)}


def generated(schema: dict[str, Any], count: int, seed: int | None, context: str | None,
              budget: MockBudget | None = None) -> list[Any]:
    shared = budget if budget is not None else MockBudget()
    return [generate_mock(schema, f"{seed}:{i}:{context or ''}", shared) for i in range(count)]


def refused(exc: MockSchemaError) -> ApiError:
    """400 with the generator's reason: `mock_data_too_large` for budget refusals."""
    return ApiError(400, exc.error_type, "Cannot generate data for this schema: " + exc.reason,
                    {"reason": exc.reason, **exc.details})


def _llm_values(req: MockDataRequest, providers: Any, ai_config: dict[str, Any],
                provider_keys: dict[str, str]) -> list[Any]:
    """Values from the configured provider, each validated; raises on any problem."""
    assert req.schema is not None
    wrapper = {"type": "object", "required": ["items"], "additionalProperties": False,
               "properties": {"items": {"type": "array", "items": req.schema,
                                        "minItems": req.count, "maxItems": req.count}}}
    prompt = (f"Generate {req.count} realistic, varied example values matching the schema"
              + (f" about: {req.context}" if req.context else "") + ". Answer with JSON only.")
    provider = providers.for_call(False).llm(str(ai_config.get("provider") or "openai"))
    model = str(ai_config.get("model") or provider.default_model())
    result = provider.call(LLMRequest(model=model, output_schema=wrapper, seed=req.seed, messages=[
        Message(role="user", content=[ContentPart(type="text", value=prompt)])]),
        build_credentials(provider_keys, None))
    content = result.content
    if not isinstance(content, dict) or validate_schema(content, wrapper):
        raise ValueError("LLM output does not match the schema")
    return list(content["items"])


def mock_data(req: MockDataRequest, *, ids: IdGenerator, providers: Any,
              ai_config: dict[str, Any], provider_keys: dict[str, str],
              max_bytes: int | None = None) -> dict[str, Any]:
    check_request(req)
    budget = MockBudget(max_bytes) if max_bytes is not None else MockBudget()
    if req.interaction_request is not None:
        request = req.interaction_request
        context = request.context or {}
        retryable = (request.display_data or {}).get("retryable")
        try:
            answer = generate_answer(request, seed=req.seed, mock=True,
                                     retryable=retryable if isinstance(retryable, dict) else None,
                                     step_id=str(context.get("step_id") or ""),
                                     module_name=str(context.get("module_name") or ""),
                                     new_hex=ids.new_hex, mock_budget=budget)
        except MockSchemaError as exc:
            raise refused(exc) from None
        return {"response": answer_body(answer)}
    assert req.schema is not None
    warnings: list[str] = []
    if req.mode == "llm":
        try:
            return {"data": _llm_values(req, providers, ai_config, provider_keys),
                    "warnings": warnings}
        except Exception as exc:  # noqa: BLE001 - any provider problem falls back (§5.8)
            warnings.append(f"LLM generation unavailable ({type(exc).__name__}); "
                            "used the deterministic generator")
    try:
        data = generated(req.schema, req.count, req.seed, req.context, budget)
    except MockSchemaError as exc:
        raise refused(exc) from None
    except (ValueError, TypeError, RecursionError, ArithmeticError) as exc:
        raise bad_request("Cannot generate data for this schema", reason=str(exc)[:200]) from None
    return {"data": data, "warnings": warnings}
