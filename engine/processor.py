"""`WorkflowEngine`: the single entry point both servers call (engine.md §2.1).

Operations are synchronous and run on engine-pool threads. Each executing operation takes the
run's lock, loads a `RunSession`, drives a `Runner` and rewrites the run projection (ENG-9).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator, Literal

import msgspec

from engine.answers import is_pending, persist_and_act, prepare, response_hash
from engine.errors import (
    EngineError,
    InteractionAlreadyAnswered,
    InteractionNotFound,
    InteractionNotPending,
    InvalidTarget,
    MockNotAllowed,
    NotFound,
)
from engine.execution import ExecOptions, Runner, Stop, arm_deadline
from engine.guard import run_guarded
from engine.llm_call import LLMHelper
from engine.modules.registry import ModuleRegistry
from engine.navigation import default_retry_feedback, repair_interrupted_fork
from engine.oplog import OPERATIONS, log_operations
from engine.navigation import approach_target, do_jump, do_retry, check_retry_scope, jump_scope_ok, \
    jump_to_interaction as fork_to_interaction
from engine.ports import Clock, IdGenerator, PipelineEvaluator, ProviderSet, Store
from engine.progress import build_progress, error_response, run_projection
from engine.responses import response_for_stop
from engine.runs import new_run_documents, select_version, store_workflow, strip_keys, \
    version_history_row
from engine.session import RunSession
from engine.settings import EngineSettings
from engine.templating import TemplateEngine
from engine.versions import version_diff
from engine.web_ops import WebOperations
from engine import views
from engine.provider_types import PreviewInfo
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
    Target,
    WorkflowResponse,
)
from engine.workflow_index import WorkflowIndex, index_for

if TYPE_CHECKING:
    from engine.sub_actions import SubActionInfo

PROJECTION_KEYS = ("status", "current_step", "current_step_name", "current_module",
                   "completed_steps", "error_type", "error_message", "completed_at")


@dataclass
class StartCommand:
    """Production start (engine.md §15.2)."""

    user_id: str
    project_name: str
    workflow: dict[str, Any]
    source_type: str = "json"
    capabilities: list[str] = field(default_factory=list)
    force_new: bool = False
    confirm: bool = False
    ai_config: dict[str, Any] | None = None
    mock: bool = False
    allow_mock: bool = True
    options: ExecOptions = field(default_factory=ExecOptions)


class RunLocks:
    """Per-run locks serialising operations on one run within a process (ENG-34)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, list[Any]] = {}

    @contextmanager
    def hold(self, run_id: str) -> Iterator[None]:
        with self._guard:
            entry = self._locks.setdefault(run_id, [threading.Lock(), 0])
            entry[1] += 1
        try:
            with entry[0]:
                yield
        finally:
            with self._guard:
                entry[1] -= 1
                if entry[1] == 0:
                    self._locks.pop(run_id, None)


