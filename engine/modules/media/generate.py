"""`media.generate` (modules.md §7.11): show given prompts, let the client generate and pick."""

from __future__ import annotations

from typing import Any, ClassVar

from engine.modules.base import (
    ExecutionContext,
    InteractionRequestResult,
    InteractiveModule,
    ModuleInput,
    ModuleOutput,
    SubActionContext,
)
from engine.modules.media.common import generate_request, response_outputs, validate_selection
from engine.modules.media.sub_action import run_generation
from engine.wire import InteractionRequest, InteractionResponseData, ValidationErrorItem


class MediaGenerateModule(InteractiveModule):
    module_id: ClassVar[str] = "media.generate"
    interaction_type: ClassVar[str | None] = "media_generation"
    inputs: ClassVar[tuple[ModuleInput, ...]] = (
        ModuleInput(name="prompts", type="object|array"),
        ModuleInput(name="schema", type="object"),
        ModuleInput(name="title", type="string", required=False, default="Generate Media"),
        ModuleInput(name="action_type", type="string", required=False, default="txt2img"),
        ModuleInput(name="source_image", type="any", required=False),
    )
    outputs: ClassVar[tuple[ModuleOutput, ...]] = (
        ModuleOutput(name="selected_content_id", type="string"),
        ModuleOutput(name="selected_content", type="object"),
        ModuleOutput(name="generations", type="object"),
    )

    def get_interaction_request(self, inputs: dict[str, Any],
                                context: ExecutionContext) -> InteractionRequestResult:
        return generate_request(inputs, context, prompts=inputs["prompts"],
                                schema=inputs["schema"])

    def refresh_interaction_request(self, previous: InteractionRequest, inputs: dict[str, Any],
                                    module_state: dict[str, Any],
                                    context: ExecutionContext) -> InteractionRequestResult:
        return generate_request(inputs, context, prompts=inputs["prompts"],
                                schema=inputs["schema"],
                                interaction_id=previous.interaction_id,
                                module_state=module_state)

    def validate_response(self, request: InteractionRequest, inputs: dict[str, Any],
                          response: InteractionResponseData,
                          module_state: dict[str, Any]) -> list[ValidationErrorItem]:
        return validate_selection(response)

    def execute_with_response(self, inputs: dict[str, Any], context: ExecutionContext,
                              response: InteractionResponseData,
                              module_state: dict[str, Any]) -> dict[str, Any]:
        return response_outputs(context, response)

    def sub_action(self, context: SubActionContext) -> dict[str, Any]:
        return run_generation(context)
