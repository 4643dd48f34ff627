"""The self sub-action of the media modules (modules.md MOD-mg-5): one generation.

Mock and live share this path up to the provider object: in mock mode the mode-aware
`ProviderSet` hands out the mock media provider (PRV-16), so only ids and provenance differ.
"""

from __future__ import annotations

import os
from typing import Any

import msgspec

import engine.media_catalog as media_catalog
from engine.errors import Cancelled, ModuleExecutionError
from engine.media_files import extension_for, resolve_media_path, store_media
from engine.modules.base import SubActionContext
from engine.modules.media.common import KIND_BY_ACTION
from engine.provider_types import (
    ContentItem,
    GenerationResult,
    MediaProvider,
    ProviderCancelled,
    ProviderError,
)
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
    except ProviderError as exc:
        raise _failure(context, metadata_id, exc, secrets) from None

    content_ids: list[str] = []
    urls: list[str] = []
    try:
        rows = [_content_row(context, client, item, action_type, prefix)
                for item in result.content]
    except (ProviderError, ModuleExecutionError) as exc:
        raise _failure(context, metadata_id, exc, secrets) from None
    for index, row in enumerate(rows):
        row.update({"content_generation_metadata_id": metadata_id,
                    "workflow_run_id": context.workflow_run_id,
                    "interaction_id": context.interaction_id, "index": index,
                    "provenance": context.provenance, "created_at": context.clock.now()})
        context.store.insert_generated_content(row)
        content_ids.append(row["generated_content_id"])
        urls.append(row["url"])
    context.store.update_generation_metadata(metadata_id, {
        "status": "completed", "provider_task_id": result.provider_task_id,
        "completed_at": context.clock.now()})
    if not context.mock and result.usage is not None:
        _record_usage(context, result)
    return {"metadata_id": metadata_id, "content_ids": content_ids, "urls": urls,
            "prompt_id": prompt_id, "provider": provider_id, "action_type": action_type,
            "mock": context.mock}


def _content_row(context: SubActionContext, client: MediaProvider, item: ContentItem,
                 action_type: str, prefix: str) -> dict[str, Any]:
    """One `generated_content` row. A live item is downloaded into the media root first, so the
    run keeps its media when the vendor's URL expires and later steps can read `local_path`;
    a data URL is then never stored in documents or events (it can be megabytes)."""
    content_id = context.new_id(prefix + "gc_")
    content_type = item.content_type or KIND_BY_ACTION.get(action_type, "image")
    row: dict[str, Any] = {"generated_content_id": content_id, "content_type": content_type,
                           "provider_url": item.url, "url": item.url,
                           "extension": item.extension, "seed": item.seed}
    if context.mock:
        return row
    _check_cancel(context)
    extension = extension_for(item.url, item.extension, content_type)
    stored = store_media(context.media_base_path,
                         client.fetch_content(item, context.media_max_bytes), extension,
                         context.media_max_bytes)
    row.update({"extension": stored.extension, "local_path": stored.relative_path,
                "size_bytes": stored.size, "sha256": stored.sha256})
    if item.url.startswith("data:"):
        row["provider_url"] = None
    if context.media_url_template:
        row["url"] = context.media_url_template.format(
            run_id=context.workflow_run_id, content_id=content_id, ext=stored.extension,
            sha256=stored.sha256)
    return row


def _check_cancel(context: SubActionContext) -> None:
    if context.cancel is not None and context.cancel.is_cancelled():
        raise ProviderCancelled("Operation cancelled")


def _cancellable_progress(context: SubActionContext) -> Any:
    """The progress callback handed to a vendor client: it forwards progress and stops a
    polling client by raising `ProviderCancelled` once the call is cancelled."""

    def progress(data: dict[str, Any]) -> None:
        _check_cancel(context)
        context.progress(data)

    return progress


def _generate(client: MediaProvider, action_type: str, gen_params: dict[str, Any],
              source_data: dict[str, Any], context: SubActionContext) -> GenerationResult:
    prompt = gen_params.get("prompt")
    prompt = prompt if isinstance(prompt, str) else ""
    formatted = client.format_params(gen_params)
    progress = _cancellable_progress(context)
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
    """`params.source_image`, else `source_data._source_image`, else the resolved input.

    A selection object gives its stored file (`local_path`) before its URL, and a URL of one of
    our own stored files is turned back into that file: vendors cannot fetch our media route.
    """
    for candidate in (gen_params.get("source_image"), source_data.get("_source_image"),
                      context.resolved_inputs.get("source_image")):
        if isinstance(candidate, dict):
            local = _stored_file(context, candidate.get("local_path"))
            candidate = local or candidate.get("url")
        if isinstance(candidate, str) and candidate:
            return candidate if context.mock else _live_source(context, candidate)
    if context.mock:
        return ""
    raise ModuleExecutionError("Media generation failed: no source image")


def _live_source(context: SubActionContext, source: str) -> str:
    """What a vendor client may be given: a data URL, an http(s) URL (fetched only through the
    guarded fetcher), or a file of the media root. Any other path is refused, so a request
    cannot make the server read and upload an arbitrary file."""
    if source.startswith(("data:", "http://", "https://")):
        return source
    own = _own_media_file(context, source) or _stored_file(context, source)
    if own is None:
        raise ModuleExecutionError(
            "Media generation failed: the source image must be a URL, a data URL or a stored "
            "generation")
    return own


def _stored_file(context: SubActionContext, path: Any) -> str | None:
    if not isinstance(path, str) or not path:
        return None
    resolved = resolve_media_path(context.media_base_path, path)
    return resolved if resolved is not None and os.path.isfile(resolved) else None


def _own_media_file(context: SubActionContext, url: str) -> str | None:
    """The local file behind `.../media/<content_id>.<ext>` of this run, if there is one."""
    if "/media/" not in url:
        return None
    content_id = url.rsplit("/", 1)[-1].split(".", 1)[0].split("?", 1)[0]
    document = context.store.get_generated_content(content_id) or {}
    if document.get("workflow_run_id") != context.workflow_run_id:
        return None
    return _stored_file(context, document.get("local_path"))


def _failure(context: SubActionContext, metadata_id: str,
             exc: ProviderError | ModuleExecutionError, secrets: list[str]) -> Exception:
    """Mark the generation failed and return the error the sub-action raises."""
    if isinstance(exc, ProviderCancelled):
        _fail(context, metadata_id, "Cancelled")
        return Cancelled("Operation cancelled")
    message = sanitize_message(exc.message, secrets)
    _fail(context, metadata_id, message)
    return ModuleExecutionError(f"Media generation failed: {message}")


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
