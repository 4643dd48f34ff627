"""Answering the pending interaction (engine.md §9.2), and answering it again (§18.1, ENG-50).

An answer to an interaction that is no longer pending is a replay when the same response was
accepted before (the stored outcome is returned, or the interrupted first attempt is finished),
and a conflict otherwise. Nothing that rejects an answer writes anything (ENG-5).
"""

from __future__ import annotations

from typing import Any

import msgspec

from engine.answers import is_pending, persist_and_act, prepare, response_hash
from engine.context import EngineContext
from engine.driver import drive
from engine.errors import (
    InteractionAlreadyAnswered,
    InteractionNotFound,
    InteractionNotPending,
)
from engine.execution import Runner
from engine.navigation import approach_target
from engine.operation import Outcome, run_operation
from engine.outcomes import ExecOptions, Stop
from engine.session import PendingAnswer
from engine.wire import InteractionResponseData, WorkflowResponse

Doc = dict[str, Any]


def respond(ctx: EngineContext, user_id: str, run_id: str, interaction_id: str,
            response: InteractionResponseData, opts: ExecOptions | None = None) -> WorkflowResponse:
    opts = opts or ExecOptions()
    target = opts.target

    def body(runner: Runner) -> Outcome:
        if not is_pending(runner, interaction_id):
            return replay_or_conflict(runner, interaction_id, response)
        index = runner.s.index
        target_ref = None
        if target is not None:
            target_ref = index.require_target(target.step_id, target.module_name)
        prepared = prepare(runner, interaction_id, response)
        if isinstance(prepared, Stop):
            return prepared
        runner.adopt_ai_config()  # only an accepted answer changes the run's config (ENG-5)
        stop = persist_and_act(runner, prepared, auto=False)
        if stop is not None:
            return stop
        if target_ref is not None and runner.target_done is None \
                and not approach_target(runner, target_ref):
            return Stop("awaiting", target_ref, interaction_id=runner.s.cursor.interaction_id)
        return drive(runner)

    return run_operation(ctx, user_id, run_id, opts, body, adopt_ai_config=False)


def is_replay(ctx: EngineContext, run_id: str, interaction_id: str,
              response: InteractionResponseData) -> bool:
    """True when this very answer was accepted before and its outcome stored (§18.1)."""
    digest = response_hash(response)
    return any(a.get("response_hash") == digest and a.get("outcome") is not None
               for a in ctx.store.find_answers(run_id, interaction_id))


def replay_or_conflict(runner: Runner, interaction_id: str,
                       response: InteractionResponseData) -> Outcome:
    """Idempotent replay and conflicts for a non-pending interaction (§18.1, ENG-50)."""
    s, store = runner.s, runner.ctx.store
    digest = response_hash(response)
    answers = store.find_answers(s.run_id, interaction_id)
    same = [a for a in answers if a.get("response_hash") == digest]
    if same:
        stored = [a for a in same if a.get("outcome") is not None]
        if stored:
            return msgspec.convert(stored[-1]["outcome"], WorkflowResponse)
        return _complete_interrupted(runner, same[-1])
    if answers:
        raise InteractionAlreadyAnswered("Interaction was already answered with a different response",
                                         details={"interaction_id": interaction_id})
    requests = store.find_interaction_requests(s.run_id, interaction_id)
    event = s.response_event(interaction_id) or _stored_response(runner, requests, interaction_id)
    if event is not None:
        if event["data"].get("response_hash") != digest:
            raise InteractionAlreadyAnswered("Interaction was already answered with a different response",
                                             details={"interaction_id": interaction_id})
        record = {"interaction_id": interaction_id, "branch_id": event["branch_id"],
                  "missing": True, "event": event}
        return _complete_interrupted(runner, record)
    if requests:
        raise InteractionNotPending("Interaction is not pending",
                                    details={"interaction_id": interaction_id})
    raise InteractionNotFound("Interaction not found", details={"interaction_id": interaction_id})


def _stored_response(runner: Runner, requests: list[Doc], interaction_id: str) -> Doc | None:
    """An `interaction_response` for X on any branch: it stands in for an answer record
    that a crash prevented, even after a resumed jump cut it out of the lineage (§18.1)."""
    if not requests:
        return None
    docs, _total = runner.ctx.store.find_events(runner.s.run_id, None, "interaction_response",
                                                requests[0].get("module_name"), None, 100_000)
    found = [d for d in docs if (d.get("data") or {}).get("interaction_id") == interaction_id]
    return found[-1] if found else None


def _complete_interrupted(runner: Runner, record: Doc) -> Stop:
    """The first attempt wrote its response but no outcome: finish it (its outcome is stored
    by the operation's `finish`)."""
    if record.get("missing"):
        event = record["event"]
        now = runner.ctx.clock.now()
        runner.ctx.store.insert_answer({
            "workflow_run_id": runner.s.run_id, "interaction_id": record["interaction_id"],
            "branch_id": event["branch_id"], "response_hash": event["data"]["response_hash"],
            "sequence": event["sequence"], "outcome": None, "created_at": now,
            "updated_at": now})
    runner.s.answers.append(PendingAnswer(str(record["interaction_id"]), str(record["branch_id"])))
    return drive(runner)
