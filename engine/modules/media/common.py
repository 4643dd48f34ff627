"""Behaviour shared by `media.generate` and `media.generateV2` (modules.md MOD-mg-1…4).

Both modules show the same interaction, accept the same answers and produce the same response
half; V2 only adds an LLM call in front. Keeping it here guarantees they never diverge.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import engine.media_catalog as media_catalog
from engine.errors import ModuleExecutionError
from engine.modules.base import ExecutionContext, InteractionRequestResult
from engine.wire import InteractionRequest, InteractionResponseData, ValidationErrorItem

KIND_BY_ACTION = {"txt2img": "image", "img2img": "image", "img2vid": "video", "txt2audio": "audio"}


def metadata_for(provider: str, action_type: str) -> dict[str, Any]:
    """providers.md §4.4 metadata, or `{}` for a provider the catalog does not know."""
    if provider not in media_catalog.PROVIDER_ACTIONS:
        return {}
    try:
        return copy.deepcopy(media_catalog.provider_metadata(provider, action_type)) or {}
    except (KeyError, ValueError):
        return {}


def normalize_data(prompts: Any, action_type: str, source_image: Any) -> dict[str, Any]:
    """MOD-mg-1: bring every accepted `prompts` shape to `{prompts: {<provider>: node}, ...}`."""
    prompts = copy.deepcopy(prompts)
    if isinstance(prompts, dict) and isinstance(prompts.get("prompts"), dict):
        data = dict(prompts)
    elif isinstance(prompts, dict):
        data = {"prompts": prompts}
    elif isinstance(prompts, list):
        nodes: dict[str, Any] = {}
        for item in prompts:
            if not isinstance(item, dict) or not isinstance(item.get("provider"), str):
                raise ModuleExecutionError("media.generate: prompt items need a 'provider'",
                                           error_type="input_validation_failed")
            nodes[item["provider"]] = item
        data = {"prompts": nodes}
    else:
        raise ModuleExecutionError("media.generate: 'prompts' must be an object or an array",
                                   error_type="input_validation_failed")
    enriched: dict[str, Any] = {}
    for provider, node in data["prompts"].items():
        if isinstance(node, dict):
            node = {"_provider_metadata": metadata_for(provider, action_type),
                    "_generations": [], **node}
        enriched[provider] = node
    data["prompts"] = enriched
    if source_image is not None:
        data["_source_image"] = source_image
    return data


def build_request(*, interaction_id: str, title: str, data: dict[str, Any], schema: Any,
                  action_type: str, context: ExecutionContext) -> InteractionRequest:
    """MOD-mg-2: the `media_generation` request (the engine adds module ids and resolver schema)."""
    return InteractionRequest(
        interaction_id=interaction_id,
        interaction_type="media_generation",
        title=title,
        display_data={
            "data": data,
            "schema": schema,
            "sub_actions": copy.deepcopy(context.sub_actions) if context.sub_actions else [],
            "generations": {},
            "retryable": copy.deepcopy(context.retryable),
        },
        context={"action_type": action_type, "providers": list(data["prompts"].keys())},
    )


def generate_request(inputs: dict[str, Any], context: ExecutionContext, *, prompts: Any,
                     schema: Any, interaction_id: str | None = None,
                     extra_data: dict[str, Any] | None = None,
                     module_state: dict[str, Any] | None = None) -> InteractionRequestResult:
    action_type = inputs.get("action_type") or "txt2img"
    data = normalize_data(prompts, action_type, inputs.get("source_image"))
    data.update(copy.deepcopy(extra_data or {}))
    request = build_request(
        interaction_id=interaction_id or context.new_id("media_"),
        title=inputs.get("title") or "Generate Media", data=data, schema=schema,
        action_type=action_type, context=context)
    return InteractionRequestResult(request=request, module_state=module_state or {})


def _find_generation(generations: dict[str, Any], content_id: str) -> dict[str, Any] | None:
    for prompt_key, entries in (generations or {}).items():
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict):
                continue
            ids = entry.get("content_ids") or []
            if content_id in ids:
                urls = entry.get("urls") or []
                position = ids.index(content_id)
                url = urls[position] if position < len(urls) else (urls[0] if urls else None)
                return {"content_id": content_id, "url": url,
                        "metadata_id": entry.get("metadata_id"), "prompt_key": prompt_key}
    return None


def validate_selection(response: InteractionResponseData) -> list[ValidationErrorItem]:
    """MOD-mg-3: a selected id must come from the generations (or carry its own content)."""
    content_id = response.selected_content_id
    if content_id is None:
        return []
    if _find_generation(response.generations, content_id) is not None:
        return []
    if response.selected_content is not None:
        return []
    return [ValidationErrorItem(
        id="selected_content_unknown", field="selected_content_id",
        rule="selected_content_exists",
        message="Selected content was not found in the generations", severity="error")]


def response_outputs(context: ExecutionContext,
                     response: InteractionResponseData) -> dict[str, Any]:
    """MOD-mg-4: the outputs of the response half."""
    content_id = response.selected_content_id
    selected: dict[str, Any] | None = None
    if content_id is not None:
        selected = _find_generation(response.generations, content_id)
    if selected is None and response.selected_content is not None:
        selected = copy.deepcopy(response.selected_content)
    if selected is not None and content_id is not None:
        document = context.store.get_generated_content(content_id)
        local_path = (document or {}).get("local_path")
        if local_path:
            selected["local_path"] = os.path.abspath(
                os.path.join(context.media_base_path, local_path))
    return {
        "selected_content_id": content_id,
        "selected_content": selected,
        "generations": copy.deepcopy(response.generations),
    }
