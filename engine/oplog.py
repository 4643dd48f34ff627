"""One log line per engine operation: run id, operation, outcome, error type, duration.

Both servers (and the `wfe` command line) run every operation through `WorkflowEngine`, so the
line is written there, once, instead of in each route. `log_operations` wraps the public methods
named in `OPERATIONS`; an operation that calls another (a start continues the run, a virtual
start runs to its target) logs only the outer one, tracked per thread because operations run on
engine-pool threads.

Levels: execution errors (a response with `status: "error"`, an escaped `ExecutionError`) and
server-side refusals (HTTP 5xx) are WARNING, anything unexpected is ERROR, the rest INFO. The
fields travel as `record.wfe` too, so the JSON log format (`WFE_LOG_FORMAT=json`) emits them as
keys rather than text.
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
import time
from typing import Any, Callable, TypeVar

from engine.errors import EngineError, ExecutionError
from engine.wire import SubActionOutcome, WorkflowResponse

log = logging.getLogger("wfe.engine")
C = TypeVar("C", bound=type)

#: the public operations of `WorkflowEngine` that get a line each
OPERATIONS: tuple[str, ...] = (
    "start", "continue_run", "run_to_target", "respond", "retry", "jump", "jump_to_interaction",
    "virtual_start", "virtual_respond", "reset", "delete", "resume_status", "resume_with_content",
    "run_sub_action",
    "check_sub_action", "get_state_view", "get_interaction_history", "get_interaction_data",
    "get_status", "list_events", "list_generations", "media_preview")

_nesting = threading.local()


def outcome_of(result: Any) -> tuple[str, str | None, str | None]:
    """(outcome, error type, run id) of a returned value: a response's or a sub-action's status;
    a view (whose `status` is the run's, not the read's) is just `ok`."""
    run_id = getattr(result, "workflow_run_id", None)
    if isinstance(result, WorkflowResponse):
        error_type = (result.result or {}).get("error_type") if result.status == "error" else None
        return result.status, error_type, run_id
    if isinstance(result, SubActionOutcome):
        return result.status, result.error_type if result.status == "error" else None, run_id
    return "ok", None, run_id


def _level(outcome: str, exc: BaseException | None) -> int:
    if exc is not None and not isinstance(exc, EngineError):
        return logging.ERROR
    if isinstance(exc, ExecutionError) and exc.error_type != "cancelled":
        return logging.WARNING
    if isinstance(exc, EngineError) and exc.http_status >= 500:
        return logging.WARNING
    return logging.WARNING if outcome == "error" else logging.INFO


def emit(operation: str, mode: str, run_id: str | None, outcome: str, error_type: str | None,
         started: float, exc: BaseException | None = None) -> None:
    fields = {"operation": operation, "mode": mode, "run_id": run_id or None, "outcome": outcome,
              "error_type": error_type,
              "duration_ms": round((time.perf_counter() - started) * 1000, 1)}
    log.log(_level(outcome, exc), "op=%s run=%s outcome=%s error_type=%s duration_ms=%s mode=%s",
            operation, fields["run_id"] or "-", outcome, error_type or "-",
            fields["duration_ms"], mode, extra={"wfe": fields})


def _exception_outcome(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, EngineError):
        if exc.error_type == "cancelled":
            return "cancelled", "cancelled"
        return ("error" if isinstance(exc, ExecutionError) else "refused"), exc.error_type
    return "failed", type(exc).__name__


def _wrap(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    signature = inspect.signature(fn)
    takes_run_id = "run_id" in signature.parameters

    @functools.wraps(fn)
    def operation(self: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(_nesting, "active", False):
            return fn(self, *args, **kwargs)
        run_id = None
        if takes_run_id:
            run_id = signature.bind_partial(self, *args, **kwargs).arguments.get("run_id")
        _nesting.active = True
        started = time.perf_counter()
        try:
            result = fn(self, *args, **kwargs)
        except BaseException as exc:
            outcome, error_type = _exception_outcome(exc)
            emit(name, self.mode, run_id, outcome, error_type, started, exc)
            raise
        finally:
            _nesting.active = False
        result_outcome, result_error, found = outcome_of(result)
        emit(name, self.mode, run_id or found, result_outcome, result_error, started)
        return result

    return operation


def log_operations(*names: str) -> Callable[[C], C]:
    """Class decorator: wrap each named method (a missing name fails at import, not silently)."""

    def decorate(cls: C) -> C:
        for name in names:
            setattr(cls, name, _wrap(name, getattr(cls, name)))
        return cls

    return decorate
