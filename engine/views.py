"""Read-only views of a run (engine.md §3.3, §4.4, §6.3, §6.4, §13.6): pure reads, no writes."""

from __future__ import annotations

from typing import Any

import msgspec

import engine.cursor as cur
from engine.clock import iso_z
from engine.context import EngineContext
from engine.errors import InteractionNotFound
from engine.loading import load_session, require_run
from engine.progress import build_progress, completed_steps, request_from_event, run_status
from engine.session import RunSession
from engine.state_tree import STATE_EVENTS, editor_flat_state, files_tree, steps_tree
from engine.wire import (
    ContentItemView,
    EventFilters,
    EventsView,
    EventView,
    GenerationsView,
    GenerationView,
    InteractionDataView,
    InteractionHistoryItem,
    InteractionHistoryView,
    InteractionRequest,
    InteractionResponseData,
    ModuleStateView,
    RunStatusView,
    StateView,
    StepStateView,
)

_MODULE_EVENTS = {"module_started", "interaction_requested", "interaction_response",
                  "module_completed", "module_error"}


def _pending_request(s: RunSession) -> InteractionRequest | None:
    pending = s.pending_interaction_id()
    if pending is None:
        return None
    event = s.latest_request_event(pending)
    return request_from_event(event) if event is not None else None


def state_view(ctx: EngineContext, user_id: str, run_id: str,
               link_base: str | None = None) -> StateView:
    """The state view; `link_base` (e.g. `/workflow/<id>`) adds file links (files_tree)."""
    s = load_session(ctx, user_id, run_id)
    return StateView(workflow_run_id=run_id, status=run_status(s.cursor),  # type: ignore[arg-type]
                     state=dict(s.state), steps=steps_tree(s.events),
                     state_mapped=editor_flat_state(s.events),
                     files=files_tree(ctx.store.list_files(run_id, s.lineage),
                                      _generations(ctx, s), link_base),
                     mock_tainted=s.is_mock_tainted(), step_summaries=_step_summaries(s))


def _step_summaries(s: RunSession) -> list[StepStateView]:
    """Per-step and per-module status, outputs and execution counts (engine.md §6.3 `steps`)."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    completed: dict[tuple[str, str], dict[str, Any]] = {}
    last_interaction: dict[tuple[str, str], str] = {}
    executions: dict[tuple[str, str], int] = {}
    last_error: dict[tuple[str, str], str] = {}
    step_started: dict[str, int] = {}
    step_completed: dict[str, int] = {}
    for event in s.events:
        kind = event["event_type"]
        key = (str(event.get("step_id")), str(event.get("module_name")))
        if kind in _MODULE_EVENTS:
            latest[key] = event
            if kind == "module_started":
                executions[key] = executions.get(key, 0) + 1
            elif kind == "module_completed":
                completed[key] = event
            elif kind == "module_error":
                last_error[key] = str(event["data"].get("error"))
            if kind in ("interaction_requested", "interaction_response"):
                last_interaction[key] = str(event["data"].get("interaction_id"))
        elif kind == "step_started":
            step_started[str(event["step_id"])] = event["sequence"]
        elif kind == "step_completed":
            step_completed[str(event["step_id"])] = event["sequence"]
    c = s.cursor
    steps: list[StepStateView] = []
    for step in s.index.steps:
        step_id = str(step.get("step_id"))
        modules: list[ModuleStateView] = []
        for ref in s.index.step_modules(step_id):
            key = (step_id, ref.module_name)
            latest_event = latest.get(key)
            status = "pending"
            is_cursor = c.step_id == step_id and c.module_name == ref.module_name
            if latest_event is not None:
                kind = latest_event["event_type"]
                if kind == "module_completed":
                    status = "completed"
                elif kind == "module_error":
                    status = "failed"
                elif kind == "interaction_requested" and c.phase == cur.AWAITING and is_cursor:
                    status = "awaiting_input"
                elif kind in ("module_started", "interaction_response") and is_cursor:
                    status = "running"
            done = completed.get(key)
            modules.append(ModuleStateView(
                module_name=ref.module_name, module_id=ref.module_id, status=status,
                outputs=done["data"].get("outputs") if done else None,
                state_mapped=done["data"].get("state_mapped") if done else None,
                interaction_id=last_interaction.get(key),
                error=last_error.get(key) if status == "failed" else None,
                executions=executions.get(key, 0)))
        started = step_started.get(step_id)
        finished = step_completed.get(step_id)
        if finished is not None and finished > (started or 0):
            step_status = "completed"
        elif started is not None:
            step_status = "in_progress"
        else:
            step_status = "pending"
        steps.append(StepStateView(step_id=step_id, name=s.index.step_name(step_id),
                                   status=step_status, modules=modules))
    return steps


Generation = tuple[dict[str, Any], list[dict[str, Any]]]


def _generations(ctx: EngineContext, s: RunSession) -> list[Generation]:
    """Completed generations of the lineage's media interactions, oldest first."""
    out: list[Generation] = []
    seen: set[str] = set()
    for event in s.events:
        data = event.get("data") or {}
        iid: Any = data.get("interaction_id")
        if event["event_type"] != "interaction_requested" or iid in seen or \
                (data.get("request") or {}).get("interaction_type") != "media_generation":
            continue
        seen.add(iid)
        metadata, contents = ctx.store.list_generations(s.run_id, str(iid))
        for meta in metadata:
            if meta.get("status") == "completed":
                mid = meta.get("content_generation_metadata_id")
                out.append((meta, [c for c in contents
                                   if c.get("content_generation_metadata_id") == mid]))
    out.sort(key=lambda g: (g[0].get("created_at") is None, g[0].get("created_at")))
    return out


