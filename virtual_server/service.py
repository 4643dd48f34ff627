"""Virtual operations as synchronous functions run inside the engine pool (VS-3, WIRE-5).

Each call builds a fresh store from the request's blob, a `WorkflowEngine` over it (the
registry and pipeline evaluator are built once), runs one engine operation and exports the
blob. Nothing survives the call. Request errors raised by the engine (404/409) are re-raised as
`ApiError`s that know the run id and carry the *input* blob, because the call's writes, if any,
are discarded with the store (VS-5).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

from db.fast_store import StoreCache
from db.pipeline_eval import MongomockPipelineEvaluator
from engine import (
    VIRTUAL_USER,
    CancelToken,
    Clock,
    EngineError,
    EventFilters,
    ExecOptions,
    ExecutionError,
    FoldCache,
    IdGenerator,
    MediaPreviewRequest,
    PreviewInfo,
    SubActionOutcome,
    Target,
    VirtualEventsRequest,
    VirtualGenerationsRequest,
    VirtualReadRequest,
    VirtualRespondRequest,
    VirtualStartRequest,
    VirtualSubActionRequest,
    VirtualWorkflowResponse,
    WorkflowEngine,
    WorkflowResponse,
    auto_respond_config,
    cancelled_frame,
    default_registry,
    error_response,
    sub_action_error_frame,
    sub_action_frame,
    sub_action_progress,
    workflow_cache,
)
from providers.credentials import build_credentials
from virtual_server.blobs import BlobIO, Timings
from virtual_server.errors import ApiError
from virtual_server.settings import VirtualSettings
from virtual_server.shapes import editor_response

log = logging.getLogger("virtual_server")
Frame = tuple[str, dict[str, Any]]


class VirtualService:
    """Everything a request needs that is built once per process."""

    def __init__(self, settings: VirtualSettings, *, clock: Clock, ids: IdGenerator,
                 providers: Any, store_kind: str = "fast") -> None:
        self.settings = settings
        self.clock = clock
        self.ids = ids
        self.providers = providers
        self.registry = default_registry()
        self.pipeline = MongomockPipelineEvaluator()
        self.engine_settings = settings.engine_settings()
        self.workflow_checks = workflow_cache(self.engine_settings)
        s = self.engine_settings
        #: one fold cache for every engine this service builds (they share `ids`)
        self.folds = FoldCache(s.caches, s.cache_max_bytes, s.cache_max_entries)
        self.blobs = BlobIO(settings.blob_limits(), settings.db_gzip_level, store_kind,
                            StoreCache(s.caches, s.cache_max_bytes, s.cache_max_entries))

    # ------------------------------------------------------------------ building blocks

    def engine(self, store: Any) -> WorkflowEngine:
        return WorkflowEngine(store=store, providers=self.providers, registry=self.registry,
                              pipeline=self.pipeline, clock=self.clock, ids=self.ids,
                              settings=self.engine_settings, mode="virtual",
                              folds=self.folds, workflow_checks=self.workflow_checks)

    def options(self, mock: bool, ai_config: dict[str, Any] | None, *, auto_respond: Any = None,
                cancel: CancelToken | None = None, progress: Any = None) -> ExecOptions:
        """VS-2: the run-level config is the request's (keys stripped by the engine) or the default."""
        config = dict(ai_config) if ai_config is not None else dict(self.settings.default_ai_config)
        return ExecOptions(mock=mock, ai_config=config, auto_respond=auto_respond_config(auto_respond),
                           credentials=build_credentials(self.settings.provider_keys, ai_config),
                           cancel=cancel or CancelToken(), progress=progress)

    def locate(self, eng: WorkflowEngine, workflow: dict[str, Any] | None, run_id: str | None,
               blob: str) -> str:
        try:
            return eng.locate_virtual_run(workflow, run_id)
        except EngineError as exc:
            keep = None if exc.error_type == "invalid_virtual_db" else blob
            raise ApiError.from_engine(exc, run_id="", virtual_db=keep) from None

    def state_of(self, eng: WorkflowEngine, run_id: str) -> dict[str, Any] | None:
        """The `state` of a response: the editor's flat state, null when no run is known."""
        if not run_id:
            return None
        try:
            return eng.get_editor_state(VIRTUAL_USER, run_id)
        except EngineError:
            return None

    def finish(self, eng: WorkflowEngine, store: Any, response: WorkflowResponse,
               input_blob: str | None, timings: Timings | None,
               with_state: bool) -> VirtualWorkflowResponse:
        """Export the blob (VS-5) and add the state; the engine logs execution errors at WARNING
        (engine/oplog.py, VS-8)."""
        blob = self.blobs.export(store, input_blob, response.workflow_run_id, timings)
        state = self.state_of(eng, response.workflow_run_id) if with_state else None
        started = time.perf_counter()
        self.blobs.remember(store, blob)
        if timings is not None:
            timings["cache"] = timings.get("cache", 0.0) + time.perf_counter() - started
        return editor_response(response, blob, state)

    def _execute(self, eng: WorkflowEngine, store: Any, run_id: str, blob: str | None,
                 timings: Timings | None, with_state: bool,
                 call: Callable[[], WorkflowResponse]) -> VirtualWorkflowResponse:
        """Run one executing operation; request errors keep the input blob (VS-5).

        An execution error escaping the engine (it should not, ENG-54) is still answered as a
        200 error result, with the input blob since its partial writes are discarded.
        """
        started = time.perf_counter()
        try:
            try:
                response = call()
            except ExecutionError as exc:
                failed = error_response(run_id, exc.error_type, exc.message, dict(exc.details))
                return editor_response(failed, blob, None)
            except EngineError as exc:
                raise ApiError.from_engine(exc, run_id=run_id, virtual_db=blob) from None
            finally:
                if timings is not None:
                    timings["engine"] = timings.get("engine", 0.0) + time.perf_counter() - started
            return self.finish(eng, store, response, blob, timings, with_state)
        finally:
            self.blobs.done(store)

    # ------------------------------------------------------------------ operations

    def start(self, req: VirtualStartRequest, timings: Timings | None = None,
              with_state: bool = True,
              cancel: CancelToken | None = None) -> VirtualWorkflowResponse:
        """`/start`, and `/resume/confirm` (a start on the blob's run, issue 9 item 3)."""
        store = self.blobs.open(req.virtual_db, self.clock.now, timings)
        eng = self.engine(store)
        run_id = None
        if req.virtual_db is not None:
            run_id = self.locate(eng, req.workflow, req.workflow_run_id, req.virtual_db)
        target = Target(step_id=req.target_step_id, module_name=req.target_module_name)
        opts = self.options(req.mock, req.ai_config, auto_respond=req.auto_respond,
                            cancel=cancel)
        return self._execute(eng, store, run_id or "", req.virtual_db, timings, with_state,
                             lambda: eng.virtual_start(
                                 workflow=req.workflow, has_blob=req.virtual_db is not None,
                                 run_id=run_id, target=target,
                                 capabilities=list(req.capabilities), opts=opts))

    def respond(self, req: VirtualRespondRequest, timings: Timings | None = None,
                with_state: bool = True,
                cancel: CancelToken | None = None) -> VirtualWorkflowResponse:
        store = self.blobs.open(req.virtual_db, self.clock.now, timings)
        eng = self.engine(store)
        run_id = self.locate(eng, req.workflow, req.workflow_run_id, req.virtual_db)
        target = Target(step_id=req.target_step_id, module_name=req.target_module_name)
        opts = self.options(req.mock, req.ai_config, auto_respond=req.auto_respond,
                            cancel=cancel)
        return self._execute(eng, store, run_id, req.virtual_db, timings, with_state,
                             lambda: eng.virtual_respond(
                                 workflow=req.workflow, run_id=run_id,
                                 interaction_id=req.interaction_id, response=req.response,
                                 target=target, capabilities=list(req.capabilities), opts=opts))

    def media_preview(self, req: MediaPreviewRequest) -> PreviewInfo:
        """`/media/preview` (issue 9 item 4): no run and no blob; `mock` picks the provider."""
        eng = self.engine(self.blobs.open(None, self.clock.now))
        return eng.media_preview(VIRTUAL_USER, None, req.provider, req.action_type,
                                 dict(req.params), build_credentials(self.settings.provider_keys,
                                                                     req.ai_config), req.mock)

    def read(self, req: VirtualReadRequest | VirtualGenerationsRequest | VirtualEventsRequest,
             view: str) -> Any:
        """`/state`, `/interaction-history`, `/generations`, `/events`: pure reads of the blob."""
        store = self.blobs.open(req.virtual_db, self.clock.now)
        try:
            return self._read(store, req, view)
        finally:
            self.blobs.done(store)

    def _read(self, store: Any,
              req: VirtualReadRequest | VirtualGenerationsRequest | VirtualEventsRequest,
              view: str) -> Any:
        eng = self.engine(store)
        run_id = self.locate(eng, None, req.workflow_run_id, req.virtual_db)
        try:
            if view == "state":
                return eng.get_state_view(VIRTUAL_USER, run_id)
            if view == "history":
                return eng.get_interaction_history(VIRTUAL_USER, run_id)
            if isinstance(req, VirtualEventsRequest):
                return eng.list_events(VIRTUAL_USER, run_id, EventFilters(
                    scope=req.scope, event_type=req.event_type, module_name=req.module_name,
                    after_sequence=req.after_sequence, limit=req.limit))
            assert isinstance(req, VirtualGenerationsRequest)
            return eng.list_generations(VIRTUAL_USER, run_id, req.interaction_id, req.content_type)
        except EngineError as exc:
            raise ApiError.from_engine(exc, run_id=run_id, virtual_db=req.virtual_db) from None


