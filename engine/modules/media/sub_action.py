"""The self sub-action of the media modules (modules.md MOD-mg-5): one generation.

Mock and live share this path up to the provider object: in mock mode the mode-aware
`ProviderSet` hands out the mock media provider (PRV-16), so only ids and provenance differ.
"""

from __future__ import annotations

from typing import Any

import msgspec

from engine import media_catalog
from engine.errors import Cancelled, ModuleExecutionError
from engine.modules.base import SubActionContext
from engine.modules.media.common import KIND_BY_ACTION
from engine.provider_types import GenerationResult, MediaProvider, ProviderCancelled, ProviderError
from engine.sanitize import sanitize_message


def run_generation(context: SubActionContext) -> dict[str, Any]:
    params = context.params or {}
    provider_id = params.get("provider")
    if not isinstance(provider_id, str) or not provider_id:
        raise ModuleExecutionError("Sub-action params need a 'provider'")
    action_type = (params.get("action_type") or context.resolved_inputs.get("action_type")
                   or context.request.context.get("action_type") or "txt2img")
    prompt_id = params.get("prompt_id") or "default"
    gen_params = params.get("params") or {}
    source_data = params.get("source_data") or {}
    if not isinstance(gen_params, dict) or not isinstance(source_data, dict):
        raise ModuleExecutionError("Sub-action 'params' and 'source_data' must be objects")
    if action_type not in media_catalog.PROVIDER_ACTIONS.get(provider_id, ()):
        raise ModuleExecutionError(
            f"Provider '{provider_id}' does not support action '{action_type}'")
    if context.cancel is not None and context.cancel.is_cancelled():
        raise Cancelled("Operation cancelled")
    secrets = list((context.credentials or {}).values())
    try:
        client: MediaProvider = context.providers.media(provider_id, context.credentials)
    except ProviderError as exc:
        raise ModuleExecutionError(
            f"Provider '{provider_id}' is unavailable: {sanitize_message(exc.message, secrets)}"
        ) from None

    prefix = "mock-" if context.mock else ""
    metadata_id = context.new_id(prefix + "cgm_")
    context.store.insert_generation_metadata({
        "content_generation_metadata_id": metadata_id,
        "workflow_run_id": context.workflow_run_id,
        "interaction_id": context.interaction_id,
        "execution_id": context.execution_id,
        "provider": provider_id,
        "action_type": action_type,
        "prompt_id": prompt_id,
        "status": "pending",
        "request_params": gen_params,
        "source_data": source_data,
        "provider_task_id": None,
        "error_message": None,
        "provenance": context.provenance,
        "created_at": context.clock.now(),
        "completed_at": None,
    })
    try:
        result = _generate(client, action_type, gen_params, source_data, context)
    except ProviderCancelled:
        _fail(context, metadata_id, "Cancelled")
        raise Cancelled("Operation cancelled") from None
    except ProviderError as exc:
        message = sanitize_message(exc.message, secrets)
        _fail(context, metadata_id, message)
        raise ModuleExecutionError(f"Media generation failed: {message}") from None

    content_ids: list[str] = []
    urls: list[str] = []
    for index, item in enumerate(result.content):
        content_id = context.new_id(prefix + "gc_")
        context.store.insert_generated_content({
            "generated_content_id": content_id,
            "content_generation_metadata_id": metadata_id,
            "workflow_run_id": context.workflow_run_id,
            "interaction_id": context.interaction_id,
            "index": index,
            "content_type": item.content_type or KIND_BY_ACTION.get(action_type, "image"),
            "provider_url": item.url,
            "url": item.url,
            "extension": item.extension,
            "seed": item.seed,
            "provenance": context.provenance,
            "created_at": context.clock.now(),
        })
        content_ids.append(content_id)
        urls.append(item.url)
    context.store.update_generation_metadata(metadata_id, {
        "status": "completed", "provider_task_id": result.provider_task_id,
        "completed_at": context.clock.now()})
    if not context.mock and result.usage is not None:
        _record_usage(context, result)
    return {"metadata_id": metadata_id, "content_ids": content_ids, "urls": urls,
            "prompt_id": prompt_id, "provider": provider_id, "action_type": action_type,
            "mock": context.mock}


def _generate(client: MediaProvider, action_type: str, gen_params: dict[str, Any],
              source_data: dict[str, Any], context: SubActionContext) -> GenerationResult:
    prompt = gen_params.get("prompt")
    prompt = prompt if isinstance(prompt, str) else ""
    formatted = client.format_params(gen_params)
    progress = context.progress
    if action_type == "txt2img":
        return client.txt2img(prompt, formatted, progress)
    if action_type == "txt2audio":
        return client.txt2audio(prompt, formatted, progress)
    source = _source_image(gen_params, source_data, context)
    if action_type == "img2img":
        return client.img2img(source, prompt, formatted, progress)
    return client.img2vid(source, prompt, formatted, progress)


def _source_image(gen_params: dict[str, Any], source_data: dict[str, Any],
                  context: SubActionContext) -> str:
    """`params.source_image`, else `source_data._source_image`, else the resolved input."""
    for candidate in (gen_params.get("source_image"), source_data.get("_source_image"),
                      context.resolved_inputs.get("source_image")):
        if isinstance(candidate, dict):
            candidate = candidate.get("url")
        if isinstance(candidate, str) and candidate:
            return candidate
    if context.mock:
        return ""
    raise ModuleExecutionError("Media generation failed: no source image")


def _fail(context: SubActionContext, metadata_id: str, message: str) -> None:
    context.store.update_generation_metadata(metadata_id, {
        "status": "failed", "error_message": message, "completed_at": context.clock.now()})


def _record_usage(context: SubActionContext, result: GenerationResult) -> None:
    usage = {k: v for k, v in msgspec.to_builtins(result.usage).items() if v is not None}
    context.store.insert_token_usage({
        "workflow_run_id": context.workflow_run_id,
        "timestamp": context.clock.now(),
        "step_id": context.step_id,
        "step_name": context.extra.get("step_name", ""),
        "module_name": context.module_name,
        "module_index": context.extra.get("module_index"),
        "usage": [usage],
        "provenance": context.provenance,
    })