def editor_state(ctx: EngineContext, user_id: str, run_id: str) -> dict[str, Any]:
    """The `state` a virtual response carries: `editor_flat_state` of the lineage. With the
    caches on it comes from the run's fold (the operation just kept it: no lineage read), else
    from a read of only the two event types it folds (cheaper than loading the whole session)."""
    if ctx.folds is not None and ctx.folds.enabled:
        return load_session(ctx, user_id, run_id).editor_state()
    run = require_run(ctx, user_id, run_id)
    branch = ctx.store.get_branch(str(run["current_branch_id"]))
    if branch is None:
        return {}
    return editor_flat_state(ctx.store.lineage_events(run_id, list(branch["lineage"]),
                                                      STATE_EVENTS))


def interaction_history(ctx: EngineContext, user_id: str, run_id: str) -> InteractionHistoryView:
    s = load_session(ctx, user_id, run_id)
    latest_request: dict[str, dict[str, Any]] = {}
    items: list[InteractionHistoryItem] = []
    for event in s.events:
        kind = event["event_type"]
        if kind in ("interaction_requested", "interaction_refreshed"):
            latest_request[str(event["data"].get("interaction_id"))] = event
        elif kind == "interaction_response":
            data = event["data"]
            iid = str(data.get("interaction_id"))
            found = latest_request.get(iid)
            request = request_from_event(found) if found else None
            items.append(InteractionHistoryItem(
                interaction_id=iid, step_id=event.get("step_id"),
                module_name=event.get("module_name"), module_id=data.get("module_id"),
                interaction_type=request.interaction_type if request else None,
                request=request,
                response=msgspec.convert(data.get("response") or {}, InteractionResponseData),
                intent=str(data.get("intent")), auto=bool(data.get("auto")),
                provenance=str(event.get("provenance")),
                requested_at=iso_z(found["timestamp"]) if found else None,
                responded_at=iso_z(event["timestamp"]) or "",
                timestamp=iso_z(event["timestamp"]) or ""))
    return InteractionHistoryView(workflow_run_id=run_id, interactions=items,
                                  pending_interaction=_pending_request(s))


def interaction_data(ctx: EngineContext, user_id: str, run_id: str,
                     interaction_id: str) -> InteractionDataView:
    s = load_session(ctx, user_id, run_id)
    event = s.latest_request_event(interaction_id)
    if event is None:
        raise InteractionNotFound("Interaction not found", details={"interaction_id": interaction_id})
    request = request_from_event(event)
    return InteractionDataView(workflow_run_id=run_id, interaction_id=interaction_id,
                               display_data=request.display_data, interaction_request=request)


