"""`WorkflowEngine`: the single entry point both servers call (engine.md §2.1).

A thin facade: each method hands its arguments to the operation module that holds the logic,
together with the engine's `EngineContext`. Nothing inside the engine imports this module;
operations call each other directly, downwards. Operations are synchronous and run on
engine-pool threads; each executing one takes the run's lock (engine/operation.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from typing import Any, Generic, TypeVar, overload

import engine.global_templates as global_templates
import engine.media_views as media_views
import engine.moves as moves
import engine.status_display as status_display
import engine.sub_action_close as sub_action_close
import engine.sub_actions as sub_actions
import engine.views as views
import engine.virtual as virtual
from engine.commands import StartCommand
from engine.content_cache import ContentCache
from engine.context import EngineContext, Mode
from engine.fold_cache import FoldCache
from engine.loading import load_session
from engine.locks import RunLocks
from engine.modules.registry import ModuleRegistry
from engine.oplog import OPERATIONS, log_operations
from engine.outcomes import ExecOptions
from engine.ports import Clock, IdGenerator, PipelineEvaluator, ProviderSet, Store
from engine.provider_types import PreviewInfo
from engine.respond import is_replay, respond
from engine.resume_update import resume_with_content
from engine.runs import create_run, delete_run, point_run_at_version, store_workflow
from engine.session import RunSession
from engine.settings import EngineSettings
from engine.starts import production_start, reset_run, resume_status
from engine.sub_actions import Emit, SubActionInfo
from engine.templating import TemplateEngine
from engine.wire import (
    EventFilters,
    EventsView,
    GenerationsView,
    InteractionDataView,
    InteractionHistoryView,
    InteractionResponseData,
    RunStatusView,
    StateView,
    StoredWorkflow,
    SubActionOutcome,
    Target,
    WorkflowResponse,
)
from engine.wire_web import CloneVersionResponse, PublishGlobalResponse, RunSummary

__all__ = ["ExecOptions", "StartCommand", "WorkflowEngine"]
Doc = dict[str, Any]
T = TypeVar("T")


class _Part(Generic[T]):
    """One part of the engine's `EngineContext` as an attribute of the facade; assigning it
    builds a new context with that part replaced (the run locks are kept)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> _Part[T]: ...
    @overload
    def __get__(self, obj: WorkflowEngine, objtype: type | None = None) -> T: ...

    def __get__(self, obj: WorkflowEngine | None, objtype: type | None = None) -> T | _Part[T]:
        if obj is None:
            return self
        value: T = getattr(obj.ctx, self.name)
        return value

    def __set__(self, obj: WorkflowEngine, value: T) -> None:
        changes: dict[str, Any] = {self.name: value}
        obj.ctx = dataclasses.replace(obj.ctx, **changes)


