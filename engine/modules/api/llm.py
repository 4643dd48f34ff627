"""`api.llm` (modules.md §7.1): one LLM call through the shared helper (`context.llm`)."""

from __future__ import annotations

from typing import Any, ClassVar

from engine.errors import ModuleExecutionError
from engine.llm_call import json_text, resolve_llm_config
from engine.modules.base import ExecutableModule, ExecutionContext, ModuleInput, ModuleOutput


class ApiLlmModule(ExecutableModule):
    module_id: ClassVar[str] = "api.llm"
    #: MOD-llm-1 needs to see an undeclared `api_key` input in order to refuse it
    accepts_undeclared_inputs: ClassVar[bool] = True
    inputs: ClassVar[tuple[ModuleInput, ...]] = (
        ModuleInput(name="provider", type="string", required=False, default="openai"),
        ModuleInput(name="model", type="string", required=False),
        ModuleInput(name="input", type="string|array|object"),
        ModuleInput(name="system", type="string|array|object", required=False),
        ModuleInput(name="ai_config", type="object", required=False),
        ModuleInput(name="temperature", type="number", required=False),
        ModuleInput(name="max_tokens", type="integer", required=False),
        ModuleInput(name="output_schema", type="object", required=False),
        ModuleInput(name="reasoning_effort", type="string", required=False),
        ModuleInput(name="metadata", type="object", required=False),
        ModuleInput(name="cache_system_message", type="boolean", required=False),
        ModuleInput(name="cache_user_prefix", type="boolean", required=False),
    )
    outputs: ClassVar[tuple[ModuleOutput, ...]] = (
        ModuleOutput(name="response", type="any"),
        ModuleOutput(name="response_text", type="string"),
        ModuleOutput(name="model", type="string"),
        ModuleOutput(name="provider", type="string"),
        ModuleOutput(name="usage", type="object"),
    )

    def execute(self, inputs: dict[str, Any], context: ExecutionContext) -> dict[str, Any]:
        if "api_key" in inputs:
            raise ModuleExecutionError("API keys are not accepted in workflow inputs",
                                       error_type="input_validation_failed")
        config = resolve_llm_config(inputs, inputs.get("ai_config"), context.ai_config)
        output_schema = inputs.get("output_schema")
        messages = context.llm.build_messages(
            inputs.get("system"), inputs.get("input"), context.state,
            media_base_path=context.media_base_path, mock=context.mock)
        result = context.llm.call(
            context, module_name=context.module_name, messages=messages,
            output_schema=output_schema, provider=config.provider, model=config.model,
            temperature=config.temperature, max_tokens=config.max_tokens,
            reasoning_effort=config.reasoning_effort, metadata=inputs.get("metadata"),
            cache_system_message=inputs.get("cache_system_message"),
            cache_user_prefix=inputs.get("cache_user_prefix"), api_endpoint=config.api_endpoint)
        response = result.content
        if output_schema is not None:
            response_text = json_text(response)
        elif isinstance(result.content_text, str):
            response_text = result.content_text
        else:
            response_text = str(response)
        usage = result.usage
        return {
            "response": response,
            "response_text": response_text,
            "model": result.model,
            "provider": config.provider,
            "usage": {
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "total_tokens": usage.total_tokens,
                "cached_tokens": usage.cached_tokens,
                "cost_usd": usage.cost_usd,
            },
        }
