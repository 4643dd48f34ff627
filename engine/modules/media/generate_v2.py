"""`media.generateV2` (modules.md §7.12): an LLM writes per-provider prompts, then the
interaction of `media.generate` is shown with them.

The generated prompts are kept in `module_state` so that a refresh (MOD-mg2-5) shows exactly the
prompts that the response half later outputs, without a second LLM call.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from engine.errors import ModuleExecutionError
from engine.llm_call import resolve_llm_config
from engine.modules.base import (
    ExecutionContext,
    InteractionRequestResult,
    InteractiveModule,
    ModuleInput,
    ModuleOutput,
    SubActionContext,
)
from engine.modules.media import v2_prompts
from engine.modules.media.common import generate_request, response_outputs, validate_selection
from engine.modules.media.sub_action import run_generation
from engine.wire import InteractionRequest, InteractionResponseData, ValidationErrorItem


class MediaGenerateV2Module(InteractiveModule):
    module_id: ClassVar[str] = "media.generateV2"
    interaction_type: ClassVar[str | None] = "media_generation"
    inputs: ClassVar[tuple[ModuleInput, ...]] = (
        ModuleInput(name="action_type", type="string", required=False, default="txt2img"),
        ModuleInput(name="providers", type="array"),
        ModuleInput(name="prompt_config", type="object"),
        ModuleInput(name="display_schema", type="object", required=False),
        ModuleInput(name="title", type="string", required=False, default="Generate Media"),
        ModuleInput(name="source_image", type="any", required=False),
    )
    outputs: ClassVar[tuple[ModuleOutput, ...]] = (
        ModuleOutput(name="selected_content_id", type="string"),
        ModuleOutput(name="selected_content", type="object"),
        ModuleOutput(name="generations", type="object"),
        ModuleOutput(name="generated_prompts", type="object"),
    )

    def get_interaction_request(self, inputs: dict[str, Any],
                                context: ExecutionContext) -> InteractionRequestResult:
        action_type = inputs.get("action_type") or "txt2img"
        providers: Any = inputs.get("providers")
        prompt_config: Any = inputs.get("prompt_config")
        v2_prompts.check_inputs(action_type, providers, prompt_config)
        generated = self._generate_prompts(action_type, providers, prompt_config, context)
        return self._request(inputs, context, generated, interaction_id=None)

    def refresh_interaction_request(self, previous: InteractionRequest, inputs: dict[str, Any],
                                    module_state: dict[str, Any],
                                    context: ExecutionContext) -> InteractionRequestResult:
        generated = (module_state or {}).get("generated_prompts")
        if not isinstance(generated, dict):
            return self.get_interaction_request(inputs, context)
        return self._request(inputs, context, generated, interaction_id=previous.interaction_id)

    def validate_response(self, request: InteractionRequest, inputs: dict[str, Any],
                          response: InteractionResponseData,
                          module_state: dict[str, Any]) -> list[ValidationErrorItem]:
        return validate_selection(response)

    def execute_with_response(self, inputs: dict[str, Any], context: ExecutionContext,
                              response: InteractionResponseData,
                              module_state: dict[str, Any]) -> dict[str, Any]:
        outputs = response_outputs(context, response)
        outputs["generated_prompts"] = copy.deepcopy((module_state or {}).get("generated_prompts"))
        return outputs

    def sub_action(self, context: SubActionContext) -> dict[str, Any]:
        return run_generation(context)

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _request(inputs: dict[str, Any], context: ExecutionContext, generated: dict[str, Any],
                 interaction_id: str | None) -> InteractionRequestResult:
        action_type = inputs.get("action_type") or "txt2img"
        schema = inputs.get("display_schema")
        if schema is None:
            providers = inputs.get("providers")
            if not isinstance(providers, list):
                providers = list(generated["prompts"])
            schema = v2_prompts.default_display_schema(action_type, providers)
        return generate_request(
            inputs, context, prompts=generated, schema=schema, interaction_id=interaction_id,
            extra_data={"_generated_prompts": generated},
            module_state={"generated_prompts": copy.deepcopy(generated)})

    @staticmethod
    def _generate_prompts(action_type: str, providers: list[str], prompt_config: dict[str, Any],
                          context: ExecutionContext) -> dict[str, Any]:
        """MOD-mg2-4: one LLM call through the shared helper (mock-aware)."""
        config = resolve_llm_config(prompt_config, prompt_config.get("ai_config") or {},
                                    context.ai_config)
        extra = v2_prompts.provider_system_message(
            prompt_config.get("shared_prompt"), prompt_config.get("provider_prompts"), providers)
        messages = context.llm.build_messages(
            v2_prompts.system_elements(prompt_config.get("system"), extra),
            prompt_config["user"], context.state,
            media_base_path=context.media_base_path, mock=context.mock)
        metadata = prompt_config.get("metadata")
        result = context.llm.call(
            context, module_name=context.module_name, messages=messages,
            output_schema=v2_prompts.output_schema(action_type, providers),
            provider=config.provider, model=config.model, temperature=config.temperature,
            max_tokens=config.max_tokens, reasoning_effort=config.reasoning_effort,
            metadata=metadata if metadata is not None else {"step_id": context.step_id},
            cache_system_message=prompt_config.get("cache_system_message"),
            cache_user_prefix=prompt_config.get("cache_user_prefix"),
            api_endpoint=config.api_endpoint)
        generated = result.content
        prompts = generated.get("prompts") if isinstance(generated, dict) else None
        if not isinstance(prompts, dict) or any(p not in prompts for p in providers):
            raise ModuleExecutionError("Prompt generation returned an invalid object")
        return copy.deepcopy(generated)