@log_operations(*OPERATIONS)  # one log line per operation (engine/oplog.py)
class WorkflowEngine(WebOperations):
    def __init__(self, store: Store, providers: ProviderSet, registry: ModuleRegistry,
                 pipeline: PipelineEvaluator, clock: Clock, ids: IdGenerator,
                 settings: EngineSettings, mode: Literal["production", "virtual"]) -> None:
        self.store = store
        self.providers = providers
        self.registry = registry
        self.pipeline = pipeline
        self.clock = clock
        self.ids = ids
        self.settings = settings
        self.mode = mode
        self.templates = TemplateEngine(settings)
        self.llm = LLMHelper()
        self.locks = RunLocks()
        self.media_base_path = settings.media_base_path

    # ------------------------------------------------------------------ sessions

    def load(self, user_id: str, run_id: str, mock: bool | None = None) -> RunSession:
        run = self.store.get_run(run_id)
        if run is None or run.get("user_id") != user_id:
            raise NotFound("Workflow run not found", details={"workflow_run_id": run_id})
        branch = self.store.get_branch(str(run["current_branch_id"]))
        if branch is None:
            raise NotFound("Workflow run branch not found", details={"workflow_run_id": run_id})
        events = self.store.lineage_events(run_id, list(branch["lineage"]))
        version = self.store.get_version(str(run["current_workflow_version_id"]))
        if version is None:
            raise NotFound("Workflow version not found", details={"workflow_run_id": run_id})
        index = index_for(str(version["workflow_version_id"]), version["resolved_workflow"])
        effective_mock = bool(run.get("mock")) if (mock is None or self.mode == "production") else mock
        session = RunSession(store=self.store, clock=self.clock, ids=self.ids, run=run,
                             branch=branch, events=events, version=version, index=index,
                             next_sequence=self.store.max_sequence(run_id) + 1,
                             mock=effective_mock)
        repair_interrupted_fork(session, self.clock)
        return session

    def _runner(self, session: RunSession, opts: ExecOptions) -> Runner:
        runner = Runner(self, session, opts)
        self._store_ai_config(runner)
        return runner

    @staticmethod
    def _store_ai_config(runner: Runner) -> None:
        """Adopt the call's AI config without keys (ENG-10); `finish` writes it after the
        operation's events, so the first write stays an event insert (ENG-6)."""
        if runner.opts.ai_config is None:
            return
        cleaned = strip_keys(runner.opts.ai_config)
        runner.ai_config = dict(cleaned)
        if cleaned != runner.s.run.get("ai_config"):
            runner.new_ai_config = cleaned

    def finish(self, runner: Runner, stop: Stop) -> WorkflowResponse:
        """Rewrite the projection, record answer outcomes and build the response."""
        s = runner.s
        response = response_for_stop(runner, stop)
        projection = run_projection(s.index, s.cursor, s.events, self.clock.now())
        changed = any(s.run.get(k) != projection[k] for k in PROJECTION_KEYS)
        if runner.new_ai_config is not None:
            projection["ai_config"] = runner.new_ai_config
            changed = True
        # A refused operation (bad target, position missing from the version, cancelled before
        # any module) writes nothing at all, not even the projection (ENG-5, ENG-21, ENG-48).
        refused = s.writes == 0 and stop.kind in ("error", "cancelled")
        if not refused and (s.writes or changed):
            self.store.update_run(s.run_id, projection)
            s.run.update(projection)
        if s.answers:
            outcome = msgspec.to_builtins(response)
            now = self.clock.now()
            for answer in s.answers:
                self.store.set_answer_outcome(s.run_id, answer.interaction_id, answer.branch_id,
                                              outcome, now)
        return response

    def _execute(self, user_id: str, run_id: str, opts: ExecOptions, body: Any) -> WorkflowResponse:
        arm_deadline(opts, self.settings.operation_deadline_s)
        with self.locks.hold(run_id):
            session = self.load(user_id, run_id, opts.mock)
            runner = self._runner(session, opts)
            return self.finish(runner, run_guarded(runner, body))

    # ------------------------------------------------------------------ execution operations

    def continue_run(self, user_id: str, run_id: str, opts: ExecOptions | None = None) -> WorkflowResponse:
        return self._execute(user_id, run_id, opts or ExecOptions(), lambda r: r.drive())

    def run_to_target(self, user_id: str, run_id: str, target: Target,
                      opts: ExecOptions | None = None) -> WorkflowResponse:
        opts = opts or ExecOptions()
        opts.target = target

        def body(runner: Runner) -> Stop:
            ref = runner.s.index.require_target(target.step_id, target.module_name)
            if not approach_target(runner, ref):
                return Stop("awaiting", ref, interaction_id=runner.s.cursor.interaction_id)
            return runner.drive()

        return self._execute(user_id, run_id, opts, body)

    def respond(self, user_id: str, run_id: str, interaction_id: str,
                response: InteractionResponseData, opts: ExecOptions | None = None) -> WorkflowResponse:
        opts = opts or ExecOptions()
        arm_deadline(opts, self.settings.operation_deadline_s)
        with self.locks.hold(run_id):
            session = self.load(user_id, run_id, opts.mock)
            runner = Runner(self, session, opts)  # ai_config is stored only once accepted (ENG-5)
            if not is_pending(runner, interaction_id):
                replay = self._replay_or_conflict(runner, interaction_id, response)
                return replay

            def body(runner: Runner) -> Stop:
                target_ref = None
                if opts.target is not None:
                    target_ref = session.index.require_target(opts.target.step_id,
                                                              opts.target.module_name)
                prepared = prepare(runner, interaction_id, response)
                if isinstance(prepared, Stop):
                    return prepared
                self._store_ai_config(runner)
                stop = persist_and_act(runner, prepared, auto=False)
                if stop is not None:
                    return stop
                if target_ref is not None and runner.target_done is None \
                        and not approach_target(runner, target_ref):
                    return Stop("awaiting", target_ref,
                                interaction_id=runner.s.cursor.interaction_id)
                return runner.drive()

            return self.finish(runner, run_guarded(runner, body))

    def _replay_or_conflict(self, runner: Runner, interaction_id: str,
                            response: InteractionResponseData) -> WorkflowResponse:
        """Idempotent replay and conflicts for a non-pending interaction (§18.1, ENG-50)."""
        s = runner.s
        digest = response_hash(response)
        answers = self.store.find_answers(s.run_id, interaction_id)
        same = [a for a in answers if a.get("response_hash") == digest]
        if same:
            stored = [a for a in same if a.get("outcome") is not None]
            if stored:
                return msgspec.convert(stored[-1]["outcome"], WorkflowResponse)
            return self._complete_interrupted(runner, same[-1])
        if answers:
            raise InteractionAlreadyAnswered("Interaction was already answered with a different response",
                                             details={"interaction_id": interaction_id})
        requests = self.store.find_interaction_requests(s.run_id, interaction_id)
        event = s.response_event(interaction_id) or self._stored_response(s.run_id, requests,
                                                                          interaction_id)
        if event is not None:
            if event["data"].get("response_hash") != digest:
                raise InteractionAlreadyAnswered("Interaction was already answered with a different response",
                                                 details={"interaction_id": interaction_id})
            record = {"interaction_id": interaction_id, "branch_id": event["branch_id"],
                      "missing": True, "event": event}
            return self._complete_interrupted(runner, record)
        if requests:
            raise InteractionNotPending("Interaction is not pending",
                                        details={"interaction_id": interaction_id})
        raise InteractionNotFound("Interaction not found", details={"interaction_id": interaction_id})

    def _stored_response(self, run_id: str, requests: list[dict[str, Any]],
                         interaction_id: str) -> dict[str, Any] | None:
        """An `interaction_response` for X on any branch: it stands in for an answer record
        that a crash prevented, even after a resumed jump cut it out of the lineage (§18.1)."""
        if not requests:
            return None
        docs, _total = self.store.find_events(run_id, None, "interaction_response",
                                              requests[0].get("module_name"), None, 100_000)
        found = [d for d in docs if (d.get("data") or {}).get("interaction_id") == interaction_id]
        return found[-1] if found else None

    def _complete_interrupted(self, runner: Runner, record: dict[str, Any]) -> WorkflowResponse:
        """The first attempt wrote its response but no outcome: finish it and store it."""
        from engine.session import PendingAnswer

        if record.get("missing"):
            event = record["event"]
            now = self.clock.now()
            self.store.insert_answer({
                "workflow_run_id": runner.s.run_id, "interaction_id": record["interaction_id"],
                "branch_id": event["branch_id"], "response_hash": event["data"]["response_hash"],
                "sequence": event["sequence"], "outcome": None, "created_at": now,
                "updated_at": now})
        runner.s.answers.append(PendingAnswer(str(record["interaction_id"]), str(record["branch_id"])))
        return self.finish(runner, run_guarded(runner, lambda r: r.drive()))

    def retry(self, user_id: str, run_id: str, target_module: str, feedback: str | None,
              opts: ExecOptions | None = None) -> WorkflowResponse:
        def body(runner: Runner) -> Stop:
            s = runner.s
            c = s.cursor
            ref = None
            if c.step_id is not None:
                ref = s.index.find(c.step_id, target_module)
            ref = ref or s.index.by_name(target_module)
            if ref is None:
                raise_module_not_found(target_module)
            check_retry_scope(s, ref)
            text = feedback or default_retry_feedback(s, ref) or ""
            do_retry(runner, ref, text, [], "api", None, None)
            return runner.drive()

        return self._execute(user_id, run_id, opts or ExecOptions(), body)

    def jump(self, user_id: str, run_id: str, target_step: str, target_module: str,
             opts: ExecOptions | None = None) -> WorkflowResponse:
        def body(runner: Runner) -> Stop:
            ref = runner.s.index.require_target(target_step, target_module)
            if not jump_scope_ok(runner.s, ref):
                raise InvalidTarget("Jump target is after the current position",
                                    details={"target_step": target_step,
                                             "target_module": target_module})
            do_jump(runner, ref, "api")
            return runner.drive()

        return self._execute(user_id, run_id, opts or ExecOptions(), body)

    def jump_to_interaction(self, user_id: str, run_id: str, interaction_id: str,
                            opts: ExecOptions | None = None) -> WorkflowResponse:
        def body(runner: Runner) -> Stop:
            s = runner.s
            request = s.request_event(interaction_id)
            if request is None:
                raise InteractionNotFound("Interaction not found",
                                          details={"interaction_id": interaction_id})
            ref = s.index.require_position(request["step_id"], request["module_name"])
            if not is_pending(runner, interaction_id):
                answered = s.response_event(interaction_id)
                if answered is None:
                    raise InvalidTarget("Interaction was superseded and cannot be reopened",
                                        details={"interaction_id": interaction_id})
                fork_to_interaction(runner, request, answered)
            return Stop("awaiting", ref, interaction_id=interaction_id)

        return self._execute(user_id, run_id, opts or ExecOptions(), body)

    # ------------------------------------------------------------------ runs and versions

    def store_workflow(self, user_id: str, workflow: dict[str, Any], source_type: str) -> StoredWorkflow:
        return store_workflow(self, user_id, workflow, source_type)

    def create_run(self, *, user_id: str, project_name: str, stored: StoredWorkflow,
                   workflow_name: str, capabilities: list[str], mock: bool,
                   ai_config: dict[str, Any] | None, run_prefix: str) -> str:
        """Create a run on the selected variant: event first, then branch, run, history."""
        version = select_version(self, stored.source_version_id, capabilities)
        run_id = self.ids.new_id(run_prefix)
        run, branch, created = new_run_documents(
            self, run_id=run_id, user_id=user_id, project_name=project_name,
            template_id=stored.template_id, template_name=workflow_name, version=version,
            mock=mock, ai_config=ai_config)
        self.store.append_event({
            "event_id": self.ids.new_id("evt_"), "workflow_run_id": run_id,
            "branch_id": branch["branch_id"], "sequence": 1,
            "workflow_version_id": version["workflow_version_id"],
            "event_type": "workflow_created", "timestamp": self.clock.now(),
            "provenance": "mock" if mock else "live", "step_id": None, "module_name": None,
            "data": created})
        self.store.insert_branch(branch)
        self.store.insert_run(run)
        self.store.insert_version_history(version_history_row(
            self, run_id, version, stored.source_version_id, capabilities))
        return run_id

    def point_run_at_version(self, user_id: str, run_id: str, source_version_id: str,
                             capabilities: list[str]) -> bool:
        """Select the variant for the run and switch to it when it differs (§15.3, ENG-42)."""
        run = self.store.get_run(run_id)
        if run is None or run.get("user_id") != user_id:
            raise NotFound("Workflow run not found", details={"workflow_run_id": run_id})
        version = select_version(self, source_version_id, capabilities)
        if version["workflow_version_id"] == run.get("current_workflow_version_id"):
            return False
        with self.locks.hold(run_id):
            self.store.update_run(run_id, {"current_workflow_version_id": version["workflow_version_id"],
                                           "updated_at": self.clock.now()})
            self.store.insert_version_history(version_history_row(
                self, run_id, version, source_version_id, capabilities))
        return True

    def start(self, cmd: StartCommand) -> WorkflowResponse:
        from engine.starts import production_start

        return production_start(self, cmd)

    # ---- virtual server entry points (wire-api.md §5): locate the run in the blob's store,
    # store the submitted workflow, point the run at it, then run to the target.

    def virtual_start(self, *, workflow: dict[str, Any], has_blob: bool, run_id: str | None,
                      target: Target, capabilities: list[str],
                      opts: ExecOptions) -> WorkflowResponse:
        from engine.starts import virtual_start

        return virtual_start(self, workflow=workflow, has_blob=has_blob, run_id=run_id,
                             target=target, capabilities=capabilities, opts=opts)

    def virtual_respond(self, *, workflow: dict[str, Any], run_id: str | None, interaction_id: str,
                        response: InteractionResponseData, target: Target,
                        capabilities: list[str], opts: ExecOptions) -> WorkflowResponse:
        from engine.starts import virtual_respond

        return virtual_respond(self, workflow=workflow, run_id=run_id,
                               interaction_id=interaction_id, response=response, target=target,
                               capabilities=capabilities, opts=opts)

    def locate_virtual_run(self, workflow: dict[str, Any] | None, run_id: str | None) -> str:
        from engine.starts import locate_virtual_run

        return locate_virtual_run(self, workflow, run_id)

    def reset(self, user_id: str, run_id: str) -> WorkflowResponse:
        from engine.starts import reset_run

        return reset_run(self, user_id, run_id)

    def delete(self, user_id: str, run_id: str) -> None:
        run = self.store.get_run(run_id)
        if run is None or run.get("user_id") != user_id:
            raise NotFound("Workflow run not found", details={"workflow_run_id": run_id})
        with self.locks.hold(run_id):
            self.store.delete_run_cascade(run_id)

    def resume_status(self, user_id: str, run_id: str,
                      ai_config: dict[str, Any] | None = None) -> WorkflowResponse:
        from engine.starts import resume_status

        return resume_status(self, user_id, run_id, ai_config)

    # ------------------------------------------------------------------ sub-actions and views

    def run_sub_action(self, user_id: str, run_id: str, interaction_id: str, sub_action_id: str,
                       params: dict[str, Any], emit: Any, opts: ExecOptions | None = None) -> Any:
        from engine.sub_actions import run_sub_action

        return run_sub_action(self, user_id, run_id, interaction_id, sub_action_id, params or {},
                              emit, opts or ExecOptions())

    def check_sub_action(self, user_id: str, run_id: str, interaction_id: str,
                         sub_action_id: str) -> "SubActionInfo":
        """Read-only pre-check (SSE-4); tells a server whether it is a self or target sub-action."""
        from engine.sub_actions import check_sub_action

        return check_sub_action(self, user_id, run_id, interaction_id, sub_action_id)

    def get_state_view(self, user_id: str, run_id: str, link_base: str | None = None) -> StateView:
        return views.state_view(self, user_id, run_id, link_base)

    def get_editor_state(self, user_id: str, run_id: str) -> dict[str, Any]:
        """The flat state with `_state_mapped` per module (engine/state_tree.py)."""
        return views.editor_state(self, user_id, run_id)

    def get_interaction_history(self, user_id: str, run_id: str) -> InteractionHistoryView:
        return views.interaction_history(self, user_id, run_id)

    def get_interaction_data(self, user_id: str, run_id: str, interaction_id: str) -> InteractionDataView:
        return views.interaction_data(self, user_id, run_id, interaction_id)

    def get_status(self, user_id: str, run_id: str) -> RunStatusView:
        return views.run_status_view(self, user_id, run_id)

    def list_events(self, user_id: str, run_id: str, filters: EventFilters | None = None) -> EventsView:
        return views.events_view(self, user_id, run_id, filters)

    def list_generations(self, user_id: str, run_id: str, interaction_id: str,
                         content_type: str) -> GenerationsView:
        return views.generations_view(self, user_id, run_id, interaction_id, content_type)

    def media_preview(self, user_id: str, run_id: str | None, provider: str, action_type: str,
                      params: dict[str, Any], credentials: dict[str, str],
                      mock: bool = False) -> PreviewInfo:
        from engine.media_views import media_preview

        return media_preview(self, user_id, run_id, provider, action_type, params, credentials,
                             mock)


def raise_module_not_found(name: str) -> None:
    from engine.errors import ModuleNotFound

    raise ModuleNotFound(f"Module '{name}' not found", details={"module_name": name})


__all__ = ["ExecOptions", "StartCommand", "WorkflowEngine", "EngineError", "MockNotAllowed",
           "build_progress", "error_response", "version_diff", "WorkflowIndex"]