# ---------------------------------------------------------------------- sub-actions (§5.4)

class PreparedSubAction:
    """A sub-action request that passed its pre-stream checks (SSE-4): store, engine, run."""

    def __init__(self, req: VirtualSubActionRequest, store: Any, eng: WorkflowEngine,
                 run_id: str, failure: ExecutionError | None = None) -> None:
        self.req = req
        self.store = store
        self.eng = eng
        self.run_id = run_id
        self.failure = failure  # an execution error found before streaming (stream ends with it)


def prepare_sub_action(svc: VirtualService, req: VirtualSubActionRequest) -> PreparedSubAction:
    """Decode, locate, store an edited workflow, then the 404/409 pending checks."""
    store = svc.blobs.open(req.virtual_db, svc.clock.now)
    eng = svc.engine(store)
    run_id = svc.locate(eng, req.workflow, req.workflow_run_id, req.virtual_db)
    try:
        if req.workflow is not None:
            eng.virtual_prepare(req.workflow, run_id, [])
    except ExecutionError as exc:  # e.g. an invalid edited workflow: the stream reports it
        return PreparedSubAction(req, store, eng, run_id, exc)
    except EngineError as exc:
        raise ApiError.from_engine(exc, run_id=run_id, virtual_db=req.virtual_db) from None
    try:
        eng.check_sub_action(VIRTUAL_USER, run_id, req.interaction_id, req.sub_action_id)
    except ExecutionError:
        pass  # e.g. an unknown sub-action id: the engine's own outcome reports it in the stream
    except EngineError as exc:
        raise ApiError.from_engine(exc, run_id=run_id, virtual_db=req.virtual_db) from None
    return PreparedSubAction(req, store, eng, run_id)


