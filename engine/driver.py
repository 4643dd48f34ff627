"""The loop of engine.md §8: execute forward from the cursor until something stops the run.

The driver never answers an interaction itself: at a pending interaction that is not the target
it calls the runner's `on_pending` hook (auto-respond, installed by the operation runner), and
only a `response_received` cursor left by a crash sends it to the answer handling (§7.2).
"""

from __future__ import annotations

import engine.cursor as cur
from engine.answers import finish_interrupted_response
from engine.execution import Runner
from engine.outcomes import Stop


def drive(runner: Runner) -> Stop:
    s, index = runner.s, runner.s.index
    while True:
        c = s.cursor
        phase = c.phase
        if phase == cur.COMPLETED:
            if runner.target_done is not None:
                return Stop("target_completed", runner.target_done)
            return Stop("workflow_completed")
        if phase == cur.AWAITING:
            ref = index.require_position(c.step_id, c.module_name)
            if runner.is_target(ref) or runner.on_pending is None:
                return Stop("awaiting", ref, interaction_id=c.interaction_id)
            outcome = runner.on_pending(runner, ref, c.interaction_id or "")
            if outcome is not None:
                return outcome
            continue
        if phase == cur.RESPONSE:
            stop = finish_interrupted_response(runner)
            if stop is not None:
                return stop
            continue
        if phase == cur.AFTER_MODULE:
            ref = index.require_position(c.step_id, c.module_name)
            mods = index.step_modules(ref.step_id)
            if ref.module_index == len(mods) - 1:
                s.append("step_completed", ref.step_id, None, {"step_index": ref.step_index})
                continue
            if runner.target_done is not None:
                return Stop("target_completed", runner.target_done)
            stop = runner.run_module(mods[ref.module_index + 1])
        elif phase == cur.AFTER_STEP:
            pos = index.step_pos.get(c.step_id or "")
            if pos is None:
                index.require_position(c.step_id, None)
                raise AssertionError("unreachable")
            if pos == index.total_steps - 1:
                s.append("workflow_completed", None, None, {})
                continue
            if runner.target_done is not None:
                return Stop("target_completed", runner.target_done)
            stop = runner.enter_step(pos + 1)
        elif phase == cur.START:
            if index.total_steps == 0:
                s.append("workflow_completed", None, None, {})
                continue
            stop = runner.enter_step(0)
        else:  # BEFORE, RUNNING, FAILED: (re-)execute the cursor module
            ref = index.require_position(c.step_id, c.module_name)
            stop = runner.run_module(ref)
        if stop is not None:
            return stop