@log_operations(*OPERATIONS)  # one log line per operation (engine/oplog.py)
class WorkflowEngine:
    def __init__(self, store: Store, providers: ProviderSet, registry: ModuleRegistry,
                 pipeline: PipelineEvaluator, clock: Clock, ids: IdGenerator,
                 settings: EngineSettings, mode: Mode, folds: FoldCache | None = None,
                 workflow_checks: ContentCache[str] | None = None) -> None:
        self.ctx = EngineContext(store=store, providers=providers, registry=registry,
                                 pipeline=pipeline, clock=clock, ids=ids, settings=settings,
                                 mode=mode, folds=folds, workflow_checks=workflow_checks)

    # the context's parts, readable and replaceable (tests swap a store or a registry)
    store: _Part[Store] = _Part()
    providers: _Part[ProviderSet] = _Part()
    registry: _Part[ModuleRegistry] = _Part()
    pipeline: _Part[PipelineEvaluator] = _Part()
    clock: _Part[Clock] = _Part()
    ids: _Part[IdGenerator] = _Part()
    settings: _Part[EngineSettings] = _Part()
    mode: _Part[Mode] = _Part()
    templates: _Part[TemplateEngine] = _Part()
    locks: _Part[RunLocks] = _Part()
    folds: _Part[FoldCache] = _Part()

    def load(self, user_id: str, run_id: str, mock: bool | None = None) -> RunSession:
        return load_session(self.ctx, user_id, run_id, mock)

    # ------------------------------------------------------------------ executing operations

    def continue_run(self, user_id: str, run_id: str,
                     opts: ExecOptions | None = None) -> WorkflowResponse:
        return moves.continue_run(self.ctx, user_id, run_id, opts)

    def run_to_target(self, user_id: str, run_id: str, target: Target,
                      opts: ExecOptions | None = None) -> WorkflowResponse:
        return moves.run_to_target(self.ctx, user_id, run_id, target, opts)

    def respond(self, user_id: str, run_id: str, interaction_id: str,
                response: InteractionResponseData,
                opts: ExecOptions | None = None) -> WorkflowResponse:
        return respond(self.ctx, user_id, run_id, interaction_id, response, opts)

    def is_replay(self, run_id: str, interaction_id: str,
                  response: InteractionResponseData) -> bool:
        """Whether `respond` would return this answer's stored outcome (§18.1)."""
        return is_replay(self.ctx, run_id, interaction_id, response)

    def retry(self, user_id: str, run_id: str, target_module: str, feedback: str | None,
              opts: ExecOptions | None = None) -> WorkflowResponse:
        return moves.retry(self.ctx, user_id, run_id, target_module, feedback, opts)

    def jump(self, user_id: str, run_id: str, target_step: str, target_module: str,
             opts: ExecOptions | None = None) -> WorkflowResponse:
        return moves.jump(self.ctx, user_id, run_id, target_step, target_module, opts)

    def jump_to_interaction(self, user_id: str, run_id: str, interaction_id: str,
                            opts: ExecOptions | None = None) -> WorkflowResponse:
        return moves.jump_to_interaction(self.ctx, user_id, run_id, interaction_id, opts)

    def start(self, cmd: StartCommand) -> WorkflowResponse:
        return production_start(self.ctx, cmd)

    def reset(self, user_id: str, run_id: str) -> WorkflowResponse:
        return reset_run(self.ctx, user_id, run_id)

    def resume_status(self, user_id: str, run_id: str,
                      ai_config: Doc | None = None) -> WorkflowResponse:
        return resume_status(self.ctx, user_id, run_id, ai_config)

    def resume_with_content(self, user_id: str, run_id: str, workflow: Doc, source_type: str,
                            capabilities: list[str], confirm: bool,
                            opts: ExecOptions | None = None) -> WorkflowResponse:
        """Resume with new content: ask when it differs, or switch and continue (§15.2)."""
        return resume_with_content(self.ctx, user_id, run_id, workflow, source_type,
                                   capabilities, confirm, opts or ExecOptions())

    # ------------------------------------------------------------------ runs and versions

    def store_workflow(self, user_id: str, workflow: Doc, source_type: str) -> StoredWorkflow:
        return store_workflow(self.ctx, user_id, workflow, source_type)

    def create_run(self, *, user_id: str, project_name: str, stored: StoredWorkflow,
                   workflow_name: str, capabilities: list[str], mock: bool,
                   ai_config: Doc | None, run_prefix: str) -> str:
        return create_run(self.ctx, user_id=user_id, project_name=project_name, stored=stored,
                          workflow_name=workflow_name, capabilities=capabilities, mock=mock,
                          ai_config=ai_config, run_prefix=run_prefix)

    def point_run_at_version(self, user_id: str, run_id: str, source_version_id: str,
                             capabilities: list[str]) -> bool:
        return point_run_at_version(self.ctx, user_id, run_id, source_version_id, capabilities)

    def delete(self, user_id: str, run_id: str) -> None:
        delete_run(self.ctx, user_id, run_id)

    def publish_global(self, admin_id: str, source_version_id: str) -> PublishGlobalResponse:
        return global_templates.publish_global(self.ctx, admin_id, source_version_id)

    def clone_global_version(self, user_id: str, template_id: str,
                             version_id: str) -> CloneVersionResponse:
        return global_templates.clone_global_version(self.ctx, user_id, template_id, version_id)

    # ------------------------------------------------------------------ the virtual server

    def locate_virtual_run(self, workflow: Doc | None, run_id: str | None) -> str:
        """The blob's run (VS-4): pass the result to `virtual_start` / `virtual_respond`."""
        return virtual.locate_virtual_run(self.ctx, workflow, run_id)

    def virtual_prepare(self, workflow: Doc, run_id: str, capabilities: list[str]) -> None:
        virtual.virtual_prepare(self.ctx, workflow, run_id, capabilities)

    def virtual_start(self, *, workflow: Doc, has_blob: bool, run_id: str | None,
                      target: Target, capabilities: list[str],
                      opts: ExecOptions) -> WorkflowResponse:
        """`run_id` is a located run (`locate_virtual_run`); with a blob but no id the blob's
        single run is located here."""
        if has_blob and run_id is None:
            run_id = self.locate_virtual_run(workflow, None)
        return virtual.virtual_start(self.ctx, workflow=workflow,
                                     run_id=run_id if has_blob else None, target=target,
                                     capabilities=capabilities, opts=opts)

    def virtual_respond(self, *, workflow: Doc, run_id: str | None, interaction_id: str,
                        response: InteractionResponseData, target: Target,
                        capabilities: list[str], opts: ExecOptions) -> WorkflowResponse:
        """`run_id` is a located run (`locate_virtual_run`); None locates the blob's run."""
        located = run_id if run_id is not None else self.locate_virtual_run(workflow, None)
        return virtual.virtual_respond(self.ctx, workflow=workflow, run_id=located,
                                       interaction_id=interaction_id, response=response,
                                       target=target, capabilities=capabilities, opts=opts)

    # ------------------------------------------------------------------ sub-actions

    def run_sub_action(self, user_id: str, run_id: str, interaction_id: str, sub_action_id: str,
                       params: Doc, emit: Emit,
                       opts: ExecOptions | None = None) -> SubActionOutcome:
        return sub_actions.run_sub_action(self.ctx, user_id, run_id, interaction_id,
                                          sub_action_id, params or {}, emit, opts or ExecOptions())

    def check_sub_action(self, user_id: str, run_id: str, interaction_id: str,
                         sub_action_id: str) -> SubActionInfo:
        """Read-only pre-check (SSE-4); tells a server whether it is a self or target sub-action."""
        return sub_actions.check_sub_action(self.ctx, user_id, run_id, interaction_id,
                                            sub_action_id)

    def close_lost_sub_action(self, user_id: str, run_id: str, interaction_id: str,
                              sub_action_id: str, execution_id: str | None,
                              exclude: Collection[str] = ()) -> list[str]:
        """The `sub_action_failed` a lost worker never wrote (engine/sub_action_close.py)."""
        return sub_action_close.close_lost_sub_action(self.ctx, user_id, run_id, interaction_id,
                                                      sub_action_id, execution_id, exclude)

    # ------------------------------------------------------------------ views

    def get_state_view(self, user_id: str, run_id: str, link_base: str | None = None) -> StateView:
        return views.state_view(self.ctx, user_id, run_id, link_base)

    def get_editor_state(self, user_id: str, run_id: str) -> Doc:
        """The flat state with `_state_mapped` per module (engine/state_tree.py)."""
        return views.editor_state(self.ctx, user_id, run_id)

    def get_interaction_history(self, user_id: str, run_id: str) -> InteractionHistoryView:
        return views.interaction_history(self.ctx, user_id, run_id)

    def get_interaction_data(self, user_id: str, run_id: str,
                             interaction_id: str) -> InteractionDataView:
        return views.interaction_data(self.ctx, user_id, run_id, interaction_id)

    def get_status(self, user_id: str, run_id: str) -> RunStatusView:
        return views.run_status_view(self.ctx, user_id, run_id)

    def list_events(self, user_id: str, run_id: str,
                    filters: EventFilters | None = None) -> EventsView:
        return views.events_view(self.ctx, user_id, run_id, filters)

    def list_generations(self, user_id: str, run_id: str, interaction_id: str,
                         content_type: str) -> GenerationsView:
        return views.generations_view(self.ctx, user_id, run_id, interaction_id, content_type)

    def run_summary(self, user_id: str, run_id: str, with_tokens: bool = False) -> RunSummary:
        """Projection, rendered `status_display` and token totals of one run."""
        return status_display.run_summary(self.ctx, user_id, run_id, with_tokens)

    def run_summaries(self, user_id: str, run_ids: list[str]) -> list[RunSummary]:
        """Summaries of a page of runs in one pool operation (deleted runs are left out)."""
        return status_display.run_summaries(self.ctx, user_id, run_ids)

    def media_preview(self, user_id: str, run_id: str | None, provider: str, action_type: str,
                      params: Doc, credentials: dict[str, str],
                      mock: bool = False) -> PreviewInfo:
        return media_views.media_preview(self.ctx, user_id, run_id, provider, action_type,
                                         params, credentials, mock)