def run_sub_action(svc: VirtualService, p: PreparedSubAction, emit: Callable[[dict[str, Any]], None],
                   cancel: CancelToken) -> Frame:
    """Run the sub-action and build its terminal event (`complete`, `error` or `cancelled`)."""
    try:
        return _run_sub_action(svc, p, emit, cancel)
    finally:
        svc.blobs.done(p.store)


def _run_sub_action(svc: VirtualService, p: PreparedSubAction,
                    emit: Callable[[dict[str, Any]], None], cancel: CancelToken) -> Frame:
    req, eng, run_id = p.req, p.eng, p.run_id
    if p.failure is not None:
        return sub_action_failure(run_id, req.virtual_db, p.failure)
    opts = svc.options(req.mock, req.ai_config, cancel=cancel)
    outcome: SubActionOutcome = eng.run_sub_action(
        VIRTUAL_USER, run_id, req.interaction_id, req.sub_action_id, dict(req.params),
        lambda event: emit(sub_action_progress(run_id, event)), opts)
    event, data = sub_action_frame(run_id, outcome, cancel.reason)
    if outcome.status == "cancelled":
        return event, data
    data["virtual_db"] = svc.blobs.export(p.store, req.virtual_db, run_id)
    if outcome.status == "completed":
        data["state"] = svc.state_of(eng, run_id)
    return event, data


def sub_action_failure(run_id: str, blob: str, exc: BaseException) -> Frame:
    """The terminal `error` event for a failure outside the engine's own outcome."""
    if isinstance(exc, ApiError):
        error_type, message, details = exc.error_type, exc.message, exc.details
    elif isinstance(exc, EngineError):
        error_type, message, details = exc.error_type, exc.message, dict(exc.details)
    else:
        log.exception("sub-action stream failed", exc_info=exc)
        error_type, message, details = "internal_error", "Internal server error", {}
    if error_type == "cancelled":
        return cancelled_frame(run_id, "user_cancelled")
    event, data = sub_action_error_frame(run_id, error_type, message, details)
    data["virtual_db"] = blob
    return event, data