def run_status_view(ctx: EngineContext, user_id: str, run_id: str) -> RunStatusView:
    s = load_session(ctx, user_id, run_id)
    run = s.run
    return RunStatusView(
        workflow_run_id=run_id, project_name=str(run.get("project_name")),
        workflow_template_name=str(run.get("workflow_template_name")),
        workflow_template_id=str(run.get("workflow_template_id")),
        workflow_version_id=str(run.get("current_workflow_version_id")),
        status=run_status(s.cursor),  # type: ignore[arg-type]
        mock=bool(run.get("mock")), progress=build_progress(s.index, s.cursor),
        interaction_request=_pending_request(s), created_at=iso_z(run.get("created_at")),
        updated_at=iso_z(run.get("updated_at")), completed_at=iso_z(run.get("completed_at")))


def events_view(ctx: EngineContext, user_id: str, run_id: str,
                filters: EventFilters | None = None) -> EventsView:
    filters = filters or EventFilters()
    s = load_session(ctx, user_id, run_id)
    limit = max(1, min(int(filters.limit or 500), 5000))
    if filters.scope == "all":
        docs, total = ctx.store.find_events(run_id, None, filters.event_type, filters.module_name,
                                            filters.after_sequence, limit)
    else:
        matching = [e for e in s.events
                    if (filters.event_type is None or e["event_type"] == filters.event_type)
                    and (filters.module_name is None or e.get("module_name") == filters.module_name)
                    and (filters.after_sequence is None or e["sequence"] > filters.after_sequence)]
        docs, total = matching[:limit], len(matching)
    return EventsView(workflow_run_id=run_id, total_count=total, events=[EventView(
        event_id=str(e["event_id"]), sequence=int(e["sequence"]), branch_id=str(e["branch_id"]),
        event_type=str(e["event_type"]), timestamp=iso_z(e["timestamp"]) or "",
        provenance=str(e.get("provenance")), step_id=e.get("step_id"),
        module_name=e.get("module_name"), data=e.get("data") or {}) for e in docs])


def generations_view(ctx: EngineContext, user_id: str, run_id: str, interaction_id: str,
                     content_type: str) -> GenerationsView:
    load_session(ctx, user_id, run_id)
    metadata, contents = ctx.store.list_generations(run_id, interaction_id)
    by_meta: dict[str, list[dict[str, Any]]] = {}
    for item in contents:
        by_meta.setdefault(str(item.get("content_generation_metadata_id")), []).append(item)
    out: list[GenerationView] = []
    for meta in sorted(metadata, key=lambda m: (m.get("created_at") is None, m.get("created_at"),
                                                m.get("content_generation_metadata_id"))):
        if meta.get("status") != "completed":
            continue
        items = sorted(by_meta.get(str(meta["content_generation_metadata_id"]), []),
                       key=lambda c: c.get("index") or 0)
        items = [c for c in items if c.get("content_type") == content_type]
        if not items:
            continue
        out.append(GenerationView(
            metadata_id=str(meta["content_generation_metadata_id"]),
            provider=str(meta.get("provider")), action_type=str(meta.get("action_type")),
            prompt_id=str(meta.get("prompt_id")), status=str(meta.get("status")),
            urls=[str(c.get("url")) for c in items],
            content_ids=[str(c["generated_content_id"]) for c in items],
            content_items=[ContentItemView(content_id=str(c["generated_content_id"]),
                                           url=str(c.get("url")),
                                           content_type=str(c.get("content_type")))
                           for c in items],
            request_params=meta.get("request_params") or {},
            provenance=str(meta.get("provenance")), created_at=iso_z(meta.get("created_at"))))
    return GenerationsView(workflow_run_id=run_id, interaction_id=interaction_id,
                           generations=out)


__all__ = ["completed_steps", "editor_state", "events_view", "generations_view", "interaction_data",
           "interaction_history", "run_status_view", "state_view"]
