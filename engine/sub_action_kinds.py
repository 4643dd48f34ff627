"""The two kinds of sub-action (engine.md §13.2, §13.3): a self sub-action calls the interactive
module's own routine; a target sub-action runs resolved module configs in a child run with one
synthetic step, seeded with the parent's state."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from engine.context import EngineContext
from engine.driver import drive
from engine.errors import EngineError, UnsupportedModuleType
from engine.modules.base import InteractiveModule, SubActionContext
from engine.operation import finish, new_runner, run_guarded
from engine.outcomes import ExecOptions, ModuleCancelled, Stop
from engine.progress import request_from_event
from engine.runs import NewRun, new_run_documents
from engine.session import RunSession, flat_state
from engine.wire import ProgressEvent
from engine.workflow_index import ModuleRef, WorkflowIndex

Doc = dict[str, Any]
SubActionKind = Literal["self", "target"]


@dataclass
class SubActionCall:
    """One execution of a sub-action: what was asked, and what the run said about it."""

    ctx: EngineContext
    user_id: str
    run_id: str
    interaction_id: str
    sub_action_id: str
    params: Doc
    opts: ExecOptions
    ref: ModuleRef | None = None
    config: Doc = field(default_factory=dict)
    kind: SubActionKind = "target"
    execution_id: str = ""
    child_run_id: str | None = None

    @property
    def secrets(self) -> list[str]:
        return [v for v in self.opts.credentials.values() if v]

    def actions(self) -> list[Doc]:
        return [a for a in self.config.get("actions") or [] if isinstance(a, dict)]


def kind_of(actions: list[Doc]) -> SubActionKind:
    return "self" if actions and actions[0].get("type") == "self_sub_action" else "target"


def requesting_module_id(s: RunSession, interaction_id: str, ref: ModuleRef) -> str:
    """The interactive module that asked for `interaction_id` (its request event says which)."""
    event = s.request_event(interaction_id) or s.latest_request_event(interaction_id) or {}
    return str((event.get("data") or {}).get("module_id") or ref.module_id)


def run_self(call: SubActionCall, s: RunSession, request_event: Doc, mock: bool,
             report: Callable[[Doc], None]) -> Any:
    ctx, ref, data = call.ctx, call.ref, request_event["data"]
    assert ref is not None
    module_id = requesting_module_id(s, str(data["interaction_id"]), ref)
    module = ctx.registry.get(module_id)
    routine = getattr(module, "sub_action", None)
    if routine is None:
        raise UnsupportedModuleType(f"Module '{module_id}' has no sub-action routine")
    actions = call.actions()
    merged = dict(actions[0].get("params") or {})
    merged.update(call.params)
    context = SubActionContext(
        workflow_run_id=s.run_id, execution_id=call.execution_id,
        interaction_id=str(data["interaction_id"]), step_id=ref.step_id,
        module_name=ref.module_name, request=request_from_event(request_event),
        resolved_inputs=copy.deepcopy(data.get("resolved_inputs") or {}),
        module_state=copy.deepcopy(data.get("module_state") or {}), params=merged, mock=mock,
        credentials=dict(call.opts.credentials), providers=ctx.providers.for_call(mock),
        store=ctx.store, clock=ctx.clock, new_id=ctx.ids.new_id, cancel=call.opts.cancel,
        media_base_path=ctx.settings.media_base_path, progress_sink=report,
        media_max_bytes=ctx.settings.media_max_bytes,
        media_url_template=ctx.settings.media_url_template)
    return routine(context)


def _deep_merge(base: Any, extra: Any) -> Any:
    if isinstance(base, dict) and isinstance(extra, dict):
        out = dict(base)
        for key, value in extra.items():
            out[key] = _deep_merge(base.get(key), value) if key in base else copy.deepcopy(value)
        return out
    return copy.deepcopy(extra)


def resolve_actions(index: WorkflowIndex, actions: list[Doc]) -> list[Doc]:
    """Turn target actions into module configs (§13.2 step 1)."""
    modules: list[Doc] = []
    for action in actions:
        ref_spec = action.get("ref")
        if isinstance(ref_spec, dict):
            found = index.require_target(str(ref_spec.get("step_id")), str(ref_spec.get("module_name")))
            config = copy.deepcopy(found.config)
            for key in ("module_id", "name", "outputs_to_state"):
                if action.get(key) is not None:
                    config[key] = copy.deepcopy(action[key])
            if isinstance(action.get("inputs"), dict):
                config["inputs"] = _deep_merge(config.get("inputs") or {}, action["inputs"])
            if isinstance(action.get("overrides"), dict):
                config = _deep_merge(config, action["overrides"])
        else:
            config = {k: copy.deepcopy(v) for k, v in action.items() if k not in ("type", "ref")}
        config.setdefault("name", config.get("module_id"))
        modules.append(config)
    return modules


def run_target(call: SubActionCall, parent: RunSession, parent_state: Doc, mock: bool,
               report: Callable[[str], None]) -> tuple[str, Doc]:
    """Run the child run to its end: its id and its flat state."""
    ctx = call.ctx
    modules = resolve_actions(parent.index, call.actions())
    for module_config in modules:
        if module_config.get("module_id") == "pipeline.execution_groups":  # expanded at upload only
            raise UnsupportedModuleType("pipeline.execution_groups cannot run in a sub-action")
        module = ctx.registry.get(str(module_config.get("module_id")))
        if isinstance(module, InteractiveModule):
            raise UnsupportedModuleType(
                f"Interactive module '{module_config.get('module_id')}' cannot run in a sub-action")
    step = {"step_id": "sub_action_" + call.execution_id,
            "name": "Sub-action " + str(call.config.get("id")), "modules": modules}
    workflow = {"workflow_id": parent.index.workflow.get("workflow_id"),
                "config": parent.index.config, "steps": [step]}
    child_id = ctx.ids.new_id("wf_sub_" if ctx.mode == "production" else "virtual_sub_")
    run = parent.run
    child_run, branch, created = new_run_documents(ctx, child_id, NewRun(
        user_id=str(run["user_id"]), project_name=str(run["project_name"]),
        template_id=str(run["workflow_template_id"]),
        template_name=str(run["workflow_template_name"]), version=parent.version, mock=mock,
        ai_config=run.get("ai_config"), parent_run_id=parent.run_id,
        execution_id=call.execution_id))
    child = RunSession(store=ctx.store, clock=ctx.clock, ids=ctx.ids, run=child_run,
                       branch=branch, events=[], version=parent.version,
                       index=WorkflowIndex(workflow), next_sequence=1, mock=mock)
    child.append("workflow_created", None, None, created)
    ctx.store.insert_branch(branch)
    ctx.store.insert_run(child_run)
    seeded = dict(parent_state)
    feedback = call.config.get("feedback") or {}
    params = call.params
    if feedback.get("enabled") and isinstance(params.get("feedback"), str) and params["feedback"]:
        seeded[str(feedback.get("state_key") or "_retry_feedback")] = params["feedback"]
    child.state = seeded

    def sink(event: ProgressEvent) -> None:
        if event.kind == "module_started":
            report(event.message)

    runner = new_runner(ctx, child, ExecOptions(mock=mock, credentials=call.opts.credentials,
                                                cancel=call.opts.cancel, progress=sink),
                        adopt_ai_config=False)
    outcome = run_guarded(runner, drive)
    assert isinstance(outcome, Stop)
    finish(runner, outcome)
    if outcome.kind == "cancelled":
        raise ModuleCancelled()
    if outcome.kind != "workflow_completed":
        raise EngineError(outcome.message or "Sub-action module failed",
                          error_type=outcome.error_type or "execution_failed",
                          details=dict(outcome.details))
    return child_id, flat_state(child.events)
