"""Executing operations that move a run: continue, run to a target, retry, jump, jump to an
interaction (engine.md §8, §10–§12, §14). Each is a body for the operation runner."""

from __future__ import annotations

from engine.context import EngineContext
from engine.driver import drive
from engine.errors import InteractionNotFound, InvalidTarget, ModuleNotFound
from engine.execution import Runner
from engine.navigation import (
    approach_target,
    check_retry_scope,
    default_retry_feedback,
    do_jump,
    do_retry,
    jump_scope_ok,
)
from engine.navigation import (
    jump_to_interaction as fork_to_interaction,
)
from engine.operation import run_operation
from engine.outcomes import ExecOptions, Stop
from engine.wire import Target, WorkflowResponse


def continue_run(ctx: EngineContext, user_id: str, run_id: str,
                 opts: ExecOptions | None = None) -> WorkflowResponse:
    return run_operation(ctx, user_id, run_id, opts or ExecOptions(), drive)


def run_to_target(ctx: EngineContext, user_id: str, run_id: str, target: Target,
                  opts: ExecOptions | None = None) -> WorkflowResponse:
    opts = opts or ExecOptions()
    opts.target = target

    def body(runner: Runner) -> Stop:
        ref = runner.s.index.require_target(target.step_id, target.module_name)
        if not approach_target(runner, ref):
            return Stop("awaiting", ref, interaction_id=runner.s.cursor.interaction_id)
        return drive(runner)

    return run_operation(ctx, user_id, run_id, opts, body)


def retry(ctx: EngineContext, user_id: str, run_id: str, target_module: str,
          feedback: str | None, opts: ExecOptions | None = None) -> WorkflowResponse:
    def body(runner: Runner) -> Stop:
        s = runner.s
        c = s.cursor
        ref = None
        if c.step_id is not None:
            ref = s.index.find(c.step_id, target_module)
        ref = ref or s.index.by_name(target_module)
        if ref is None:
            raise ModuleNotFound(f"Module '{target_module}' not found",
                                 details={"module_name": target_module})
        check_retry_scope(s, ref)
        text = feedback or default_retry_feedback(s, ref) or ""
        do_retry(runner, ref, text, [], "api", None, None)
        return drive(runner)

    return run_operation(ctx, user_id, run_id, opts or ExecOptions(), body)


def jump(ctx: EngineContext, user_id: str, run_id: str, target_step: str, target_module: str,
         opts: ExecOptions | None = None) -> WorkflowResponse:
    def body(runner: Runner) -> Stop:
        ref = runner.s.index.require_target(target_step, target_module)
        if not jump_scope_ok(runner.s, ref):
            raise InvalidTarget("Jump target is after the current position",
                                details={"target_step": target_step,
                                         "target_module": target_module})
        do_jump(runner, ref, "api")
        return drive(runner)

    return run_operation(ctx, user_id, run_id, opts or ExecOptions(), body)


def jump_to_interaction(ctx: EngineContext, user_id: str, run_id: str, interaction_id: str,
                        opts: ExecOptions | None = None) -> WorkflowResponse:
    def body(runner: Runner) -> Stop:
        s = runner.s
        request = s.request_event(interaction_id)
        if request is None:
            raise InteractionNotFound("Interaction not found",
                                      details={"interaction_id": interaction_id})
        ref = s.index.require_position(request["step_id"], request["module_name"])
        if s.pending_interaction_id() != interaction_id:
            answered = s.response_event(interaction_id)
            if answered is None:
                raise InvalidTarget("Interaction was superseded and cannot be reopened",
                                    details={"interaction_id": interaction_id})
            fork_to_interaction(runner, request, answered)
        return Stop("awaiting", ref, interaction_id=interaction_id)

    return run_operation(ctx, user_id, run_id, opts or ExecOptions(), body)
