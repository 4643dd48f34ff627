"""EngineError hierarchy: one root, each error carrying the `error_type` clients see.

Execution errors (engine.md §20) become `WorkflowResponse(status="error")`; request errors
(wire-api.md §2.3) become HTTP errors. `http_status` tells the servers which code to use.
"""

from __future__ import annotations

from typing import Any


class EngineError(Exception):
    """Root of every error the engine raises on purpose."""

    error_type: str = "execution_failed"
    http_status: int = 200

    def __init__(self, message: str, *, details: dict[str, Any] | None = None,
                 error_type: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        if error_type is not None:
            self.error_type = error_type


# ---- execution errors (HTTP 200 with status "error")

class ExecutionError(EngineError):
    """A failure reported as an execution result, not as an HTTP error."""


class StepNotFound(ExecutionError):
    error_type = "step_not_found"


class ModuleNotFound(ExecutionError):
    error_type = "module_not_found"


class ModuleNotRegistered(ExecutionError):
    error_type = "module_not_registered"


class ModuleNotInteractive(ExecutionError):
    error_type = "module_not_interactive"


class UnsupportedModuleType(ExecutionError):
    error_type = "unsupported_module_type"


class ExecutionFailed(ExecutionError):
    error_type = "execution_failed"


class WorkflowInvalid(ExecutionError):
    """Also a request error (400) on production uploads; the server decides."""

    error_type = "workflow_invalid"


class InputValidationFailed(ExecutionError):
    error_type = "input_validation_failed"


class ResolutionFailed(ExecutionError):
    error_type = "resolution_failed"


class InvalidTarget(ExecutionError):
    error_type = "invalid_target"


class Cancelled(ExecutionError):
    error_type = "cancelled"


class DeadlineExceeded(ExecutionError):
    """The operation ran past `WFE_OPERATION_DEADLINE_S` and stopped at a module boundary; what
    it wrote is valid progress and a later operation continues from the cursor."""

    error_type = "deadline_exceeded"


class InternalError(ExecutionError):
    """An unexpected exception inside an operation, recorded on the run instead of stranding it."""

    error_type = "internal_error"


class ModuleExecutionError(ExecutionError):
    """Raised by modules for expected failures (MOD-core-2)."""

    def __init__(self, message: str, error_type: str = "execution_failed",
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details=details, error_type=error_type)


# ---- request errors (non-2xx)

class RequestError(EngineError):
    http_status = 400
    error_type = "bad_request"


class BadRequest(RequestError):
    http_status = 400
    error_type = "bad_request"


class NotFound(RequestError):
    http_status = 404
    error_type = "not_found"


class InteractionNotFound(NotFound):
    error_type = "interaction_not_found"


class Conflict(RequestError):
    http_status = 409
    error_type = "conflict"


class InteractionNotPending(Conflict):
    error_type = "interaction_not_pending"


class InteractionAlreadyAnswered(Conflict):
    error_type = "interaction_already_answered"


class ConcurrentModification(Conflict):
    error_type = "concurrent_modification"


class WorkflowTooLarge(RequestError):
    """A workflow over a step or module cap (`WFE_WORKFLOW_MAX_STEPS`/`_MODULES`); refused
    before anything is stored or executed."""

    http_status = 413
    error_type = "workflow_too_large"


class MockNotAllowed(RequestError):
    error_type = "mock_not_allowed"


class Overloaded(RequestError):
    http_status = 503
    error_type = "overloaded"


class RequestTimeout(RequestError):
    """An admitted request whose body did not arrive in time (it was holding a pool slot)."""

    http_status = 408
    error_type = "request_timeout"


class StoreUnavailable(RequestError):
    """The database did not answer in time (HTTP 503)."""

    http_status = 503
    error_type = "store_unavailable"


class MockTaintedState(RequestError):
    error_type = "mock_tainted_state"


class InvalidVirtualDb(RequestError):
    """The virtual blob cannot be decoded or fails validation (BLOB-3..6)."""

    http_status = 400
    error_type = "invalid_virtual_db"


class VirtualDbTooLarge(RequestError):
    """The virtual blob is over a size limit on input or would be on output (BLOB-4/5, VS-7)."""

    http_status = 413
    error_type = "virtual_db_too_large"


class SettingsError(EngineError, ValueError):
    """A server setting is missing or invalid; the message names the variable (GEN-10)."""

    error_type = "invalid_settings"
