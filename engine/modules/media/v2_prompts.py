"""Pieces of the prompt-generation call of `media.generateV2` (MOD-mg2-1…3, default display)."""

from __future__ import annotations

import copy
from typing import Any

import engine.media_catalog as media_catalog
from engine.errors import ModuleExecutionError
from engine.modules.media.common import KIND_BY_ACTION

#: MOD-mg2-2: the fields asked for next to `prompts`
EXTRA_FIELDS: dict[str, tuple[str, ...]] = {
    "txt2img": ("scene_title", "key_moment"),
    "img2vid": ("scene_title", "motion_summary"),
    "txt2audio": (),
}

SHARED_REF = "{{shared_prompt_ref}}"


def _invalid(message: str) -> ModuleExecutionError:
    return ModuleExecutionError(message, error_type="input_validation_failed")


def check_inputs(action_type: Any, providers: Any, prompt_config: Any) -> None:
    """MOD-mg2-1 checks, all `input_validation_failed`."""
    if action_type not in media_catalog.prompt_actions():
        raise _invalid(f"media.generateV2: unsupported action_type '{action_type}'")
    if not isinstance(providers, list) or not providers:
        raise _invalid("media.generateV2: 'providers' must be a non-empty array")
    if not all(isinstance(p, str) and p for p in providers):
        raise _invalid("media.generateV2: providers must be non-empty strings")
    if len(set(providers)) != len(providers):
        raise _invalid("media.generateV2: providers must be unique")
    for provider in providers:
        if provider not in media_catalog.prompt_providers(action_type):
            raise _invalid(
                f"media.generateV2: provider '{provider}' is not allowed for '{action_type}'")
    user = prompt_config.get("user") if isinstance(prompt_config, dict) else None
    if not isinstance(user, str) or not user.strip():
        raise _invalid("media.generateV2: prompt_config.user must be a non-empty string")


def output_schema(action_type: str, providers: list[str]) -> dict[str, Any]:
    """MOD-mg2-2: extras first, then `prompts` with one §4.3 schema per provider."""
    properties: dict[str, Any] = {name: {"type": "string"}
                                  for name in EXTRA_FIELDS.get(action_type, ())}
    properties["prompts"] = {
        "type": "object",
        "properties": {p: copy.deepcopy(media_catalog.data_schema(p, action_type))
                       for p in providers},
        "required": list(providers),
        "additionalProperties": False,
    }
    return {"type": "object", "properties": properties, "required": list(properties),
            "additionalProperties": False}


def provider_system_message(shared_prompt: Any, provider_prompts: Any,
                            providers: list[str]) -> str:
    """MOD-mg2-3: the extra system message; `{{shared_prompt_ref}}` stays literal text."""
    prompts = provider_prompts if isinstance(provider_prompts, dict) else {}
    blocks = [
        "## Shared Provider Instructions",
        shared_prompt if isinstance(shared_prompt, str) and shared_prompt else "",
        f"The token {SHARED_REF} in a provider section below stands for the shared "
        "instructions above.",
    ]
    for provider in providers:
        text = prompts.get(provider)
        blocks.append(f"## Provider: {provider}")
        blocks.append(text if isinstance(text, str) and text else f"Use {SHARED_REF}.")
    return "\n\n".join(blocks)


def system_elements(system: Any, extra_message: str) -> list[Any]:
    """The configured `system` elements followed by the provider instructions."""
    if system is None:
        elements: list[Any] = []
    elif isinstance(system, list):
        elements = list(system)
    else:
        elements = [system]
    return [*elements, extra_message]


def default_display_schema(action_type: str, providers: list[str]) -> dict[str, Any]:
    kind = KIND_BY_ACTION.get(action_type, "image")
    return {
        "type": "object", "_ux.display": "passthrough",
        "properties": {"prompts": {
            "type": "object", "_ux": {"display": "visible", "render_as": "tabs"},
            "properties": {p: _provider_tab(p, kind) for p in providers}}},
    }


def _provider_tab(provider: str, kind: str) -> dict[str, Any]:
    return {
        "type": "object",
        "_ux": {
            "display": "visible", "tab_label": provider,
            "render_as": f"tab.media[input_schema,{kind}_generation]", "provider": provider,
            "input_schema": {"type": "object", "properties": {"_text": {
                "type": "string", "title": "Prompt", "destination_field": "prompt",
                "_ux": {"input_type": "textarea", "col_span": "full", "rows": 4,
                        "source_field": "prompt"}}}},
        },
    }
