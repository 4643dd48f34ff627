"""`LocalRun`: one workflow run in this process on the embedded (in-memory) store.

The same engine operations the virtual server runs, on the same store class and as the same
virtual user, so a run saved with `blob()` is a `virtual_db` the virtual server (and an editor)
can continue, and a blob from the server can be inspected here. No terminal code lives here:
the command line drives it and the tests drive it directly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from db.blob import compress
from db.fast_store import FastVirtualStore
from db.pipeline_eval import MongomockPipelineEvaluator
from engine import (
    SHARED_FIELDS,
    VIRTUAL_PROJECT,
    VIRTUAL_USER,
    ExecOptions,
    InteractionRequest,
    InteractionResponseData,
    MonotonicIds,
    ProgressEvent,
    SharedSettings,
    SubActionEvent,
    SubActionOutcome,
    SystemClock,
    Target,
    WorkflowEngine,
    WorkflowResponse,
    build,
    default_registry,
    read_fields,
    validate_workflow,
)
from providers.credentials import build_credentials
from providers.provider_set import configured_provider_set

ProgressSink = Callable[[ProgressEvent], None]


def settings_from(env: Mapping[str, str]) -> SharedSettings:
    """The shared settings (limits, provider keys and base URLs) from the environment."""
    settings: SharedSettings = build(SharedSettings, read_fields(env, SHARED_FIELDS))
    return settings


@dataclass
class RunOptions:
    mock: bool = False
    target: Target | None = None
    ai_config: dict[str, Any] | None = None


class LocalRun:
    """Start a run of `workflow`, answer its interactions, run sub-actions, export the blob."""

    def __init__(self, workflow: dict[str, Any], options: RunOptions,
                 env: Mapping[str, str] | None = None, progress: ProgressSink | None = None,
                 providers: Any = None) -> None:
        self.workflow = workflow
        self.options = options
        self.progress = progress
        self.settings = settings_from(os.environ if env is None else env)
        engine_settings = self.settings.engine_settings()
        self.clock = SystemClock()
        self.store = FastVirtualStore.fresh(self.clock.now())
        self.engine = WorkflowEngine(
            store=self.store,
            providers=providers or configured_provider_set(
                self.settings.provider_urls, engine_settings, self.settings.media_poll_interval_s),
            registry=default_registry(), pipeline=MongomockPipelineEvaluator(), clock=self.clock,
            ids=MonotonicIds(), settings=engine_settings, mode="virtual")
        self.run_id = ""

    def _opts(self) -> ExecOptions:
        o = self.options
        return ExecOptions(mock=o.mock, ai_config=o.ai_config, target=o.target,
                           progress=self.progress,
                           credentials=build_credentials(self.settings.provider_keys, o.ai_config))

    def start(self) -> WorkflowResponse:
        """Validate (raises `ExecutionError` `workflow_invalid`), create the run, run forward."""
        eng, o = self.engine, self.options
        validate_workflow(self.workflow, eng.settings)
        if o.target is not None:
            from engine import WorkflowIndex

            WorkflowIndex(self.workflow).require_target(o.target.step_id, o.target.module_name)
        stored = eng.store_workflow(VIRTUAL_USER, self.workflow, "json")
        self.run_id = eng.create_run(
            user_id=VIRTUAL_USER, project_name=VIRTUAL_PROJECT, stored=stored,
            workflow_name=str(self.workflow["workflow_id"]), capabilities=[], mock=o.mock,
            ai_config=o.ai_config, run_prefix="virtual_")
        if o.target is not None:
            return eng.run_to_target(VIRTUAL_USER, self.run_id, o.target, self._opts())
        return eng.continue_run(VIRTUAL_USER, self.run_id, self._opts())

    def respond(self, interaction_id: str, response: InteractionResponseData) -> WorkflowResponse:
        return self.engine.respond(VIRTUAL_USER, self.run_id, interaction_id, response,
                                   self._opts())

    def sub_action(self, interaction_id: str, sub_action_id: str, params: dict[str, Any],
                   emit: Callable[[SubActionEvent], None] | None = None) -> SubActionOutcome:
        outcome: SubActionOutcome = self.engine.run_sub_action(
            VIRTUAL_USER, self.run_id, interaction_id, sub_action_id, params,
            emit or (lambda _event: None), self._opts())
        return outcome

    def pending(self) -> InteractionRequest | None:
        """The pending interaction as it is now (a sub-action may have refreshed it)."""
        return self.engine.get_status(VIRTUAL_USER, self.run_id).interaction_request

    def state(self) -> dict[str, Any]:
        return dict(self.engine.get_state_view(VIRTUAL_USER, self.run_id).state)

    def blob(self, gzip_level: int = 4) -> str:
        """The run as a `virtual_db` blob (the virtual server's format, storage.md §5)."""
        return compress(self.store.to_json(), gzip_level)
